"""Chroma's HNSW M / construction_ef mapped onto what pgvector builds (issue 26): m 2..100, ef_construction
4..1000 and at least 2 * m."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vectorops.load import hnsw_params, index_kinds
from vectorops.load.hnsw_params import HnswParams, pgvector_hnsw


@pytest.mark.parametrize(("m", "ef", "built"), [
    (2, 100, (2, 100)),
    (16, 100, (16, 100)),  # Chroma's defaults are built as they are
    (50, 100, (50, 100)),  # 2 * 50 = 100: just enough
    (51, 100, (51, 102)),  # the first M Chroma's default construction_ef is too small for
    (64, 100, (64, 128)),
    (100, 100, (100, 200)),
    (101, 100, (100, 200)),  # pgvector's m is at most 100
    (128, 100, (100, 200)),  # the M Chroma's own tests use
    (128, 300, (100, 300)),  # a construction_ef above 2 * m stays
    (64, 200, (64, 200)),
    (1, 100, (2, 100)),  # Chroma takes M 1; pgvector's least m is 2
    (1, 1, (2, 4)),  # and construction_ef 1; pgvector's least ef_construction is 4
    (16, 3, (16, 32)),
    (16, 5000, (16, 1000)),  # pgvector's ef_construction is at most 1,000
    (5000, 5000, (100, 1000)),
])
def test_the_mapping(m: int, ef: int, built: tuple[int, int]) -> None:
    params = pgvector_hnsw(m, ef)
    assert (params.m, params.ef_construction) == built
    assert (params.source_m, params.source_ef_construction) == (m, ef)
    assert params.adjusted == (built != (m, ef))
    assert (params.note() is None) == (not params.adjusted)


def test_none_takes_chromas_defaults() -> None:
    assert pgvector_hnsw(None, None) == HnswParams(16, 100, 16, 100)
    assert pgvector_hnsw(64, None) == HnswParams(64, 100, 64, 128)
    assert pgvector_hnsw(None, 20) == HnswParams(16, 20, 16, 32)


def test_the_note_says_what_is_built_and_why() -> None:
    assert pgvector_hnsw(64, 100).note() == ("HNSW M 64, construction_ef 100 (the source's) built as m 64, "
                                             "ef_construction 128: pgvector needs ef_construction of at least 2 * m")
    assert pgvector_hnsw(128, 100).note() == (
        "HNSW M 128, construction_ef 100 (the source's) built as m 100, ef_construction 200: pgvector's m is at "
        "most 100; pgvector needs ef_construction of at least 2 * m")
    assert pgvector_hnsw(128, 400).reasons() == ["pgvector's m is at most 100"]
    assert pgvector_hnsw(1, 100).reasons() == ["pgvector's m is at least 2"]
    assert pgvector_hnsw(16, 2000).reasons() == ["pgvector's ef_construction is at most 1000"]
    assert pgvector_hnsw(16, 100).reasons() == [] and pgvector_hnsw(16, 100).note() is None


def test_the_hnsw_kinds_are_the_kinds_but_ivfflat() -> None:
    assert set(hnsw_params.HNSW_KINDS) == set(index_kinds.KINDS) - {"ivfflat"}
    assert index_kinds.HNSW_KINDS is hnsw_params.HNSW_KINDS


@given(st.integers(1, 10_000), st.integers(1, 10_000))
def test_pgvector_takes_every_result_and_a_value_it_takes_is_kept(m: int, ef: int) -> None:
    params = pgvector_hnsw(m, ef)
    assert hnsw_params.MIN_M <= params.m <= hnsw_params.MAX_M
    assert hnsw_params.MIN_EF_CONSTRUCTION <= params.ef_construction <= hnsw_params.MAX_EF_CONSTRUCTION
    assert params.ef_construction >= 2 * params.m
    if 2 <= m <= 100 and 2 * m <= ef <= 1000:
        assert not params.adjusted
    assert pgvector_hnsw(params.m, params.ef_construction) == HnswParams(params.m, params.ef_construction,
                                                                         params.m, params.ef_construction)
