"""The typed plans the migration steps hand each other, and their XCom form.

``prepare`` returns a :class:`CollectionPlan`; ``chunk_tasks`` makes one :class:`ChunkJob` per chunk of it. Only the
Airflow glue turns them into XCom (:meth:`CollectionPlan.to_xcom`, a JSON-able dict) and back
(:meth:`CollectionPlan.from_xcom`); everything else reads their fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from vectorops.chroma.preflight import SourceSpec
from vectorops.chroma.source import CollectionInfo
from vectorops.embedding.policy import EmbeddingPlan
from vectorops.load.hnsw_params import HnswParams, kind_note, pgvector_hnsw


@dataclass(frozen=True)
class CollectionPlan:
    """One collection's migration as ``prepare`` planned it.

    :param collection: the collection's key (its label, with its store's suffix when another store took the label).
    :param run_id: the run that prepared it.
    :param attempt_id: the attempt that owns the claim, the staged ids and the shadow table.
    :param schema: the target schema.
    :param table: the table the shadow table is promoted to.
    :param shadow: the shadow table the chunks are loaded into.
    :param source: where the Chroma store is.
    :param batch_size: records per fetch asked of the source (capped by its maximum).
    :param info: what the source said of the collection.
    :param embedding: how its vectors are produced.
    :param chunks: the chunk numbers still to load or loaded, in order.
    :param previous_table: what becomes of a table of the collection in another schema (refuse, keep, drop).
    :param resumed_from_run: the run whose interrupted attempt this one adopted, if any.
    :param index: the index kind to build (:data:`vectorops.load.index_kinds.KINDS`).
    """

    collection: str
    run_id: str
    attempt_id: str
    schema: str
    table: str
    shadow: str
    source: SourceSpec
    batch_size: int
    info: CollectionInfo
    embedding: EmbeddingPlan
    chunks: tuple[int, ...]
    previous_table: str = "refuse"
    resumed_from_run: str | None = None
    index: str = "hnsw"

    @property
    def hnsw(self) -> HnswParams:
        """The source's HNSW ``M`` / ``construction_ef`` and what the index is built with
        (:func:`~vectorops.load.hnsw_params.pgvector_hnsw`)."""
        return pgvector_hnsw(self.info.hnsw_m, self.info.hnsw_ef_construction)

    @property
    def hnsw_note(self) -> str | None:
        """What the index is built with instead of the source's HNSW settings, for an HNSW kind; else ``None``."""
        return kind_note(self.index, self.info.hnsw_m, self.info.hnsw_ef_construction)

    def to_xcom(self) -> dict[str, Any]:
        """The plan as a JSON-able dict; :meth:`from_xcom` gives it back unchanged."""
        return {
            "collection": self.collection, "run_id": self.run_id, "attempt_id": self.attempt_id,
            "schema": self.schema, "table": self.table, "shadow": self.shadow, "source": asdict(self.source),
            "batch_size": self.batch_size, "info": asdict(self.info), "embedding": asdict(self.embedding),
            "chunks": list(self.chunks), "previous_table": self.previous_table,
            "resumed_from_run": self.resumed_from_run, "index": self.index,
        }

    @classmethod
    def from_xcom(cls, value: Mapping[str, Any]) -> CollectionPlan:
        """The plan :meth:`to_xcom` made ``value`` of.

        :param value: the dict, as XCom gives it back.
        """
        return cls(
            collection=value["collection"], run_id=value["run_id"], attempt_id=value["attempt_id"],
            schema=value["schema"], table=value["table"], shadow=value["shadow"],
            source=SourceSpec(**value["source"]), batch_size=int(value["batch_size"]),
            info=CollectionInfo(**value["info"]), embedding=EmbeddingPlan(**value["embedding"]),
            chunks=tuple(int(n) for n in value["chunks"]), previous_table=value["previous_table"],
            resumed_from_run=value["resumed_from_run"], index=value.get("index", "hnsw"),
        )


@dataclass(frozen=True)
class ChunkJob:
    """One chunk of a planned collection: the argument of one mapped load.

    :param plan: the collection's plan.
    :param chunk_no: the chunk.
    """

    plan: CollectionPlan
    chunk_no: int

    @property
    def label(self) -> str:
        """``collection #chunk``, as the mapped task shows it."""
        return f"{self.plan.collection} #{self.chunk_no}"

    def to_xcom(self) -> dict[str, Any]:
        """The job as a JSON-able dict; :meth:`from_xcom` gives it back unchanged."""
        return {"plan": self.plan.to_xcom(), "chunk_no": self.chunk_no}

    @classmethod
    def from_xcom(cls, value: Mapping[str, Any]) -> ChunkJob:
        """The job :meth:`to_xcom` made ``value`` of.

        :param value: the dict, as XCom gives it back.
        """
        return cls(CollectionPlan.from_xcom(value["plan"]), int(value["chunk_no"]))
