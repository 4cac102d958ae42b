"""What of Chroma's own tests the conformance suite runs, and the two lists of what it does not run as they are.

``API_SELECTED``: the filter and record tests of ``chromadb/test/test_api.py`` (issue 26, part 1); its other tests
(collection administration, persistence, servers, Chroma's own validators and search expressions) are part 2.

``LEFT_OUT``: tests of the selected modules that need what the store does not offer (a Chroma server, Chroma's
distributed mode, its internals); deselected by name, and reported as deselected.

``REFUSED``: tests where the store refuses on purpose (docs/store.md); each runs, and must fail with exactly the
documented error (``xfail(raises=..., strict=True)``). This list only shrinks.

Keys are ``<module>::<test>``, module being ``test_filtering``, ``test_embeddings`` or ``test_api``.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
from typing import Any

API_SELECTED = (
    # records: add / upsert / update / get / query / delete / count / peek, and their argument checks
    "test_add", "test_add_minimal", "test_get_from_db", "test_get_nearest_neighbors", "test_delete",
    "test_delete_returns_delete_result", "test_delete_with_limit", "test_delete_with_limit_zero_is_noop",
    "test_delete_with_limit_requires_where", "test_delete_with_index", "test_count", "test_peek",
    "test_collection_add_with_invalid_collection_throws", "test_collection_get_with_invalid_collection_throws",
    "test_collection_delete_with_invalid_collection_throws", "test_collection_count_with_invalid_collection_throws",
    "test_collection_peek_with_invalid_collection_throws", "test_collection_query_with_invalid_collection_throws",
    "test_collection_update_with_invalid_collection_throws", "test_collection_upsert_with_invalid_collection_throws",
    "test_metadata_add_get_int_float", "test_metadata_add_query_int_float", "test_metadata_update_get_int_float",
    "test_metadata_validation_add", "test_metadata_validation_update", "test_dimensionality_validation_add",
    "test_dimensionality_validation_query", "test_query_include", "test_get_include", "test_query_order",
    "test_invalid_id", "test_add_large", "test_multiple_collections", "test_update_query",
    "test_get_nearest_neighbors_where_n_results_more_than_element", "test_invalid_n_results_param", "test_upsert",
    "test_invalid_embeddings", "test_dimensionality_exception_update", "test_dimensionality_exception_upsert",
    # filters: where, where_document, ids, array metadata
    "test_metadata_get_where_string", "test_metadata_get_where_int", "test_metadata_get_where_float",
    "test_where_validation_get", "test_where_validation_query", "test_where_lt", "test_where_lte", "test_where_gt",
    "test_where_gte", "test_where_ne_string", "test_where_ne_eq_number", "test_where_valid_operators",
    "test_query_document_valid_operators", "test_get_where_document", "test_query_where_document",
    "test_delete_where_document", "test_where_logical_operators", "test_where_document_logical_operators",
    "test_query_id_filtering_small_dataset", "test_query_id_filtering_medium_dataset", "test_query_id_filtering_e2e",
    "test_array_metadata_e2e", "test_array_metadata_int_contains_e2e", "test_array_metadata_update_e2e",
    "test_array_metadata_mixed_with_scalar_e2e", "test_metadata_type_change_scalar_to_array_e2e",
    "test_metadata_type_change_array_to_scalar_e2e", "test_metadata_type_change_via_upsert_e2e",
    "test_metadata_rapid_type_flip_e2e", "test_metadata_mixed_simultaneous_type_changes_e2e",
    "test_metadata_delete_after_type_change_e2e",
)

_DISTRIBUTED = "Chroma's Search API (collection.search), offered by distributed Chroma only (the test skips itself "\
    "outside it); the store serves the collection API"
_VALIDATOR = "calls Chroma's own client-side validators (validate_embeddings) with no client: nothing of the store runs"

LEFT_OUT: dict[str, str] = {
    "test_filtering::test_filterable_metadata_search": _DISTRIBUTED,
    "test_filtering::test_filterable_metadata_query_via_search": _DISTRIBUTED,
    "test_embeddings::test_embeddings_state_with_search": _DISTRIBUTED,
    "test_embeddings::test_autocasting_validate_embeddings_for_compatible_types": _VALIDATOR,
    "test_embeddings::test_autocasting_validate_embeddings_with_ndarray": _VALIDATOR,
    "test_embeddings::test_autocasting_validate_embeddings_incompatible_types": _VALIDATOR,
    "test_embeddings::test_0dim_embedding_validation": _VALIDATOR,
}

# <module>::<test> -> (the documented error's class, where it is documented and why)
REFUSED: dict[str, tuple[type[BaseException], str]] = {
    # `assert exc.type == TypeError` / `== ValueError`: the store raises its own classes, which subclass Chroma's
    # (InvalidArgumentType is a TypeError, InvalidArgument a ValueError), so only the exact-class comparison fails;
    # the messages are Chroma's (tests/store/test_conformance_fixes.py).
    "test_api::test_invalid_n_results_param": (
        AssertionError, "docs/store.md, 'Arguments and errors as Chroma's': the store's exceptions are its own "
        "classes that subclass Chroma's, so `exc.type == TypeError` is never true"),
}


def chroma_tests(module: ModuleType, names: Iterable[str] | None = None) -> dict[str, Any]:
    """The test functions of one of Chroma's test modules (those of ``names`` only, when given), as they are: the
    module that imports them runs them, with the fixtures of this directory's conftest."""
    wanted = set(names) if names is not None else None
    found = {name: value for name, value in vars(module).items()
             if name.startswith("test_") and callable(value) and (wanted is None or name in wanted)}
    missing = (wanted or set()) - set(found)
    if missing:
        raise LookupError(f"{module.__name__} has no test {', '.join(sorted(missing))}: chromadb changed")
    return found
