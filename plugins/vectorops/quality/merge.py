"""The merge of the two id-sorted streams of a parity pass (the table's and the source's): what it counts.

:func:`vectorops.quality.parity.checksum_parity` drives the merge; this module keeps its tallies.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vectorops.embedding import policy
from vectorops.embedding.policy import EmbeddingPlan
from vectorops.quality.canonical import REEMBEDDED, Row, row_bytes
from vectorops.quality.exact_search import ExactTopK

MODEL_CHECKS = 2000  # re-embedded rows checked against the model, a seeded sample over the whole collection
FIELDS = ("embedding", "document", "metadata", "uri")
SAMPLES = 5


class Tally:
    """A count and the first few ids it counted."""

    def __init__(self) -> None:
        self.count = 0
        self.samples: list[str] = []

    def add(self, record_id: str) -> None:
        """Count ``record_id``.

        :param record_id: the id counted.
        """
        self.count += 1
        if len(self.samples) < SAMPLES:
            self.samples.append(record_id)


@dataclass
class Merge:
    """What the merge of the two sorted streams found."""

    source: Any = field(default_factory=hashlib.sha256)
    table: Any = field(default_factory=hashlib.sha256)
    compared: int = 0
    quarantined: int = 0
    missing: Tally = field(default_factory=Tally)
    extra: Tally = field(default_factory=Tally)
    wrongly_quarantined: Tally = field(default_factory=Tally)
    gone: Tally = field(default_factory=Tally)  # staged ids the source no longer holds (deleted after the read point)
    written_after: Tally = field(default_factory=Tally)  # differing rows whose source was written after it
    written_after_ids: list[str] = field(default_factory=list)  # all of them: the top-10 check leaves them out
    no_vector: Tally = field(default_factory=Tally)
    differing: dict[str, Tally] = field(default_factory=lambda: {f: Tally() for f in FIELDS})
    metadata_lost: int = 0
    reembedded_seen: int = 0
    model_sample: list[tuple[str, str, bytes]] = field(default_factory=list)  # id, document, stored vector
    reembedded_ids: list[str] = field(default_factory=list)  # records mode only: few, and top-10 needs them
    quarantined_ids: list[str] = field(default_factory=list)  # as the source spells them
    rng: random.Random = field(default_factory=lambda: random.Random(0))


class Candidates:
    """Buffers vectors (the source's or the table's) for an :class:`ExactTopK`, so distances are computed a few
    thousand at a time."""

    def __init__(self, top_k: ExactTopK | None, size: int = 4096) -> None:
        self.top_k, self.size = top_k, size
        self.ids: list[str] = []
        self.vectors: list[bytes] = []

    def offer(self, row: Row, new_vector: bool) -> None:
        """Buffer ``row``'s vector, unless it has none or (a source row) the table holds another vector for it."""
        if self.top_k is None or new_vector or not row.vector:
            return
        self.ids.append(row.id)
        self.vectors.append(row.vector)
        if len(self.ids) >= self.size:
            self.flush()

    def flush(self) -> None:
        """Hand the buffered vectors to the top-k."""
        if self.top_k is None or not self.ids:
            return
        matrix = np.frombuffer(b"".join(self.vectors), dtype=">f4").reshape(len(self.ids), -1)
        self.top_k.add(self.ids, matrix.astype(np.float32))
        self.ids, self.vectors = [], []


def take_extra(merge: Merge, baseline: Any, row: Row) -> None:
    """A table row the source does not have.

    :param merge: the merge's tallies.
    :param baseline: the hash of the table as it is.
    :param row: the table's row.
    """
    baseline.update(row_bytes(row))
    merge.table.update(row_bytes(row))
    merge.extra.add(row.id)


def as_hashed(stored: Row, new_vector: bool) -> Row:
    """The table's row as the checksum sees it: a re-embedded vector is hashed as a marker.

    :param stored: the table's row.
    :param new_vector: the table's vector is a re-embedding.
    """
    return Row(stored.id, REEMBEDDED if new_vector else stored.vector, stored.document, stored.metadata, stored.uri)


def compare(merge: Merge, source: Row, stored: Row, new_vector: bool, plan: EmbeddingPlan,
            stored_bytes: bytes | None = None) -> None:
    """Hash both sides of a matched row and count each field that differs.

    :param merge: the merge's tallies.
    :param source: the source's record.
    :param stored: the table's row of the same id.
    :param new_vector: the table's vector is a re-embedding.
    :param plan: the collection's embedding plan.
    :param stored_bytes: ``row_bytes(stored)`` when the caller has it already.
    """
    merge.compared += 1
    if stored_bytes is not None and not new_vector and source == stored:  # every field equal: the same bytes
        merge.source.update(stored_bytes)
        merge.table.update(stored_bytes)
        return
    source_bytes = row_bytes(source)
    hashed = stored_bytes if stored_bytes is not None and not new_vector else row_bytes(
        as_hashed(stored, new_vector))
    merge.source.update(source_bytes)
    merge.table.update(hashed)
    if source_bytes == hashed and not new_vector:  # length-prefixed fields: equal bytes, every field equal
        return
    if new_vector and not stored.vector:
        merge.no_vector.add(stored.id)
    elif new_vector:
        merge.reembedded_seen += 1
        if plan.mode == policy.RECORDS:
            merge.reembedded_ids.append(stored.id)
        # a seeded reservoir sample over the whole collection; the checksum covers the other fields
        entry = (stored.id, str(source.document), stored.vector)
        if len(merge.model_sample) < MODEL_CHECKS:
            merge.model_sample.append(entry)
        else:
            slot = merge.rng.randrange(merge.reembedded_seen)
            if slot < MODEL_CHECKS:
                merge.model_sample[slot] = entry
    elif source.vector != stored.vector:
        merge.differing["embedding"].add(source.id)
    if source.document != stored.document:
        merge.differing["document"].add(source.id)
    if source.metadata != stored.metadata:
        merge.differing["metadata"].add(source.id)
        if stored.metadata is None:
            merge.metadata_lost += 1
    if source.uri != stored.uri:
        merge.differing["uri"].add(source.id)
