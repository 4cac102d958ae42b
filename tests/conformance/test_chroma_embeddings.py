"""Chroma's ``chromadb/test/property/test_embeddings.py``, unmodified, on the store (``client`` from conftest)."""

from chromadb.test.property import test_embeddings

from tests.conformance.scope import chroma_tests

globals().update(chroma_tests(test_embeddings))
