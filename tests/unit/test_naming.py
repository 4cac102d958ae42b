"""Table names from collection names: deterministic, safe, unique."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import EDGE_COLLECTION_NAMES, chroma_names, colliding_chroma_names
from vectorops.migration.promotion import INDEX_SUFFIXES
from vectorops.naming import check_schema_name, previous_name, shadow_name, table_name_for


def test_plain_names_are_kept_and_others_are_folded_with_a_hash() -> None:
    assert table_name_for("docs") == "docs"
    assert table_name_for("select") == "select"
    assert re.fullmatch(r"my_collection_v2_[0-9a-f]{16}", table_name_for("My-Collection.v2"))


@pytest.mark.parametrize("pair", [("a-b", "a_b"), ("A_B", "a_b"), ("x.y", "x-y"), ("docs__prev", "docs"),
                                  ("abc_deadbeef", "abc-deadbeef"),
                                  ("abc_0123456789abcdef", "abc-0123456789abcdef"), ("docs", "docs_pkey"),
                                  ("docs", "docs_hnsw"),
                                  ("select", "SELECT"), ("a" * 512, "A" * 512), ("docs", "docs\n")])
def test_names_that_fold_alike_do_not_collide(pair: tuple[str, str]) -> None:
    assert table_name_for(pair[0]) != table_name_for(pair[1])


def test_hashed_names_carry_16_hex_digits_and_plain_names_with_a_hashed_tail_are_hashed() -> None:
    # 16 hex digits (64 bits): 8 could be matched by trying names for about a second
    assert re.fullmatch(r"c_123_[0-9a-f]{16}", table_name_for("123"))
    assert re.fullmatch(r"z{24}_[0-9a-f]{16}", table_name_for("Z" * 512))
    # a plain name that looks like a hashed name of either release (8 digits: tables of older installs) is hashed
    for plain in ("abc_deadbeef", "abc_0123456789abcdef"):
        assert re.fullmatch(r"abc_[0-9a-f]{8,16}_[0-9a-f]{16}", table_name_for(plain)), plain
    assert table_name_for("abc_0123456") == "abc_0123456"  # 7 digits are no hashed tail


def test_suffixes_fit_postgres_identifier_limit() -> None:
    longest = table_name_for("Z" * 512)
    assert len(longest) <= 41
    assert len(shadow_name(longest, "0123abcd") + "_pkey") <= 63
    assert len(previous_name(longest) + "_hnsw") <= 63


@settings(max_examples=300, deadline=None)
@given(st.lists(chroma_names(), min_size=2, max_size=30, unique=True))
def test_mapping_is_injective_safe_and_stable(names: list[str]) -> None:
    tables = [table_name_for(n) for n in names]
    assert len(set(tables)) == len(tables)
    for name, table in zip(names, tables, strict=True):
        assert re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", table), (name, table)
        assert table_name_for(name) == table
        assert "__" not in table


def _objects(table: str) -> set[str]:
    """Every relation a migration of a collection creates in the target schema, under any name it goes by."""
    tables = {table, previous_name(table), shadow_name(table, "0123abcd"), shadow_name(table, "ffffffff")}
    return tables | {t + suffix for t in tables for suffix in INDEX_SUFFIXES}


def _assert_distinct_objects(names: list[str]) -> None:
    owner: dict[str, str] = {}
    for name in names:
        for relation in _objects(table_name_for(name)):
            assert len(relation.encode()) <= 63, (name, relation)
            assert owner.setdefault(relation, name) == name, f"{relation!r} of {name!r} and of {owner[relation]!r}"


@settings(max_examples=300, deadline=None)
@given(colliding_chroma_names())
def test_objects_of_different_collections_never_share_a_name(names: list[str]) -> None:
    _assert_distinct_objects(names)


def test_edge_names_map_to_distinct_objects() -> None:
    _assert_distinct_objects(list(EDGE_COLLECTION_NAMES))


@pytest.mark.parametrize("bad", ["", "Vectors", "x; drop table y", "pg_catalog", "vectorops", "1abc", "a" * 64])
def test_unsafe_schema_names_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="target_schema"):
        check_schema_name(bad)
