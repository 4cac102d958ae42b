"""The filter and record tests of Chroma's ``chromadb/test/test_api.py`` (``scope.API_SELECTED``), unmodified, on
the store (``client`` from conftest)."""

from chromadb.test import test_api

from tests.conformance.scope import API_SELECTED, chroma_tests

globals().update(chroma_tests(test_api, API_SELECTED))
