"""Chroma's ``chromadb/test/property/test_filtering.py``, unmodified, on the store (``client`` from conftest)."""

from chromadb.test.property import test_filtering

from tests.conformance.scope import chroma_tests

globals().update(chroma_tests(test_filtering))
