"""The manifest of one backup: its files with their sha256, and what the database held when it was taken."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: the server's roles, their attributes and memberships, without passwords (``pg_dumpall --roles-only``)
ROLES = "roles.sql"
DUMP = "vectors.dump"
CHROMA = "chroma.tar.gz"


@dataclass(frozen=True)
class TableCheck:
    """What one table held in the backup's snapshot.

    Vector tables (those in ``vectorops.collection_registry``) carry a checksum and one fixed exact top-10 query;
    every other dumped table carries its row count only.

    :param schema: the table's schema.
    :param table: its name.
    :param rows: its row count.
    :param sha256: :func:`vectorops.quality.parity.table_checksum` of a vector table, else ``None``.
    :param collection: the registry's collection of a vector table.
    :param distance: its space, ``l2`` | ``cosine`` | ``ip``.
    :param query_id: the id whose embedding is the fixed query (the smallest id with an embedding).
    :param query_vector: that embedding.
    :param top10: the ids of the exact top-10 for the query, nearest first.
    """

    schema: str
    table: str
    rows: int
    sha256: str | None = None
    collection: str | None = None
    distance: str | None = None
    query_id: str | None = None
    query_vector: list[float] | None = None
    top10: list[str] | None = None

    @property
    def name(self) -> str:
        """``schema.table``."""
        return f"{self.schema}.{self.table}"


@dataclass(frozen=True)
class FileEntry:
    """One file of the backup: its name in the backup directory, size and sha256."""

    name: str
    bytes: int
    sha256: str


@dataclass
class Manifest:
    """Everything needed to check a backup without the database it came from.

    :param backup_id: the backup's id (its directory name).
    :param created_at: ISO time of the snapshot.
    :param database: the source database's name.
    :param server_version: ``server_version`` of the source.
    :param schemas: the dumped schemas.
    :param snapshot: the exported snapshot the dump and the checks share.
    :param tables: one :class:`TableCheck` per dumped table.
    :param files: the backup's files by name.
    :param missing_tables: registry tables that did not exist when the backup was taken.
    :param chroma_path: the Chroma directory archived, when one was.
    :param wal_lsn: the server's WAL insert position read in the snapshot: a recovery to it holds what the snapshot
        saw, plus any transaction that committed in the instant between the two (the recovery drill tells which).
    :param snapshot_xids: the snapshot as ``pg_current_snapshot()`` shows it (``xmin:xmax:xip,...``).
    """

    backup_id: str
    created_at: str
    database: str
    server_version: str
    schemas: list[str]
    snapshot: str
    tables: list[TableCheck]
    files: dict[str, FileEntry] = field(default_factory=dict)
    missing_tables: list[str] = field(default_factory=list)
    chroma_path: str | None = None
    wal_lsn: str | None = None
    snapshot_xids: str | None = None
    format_version: int = FORMAT_VERSION

    @property
    def vector_tables(self) -> list[TableCheck]:
        """The tables with a checksum."""
        return [t for t in self.tables if t.sha256 is not None]

    @property
    def total_rows(self) -> int:
        """Rows of the vector tables."""
        return sum(t.rows for t in self.vector_tables)

    def to_json(self) -> str:
        """The manifest as stable, indented JSON."""
        return json.dumps(asdict(self), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def sha256_file(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks.

    :param path: the file.
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def file_entry(path: Path) -> FileEntry:
    """A :class:`FileEntry` for ``path``, named by its file name.

    :param path: a file in a backup directory.
    """
    return FileEntry(path.name, path.stat().st_size, sha256_file(path))


def write_private(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` with mode 0600, through a private temporary file replaced atomically.

    :param path: the file.
    :param data: its content.
    :return: ``path``.
    """
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a partial file left by an older run keeps its mode through O_CREAT
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    partial.replace(path)
    return path


def write_manifest(manifest: Manifest, directory: Path) -> Path:
    """Write ``manifest.json`` into ``directory`` (mode 0600, atomically, through a temporary file).

    :param manifest: the manifest.
    :param directory: the backup directory.
    :return: the manifest's path.
    """
    return write_private(directory / MANIFEST, manifest.to_json().encode("utf-8"))


def read_manifest(path: Path) -> Manifest:
    """Read a manifest written by :func:`write_manifest`.

    :param path: the ``manifest.json`` file.
    :raises ValueError: naming the file when it is missing, not JSON, or not a vectorops backup manifest.
    """
    try:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        tables = [TableCheck(**t) for t in raw.pop("tables")]
        files = {name: FileEntry(**entry) for name, entry in raw.pop("files").items()}
        manifest = Manifest(tables=tables, files=files, **raw)
    except FileNotFoundError as exc:
        raise ValueError(f"backup manifest {path} does not exist") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"backup manifest {path} is not a readable vectorops manifest: {exc}") from exc
    if manifest.format_version != FORMAT_VERSION:
        raise ValueError(f"backup manifest {path} has format {manifest.format_version}; "
                         f"this vectorops reads format {FORMAT_VERSION}")
    return manifest


def resolve_manifest(backup: Path) -> Path:
    """The manifest of the backup named by ``backup``: its directory, its manifest or its dump file.

    :param backup: what the user passed as ``--backup``.
    :raises ValueError: naming the path when no manifest is found there.
    """
    backup = backup.expanduser()
    if backup.is_dir():
        candidate = backup / MANIFEST
    elif backup.name == MANIFEST:
        candidate = backup
    else:
        candidate = backup.parent / MANIFEST
    if not candidate.is_file():
        raise ValueError(f"no backup manifest for {backup}: expected {candidate} (pass a backup directory, "
                         f"its {MANIFEST} or its {DUMP})")
    return candidate.resolve()
