"""HNSW build parameters as pgvector takes them (issue 26): Chroma's ``M`` / ``construction_ef`` mapped onto
pgvector's ``m`` / ``ef_construction``.

Chroma 1.5.9 takes any ``hnsw:M`` (``max_neighbors``) and ``hnsw:construction_ef`` (``ef_construction``) of at
least 1; its own tests use M 128. pgvector 0.8's ``hnsw`` takes ``m`` from 2 to 100 and ``ef_construction`` from 4
to 1,000 (``HNSW_MIN_M`` .. ``HNSW_MAX_EF_CONSTRUCTION`` in its ``hnsw.h``), and refuses at build time an
``ef_construction`` below ``2 * m`` ("ef_construction must be greater than or equal to 2 * m"). So:

* ``m = min(max(M, 2), 100)``
* ``ef_construction = min(max(construction_ef, 2 * m), 1000)`` (``2 * m`` is at least 4)

Both the migration (planned before any load, built at finalize) and the store (at ``create_collection``) build with
these, and record the source's values beside them.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the index kinds built as an HNSW graph, which take these parameters (:mod:`vectorops.load.index_kinds`)
HNSW_KINDS = ("hnsw", "hnsw_halfvec", "hnsw_bit_rerank")
MIN_M = 2
MAX_M = 100
MIN_EF_CONSTRUCTION = 4
MAX_EF_CONSTRUCTION = 1000
#: Chroma's defaults when a collection names no M or construction_ef (every release vectorops reads)
CHROMA_DEFAULT_M = 16
CHROMA_DEFAULT_EF_CONSTRUCTION = 100


@dataclass(frozen=True)
class HnswParams:
    """A collection's HNSW build parameters: the source's (Chroma's, or what a store caller asked for) and those the
    pgvector index is built with.

    :param source_m: the source's ``M`` (``max_neighbors``).
    :param source_ef_construction: the source's ``construction_ef`` (``ef_construction``).
    :param m: pgvector's ``m``.
    :param ef_construction: pgvector's ``ef_construction``.
    """

    source_m: int
    source_ef_construction: int
    m: int
    ef_construction: int

    @property
    def adjusted(self) -> bool:
        """Whether the index is built with other values than the source's."""
        return (self.m, self.ef_construction) != (self.source_m, self.source_ef_construction)

    def reasons(self) -> list[str]:
        """Why each value differs from the source's, in pgvector's terms (empty when nothing was adjusted)."""
        why = []
        if self.source_m > MAX_M:
            why.append(f"pgvector's m is at most {MAX_M}")
        elif self.source_m < MIN_M:
            why.append(f"pgvector's m is at least {MIN_M}")
        if self.source_ef_construction > MAX_EF_CONSTRUCTION:
            why.append(f"pgvector's ef_construction is at most {MAX_EF_CONSTRUCTION}")
        elif self.source_ef_construction != self.ef_construction:
            why.append("pgvector needs ef_construction of at least 2 * m")
        return why

    def note(self) -> str | None:
        """One line saying what is built instead of the source's settings and why; ``None`` when they are built as
        they are."""
        if not self.adjusted:
            return None
        return (f"HNSW M {self.source_m}, construction_ef {self.source_ef_construction} (the source's) built as "
                f"m {self.m}, ef_construction {self.ef_construction}: {'; '.join(self.reasons())}")


def pgvector_hnsw(m: int | None, ef_construction: int | None) -> HnswParams:
    """The pgvector build parameters for a collection's HNSW ``M`` and ``construction_ef`` (module docstring).

    :param m: the source's ``M``; ``None``: Chroma's default, 16.
    :param ef_construction: the source's ``construction_ef``; ``None``: Chroma's default, 100.
    """
    source_m = CHROMA_DEFAULT_M if m is None else int(m)
    source_ef = CHROMA_DEFAULT_EF_CONSTRUCTION if ef_construction is None else int(ef_construction)
    built_m = min(max(source_m, MIN_M), MAX_M)
    built_ef = min(max(source_ef, 2 * built_m, MIN_EF_CONSTRUCTION), MAX_EF_CONSTRUCTION)
    return HnswParams(source_m, source_ef, built_m, built_ef)


def kind_note(kind: str, m: int | None, ef_construction: int | None) -> str | None:
    """:meth:`HnswParams.note` of a collection's settings when ``kind`` builds an HNSW graph; else ``None`` (an
    IVFFlat index takes neither).

    :param kind: the index kind (:data:`HNSW_KINDS`, or ``ivfflat``).
    :param m: the source's ``M``.
    :param ef_construction: the source's ``construction_ef``.
    """
    return pgvector_hnsw(m, ef_construction).note() if kind in HNSW_KINDS else None
