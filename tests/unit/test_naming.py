"""Table names from collection names: deterministic, safe, unique."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorops.naming import check_schema_name, previous_name, shadow_name, table_name_for

CHROMA_NAME = st.from_regex(r"\A[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]\Z", fullmatch=True)


def test_plain_names_are_kept_and_others_are_folded_with_a_hash() -> None:
    assert table_name_for("docs") == "docs"
    assert table_name_for("select") == "select"
    assert re.fullmatch(r"my_collection_v2_[0-9a-f]{8}", table_name_for("My-Collection.v2"))


@pytest.mark.parametrize("pair", [("a-b", "a_b"), ("A_B", "a_b"), ("x.y", "x-y"), ("docs__prev", "docs"),
                                  ("abc_deadbeef", "abc-deadbeef")])
def test_names_that_fold_alike_do_not_collide(pair: tuple[str, str]) -> None:
    assert table_name_for(pair[0]) != table_name_for(pair[1])


def test_suffixes_fit_postgres_identifier_limit() -> None:
    longest = table_name_for("Z" * 512)
    assert len(longest) <= 41
    assert len(shadow_name(longest, "0123abcd") + "_pkey") <= 63
    assert len(previous_name(longest) + "_hnsw") <= 63


@settings(max_examples=300, deadline=None)
@given(st.lists(CHROMA_NAME, min_size=2, max_size=30, unique=True))
def test_mapping_is_injective_safe_and_stable(names: list[str]) -> None:
    tables = [table_name_for(n) for n in names]
    assert len(set(tables)) == len(tables)
    for name, table in zip(names, tables, strict=True):
        assert re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", table), (name, table)
        assert table_name_for(name) == table
        assert "__" not in table


@pytest.mark.parametrize("bad", ["", "Vectors", "x; drop table y", "pg_catalog", "vectorops", "1abc", "a" * 64])
def test_unsafe_schema_names_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="target_schema"):
        check_schema_name(bad)
