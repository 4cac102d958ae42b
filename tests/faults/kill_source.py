"""The Chroma collection the SIGKILL harness migrates, changed between rounds, and what a migration must produce."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tests.support import add_records, chroma_client, chroma_digest

BAD_DOCUMENT = "held\x00back"  # a NUL: PostgreSQL text cannot hold it, so the record is quarantined
QUARANTINE_EVERY = 5000


@dataclass
class Source:
    """A cosine collection of ``rows`` records (every 5,000th quarantined), edited a little every round.

    :param path: the PersistentClient directory.
    :param name: the collection.
    :param dims: vector dimensions.
    :param seed: seed of every random vector.
    """

    path: Path
    name: str
    dims: int
    seed: int
    ids: list[str] = field(default_factory=list)
    quarantined: set[str] = field(default_factory=set)
    version: int = 0

    @classmethod
    def build(cls, path: Path, name: str, rows: int, dims: int = 32, seed: int = 7, m: int = 8,
              ef_construction: int = 48) -> Source:
        """Write a new store at ``path``. A small ``m``/``ef_construction`` keeps the HNSW build quick.

        :param rows: records to write.
        """
        source = cls(path, name, dims, seed)
        col = chroma_client(path).create_collection(name, configuration={"hnsw": {
            "space": "cosine", "max_neighbors": m, "ef_construction": ef_construction}})
        rng = np.random.default_rng(seed)
        source.ids = [f"r{i:07d}" for i in range(rows)]
        documents = [BAD_DOCUMENT if i % QUARANTINE_EVERY == 7 else f"document {i}" for i in range(rows)]
        source.quarantined = {source.ids[i] for i in range(rows) if documents[i] == BAD_DOCUMENT}
        add_records(col, source.ids, rng.standard_normal((rows, dims), dtype=np.float32), documents,
                    [{"i": i, "even": i % 2 == 0} for i in range(rows)])
        return source

    def _collection(self) -> Any:
        return chroma_client(self.path).get_collection(self.name)

    def mutate(self, changes: int = 30) -> None:
        """A new version of the source: ``changes`` records updated, deleted and added each (one added is bad).

        :param changes: records of each kind.
        """
        self.version += 1
        rng = np.random.default_rng(self.seed + self.version)
        col = self._collection()
        picked = rng.choice(len(self.ids), size=2 * changes, replace=False)
        updated = [self.ids[i] for i in picked[:changes]]
        deleted = {self.ids[i] for i in picked[changes:]}
        col.upsert(ids=updated, embeddings=rng.standard_normal((changes, self.dims), dtype=np.float32),
                   documents=[f"document {i} v{self.version}" for i in updated],
                   metadatas=[{"i": i, "version": self.version} for i in updated])
        col.delete(ids=sorted(deleted))
        added = [f"v{self.version:03d}-{j:03d}" for j in range(changes)]
        documents = [BAD_DOCUMENT if j == 0 else f"added in v{self.version}" for j in range(changes)]
        col.add(ids=added, embeddings=rng.standard_normal((changes, self.dims), dtype=np.float32),
                documents=documents, metadatas=[{"version": self.version, "j": j} for j in range(changes)])
        self.quarantined = (self.quarantined - deleted - set(updated)) | {added[0]}
        self.ids = [i for i in self.ids if i not in deleted] + added

    @property
    def count(self) -> int:
        """Records in the source now."""
        return len(self.ids)

    def digest(self) -> tuple[str, int]:
        """sha256 over the sorted records a migration must load (the quarantined ones left out), and their count."""
        return chroma_digest(self.path, self.name, exclude=self.quarantined)
