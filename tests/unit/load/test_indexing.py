"""Index memory sizing."""

from __future__ import annotations

from vectorops.load import index_kinds, indexing
from vectorops.load.indexing import OPCLASS, estimate_hnsw_mb, maintenance_mem_mb


def test_estimate_grows_with_rows_dims_and_m() -> None:
    base = estimate_hnsw_mb(100_000, 384, 16)
    assert 150 < base < 400
    assert estimate_hnsw_mb(200_000, 384, 16) > 1.9 * base
    assert estimate_hnsw_mb(100_000, 768, 16) > base
    assert estimate_hnsw_mb(100_000, 384, 32) > base


def test_maintenance_memory_is_clamped() -> None:
    assert maintenance_mem_mb(10, 3, 16, 4096) == 64
    assert maintenance_mem_mb(10_000_000, 1536, 16, 4096) == 4096


def test_every_chroma_space_has_an_opclass() -> None:
    assert OPCLASS == {"l2": "vector_l2_ops", "cosine": "vector_cosine_ops", "ip": "vector_ip_ops"}


def test_an_ivfflat_build_gets_the_memory_pgvectors_k_means_asks_for() -> None:
    # measured: 1,000,000 × 384 with 1,000 lists, pgvector 0.8.6 refused "memory required is 273 MB,
    # maintenance_work_mem is 107 MB"
    lists = index_kinds.ivfflat_lists(1_000_000)
    assert lists == 1000
    assert 273 <= indexing.estimate_ivfflat_mb(1_000_000, 384, lists) < 320
    # pgvector makes room for max(lists × 50, 10,000) samples whatever the table holds: 100,000 × 1536 with 100
    # lists asks for 65 MB (more than the 64 MB floor), not the 42 MB its 5,000 samples take
    assert indexing.estimate_ivfflat_mb(100_000, 1536, 100) >= 65
    assert indexing.estimate_ivfflat_mb(1_000, 384, 1) < indexing.IVFFLAT_MIN_MEM_MB
    # halfvec samples are half the bytes
    assert indexing.estimate_ivfflat_mb(1_000_000, 3072, lists, 2) < indexing.estimate_ivfflat_mb(
        1_000_000, 3072, lists)
