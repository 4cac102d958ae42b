"""Check a local Chroma store before Chroma's client opens it, and so before any migration step reads it.

Chroma's own client is no judge of a store: given a directory that holds none, it creates one there; given a store
of an older Chroma, it upgrades it in place; given a store of a newer one, it reads what it understands; and while
another process holds a write lock on ``chroma.sqlite3``, it waits forever. :func:`check_local_store` looks first,
read-only, and raises :class:`SourceError` naming the path and what is wrong, so a bad source fails before
anything is written, on either side.

The store's schema version is the set of migrations Chroma recorded in its ``migrations`` table. Every set a
chromadb from 0.4 to 1.5.9 writes is accepted (:mod:`vectorops.chroma.files.versions`: the files reader reads them all);
a migration past :data:`KNOWN_MIGRATIONS` means a newer Chroma, and is refused. ``tests/faults`` checks
:data:`KNOWN_MIGRATIONS` against a store the installed chromadb writes.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from vectorops.chroma.files.versions import KNOWN_MIGRATIONS, release_of
from vectorops.errors import SourceError, StoreUnusable

#: how long a check waits for another process's lock on ``chroma.sqlite3`` before it says the store is locked
LOCK_WAIT_S = 5.0
SQLITE_MAGIC = b"SQLite format 3\x00"
SQLITE_FILE = "chroma.sqlite3"

log = logging.getLogger(__name__)


_KEY_SUFFIX = re.compile(r"@[0-9a-f]{8}$")
DEFAULT_TENANT = "default_tenant"
DEFAULT_DATABASE = "default_database"


@dataclass(frozen=True, order=True)
class CollectionRef:
    """A collection's identity within its store: tenant, database and name.

    Chroma names hold no ``/`` (``[a-zA-Z0-9._-]``), so :attr:`label` reads back unambiguously.
    """

    tenant: str
    database: str
    name: str

    @property
    def is_default(self) -> bool:
        """In Chroma's default tenant and database."""
        return self.tenant == DEFAULT_TENANT and self.database == DEFAULT_DATABASE

    @property
    def label(self) -> str:
        """``name`` in the default tenant and database, else ``tenant/database/name``."""
        return self.name if self.is_default else self.path

    @property
    def path(self) -> str:
        """``tenant/database/name``, always."""
        return f"{self.tenant}/{self.database}/{self.name}"

    @classmethod
    def parse(cls, label: str) -> CollectionRef:
        """The ref a :attr:`label` (or a :attr:`path`) names: a bare name is in the default tenant and database.

        A platform key (``label@<8 hex digits>``, the key of a collection whose label another store's collection
        had first; :func:`vectorops.migration.target.collection_key_for`) names the same ref: no Chroma name holds
        ``@``.
        """
        label = _KEY_SUFFIX.sub("", label)
        if "/" not in label:
            return cls(DEFAULT_TENANT, DEFAULT_DATABASE, label)
        parts = label.rsplit("/", 2)
        if len(parts) != 3 or not all(parts):
            raise SourceError(f"collection {label!r} is neither a name nor tenant/database/name")
        return cls(*parts)



@dataclass(frozen=True)
class SourceSpec:
    """Where the Chroma store is: a PersistentClient path, or an HTTP server.

    Holds nothing secret: it travels in plans (XCom). A server's credentials and CA bundle stay in the Airflow
    connection ``conn_id`` and are read when a client is opened (:mod:`vectorops.chroma.server`).

    :param ssl: the server speaks HTTPS.
    :param tenant: a server's tenant to read (``None``: ``default_tenant``).
    :param database: a server's one database to read (``None``: every database of the tenant).
    """

    path: str | None = None
    host: str | None = None
    port: int = 8000
    conn_id: str | None = None
    ssl: bool = False
    tenant: str | None = None
    database: str | None = None

    @property
    def uri(self) -> str:
        """A stable description of the source, used in fingerprints and the registry."""
        if self.host:
            return f"chroma+http{'s' if self.ssl else ''}://{self.host}:{self.port}"
        return f"chroma+file://{Path(self.path or '').resolve()}"


def as_ref(collection: CollectionRef | str) -> CollectionRef:
    """``collection`` as a ref: a label (``name`` or ``tenant/database/name``) is parsed."""
    return collection if isinstance(collection, CollectionRef) else CollectionRef.parse(collection)



def chromadb_version() -> str:
    """The installed chromadb's version, for messages."""
    try:
        return metadata.version("chromadb")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def check_local_store(path: str | None, thorough: bool = False) -> Path:
    """:func:`check_store` for a source's path.

    :return: the store's path.
    :raises SourceError: naming the path and what is wrong with it.
    """
    if not path:
        raise SourceError("no Chroma source: set chroma_path (or CHROMA_DB_PATH), or a Chroma host")
    try:
        check_store(Path(path), thorough=thorough)
    except StoreUnusable as exc:
        raise SourceError(f"Chroma path {path!r} {exc}") from exc
    return Path(path)


def check_store(path: Path, thorough: bool = False) -> None:
    """Check that ``path`` is a Chroma store this package can read, without writing to it.

    :param thorough: also run SQLite's ``quick_check`` over every page (seconds per GB: 8.6 s for the 0.9 GB of a
        1M × 384 store on a busy 2-core machine), so a damaged page fails here, before the migration writes
        anything, instead of half-way through the load.
    Only reads: a connection in ``mode=ro``, which waits up to :data:`LOCK_WAIT_S` for the shared lock every read
    takes. A writer mid-transaction (a RESERVED lock) does not stop readers, and the store is read as it was at its
    last commit; a writer committing (a PENDING or EXCLUSIVE lock) for longer than that makes the store locked.

    :raises StoreUnusable: naming what is wrong: no such path, not a store, a corrupt, truncated or locked
        ``chroma.sqlite3``, or a store written by a newer Chroma than this package knows.
    """
    if not path.exists():
        raise StoreUnusable("does not exist")
    if path.is_file():
        hint = ": give the directory that holds it" if path.name == SQLITE_FILE else ""
        raise StoreUnusable(f"is a file, not a Chroma store directory{hint}")
    if not path.is_dir():
        raise StoreUnusable("is not a directory")
    database = path / SQLITE_FILE
    if not database.exists():
        entries = sorted(p.name for p in path.iterdir())
        found = (f"it holds {', '.join(entries[:5])}{', ...' if len(entries) > 5 else ''}" if entries
                 else "it is empty")
        raise StoreUnusable(f"is not a Chroma store: it has no {SQLITE_FILE} ({found})")
    if not database.is_file():
        raise StoreUnusable(f"is not a Chroma store: its {SQLITE_FILE} is not a file")
    _check_header(database)
    try:
        conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True, timeout=LOCK_WAIT_S)
    except sqlite3.Error as exc:
        raise StoreUnusable(f"has a {SQLITE_FILE} that cannot be opened read-only: {exc}") from exc
    try:
        _check_migrations(conn)
        if thorough and _checked_pages.get(database) != (stamp := _file_stamp(database)):
            problems = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                raise StoreUnusable(f"has a corrupt {SQLITE_FILE}: {'; '.join(problems)}")
            _checked_pages[database] = stamp
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            raise StoreUnusable(_locked(str(exc))) from exc
        raise StoreUnusable(f"has an unreadable {SQLITE_FILE}: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise StoreUnusable(f"has a corrupt {SQLITE_FILE}: {exc}") from exc
    finally:
        conn.close()


#: the stores whose every page this process checked, with the file stamps they had then: ``vectorops migrate`` checks
#: the store before its run starts and the run's first task checks it again in the same process (17 s at 1M × 384)
_checked_pages: dict[Path, tuple[tuple[int, ...], ...]] = {}


def _file_stamp(database: Path) -> tuple[tuple[int, ...], ...]:
    """Inode, size, modification and change time of the database and its write-ahead log.

    Any write changes the change time, which no copy or restore can set back (a modification time can be);
    a file replaced by another has another inode.
    """
    found: list[tuple[int, ...]] = []
    for file in (database, database.with_name(database.name + "-wal")):
        try:
            stat = file.stat()
        except FileNotFoundError:
            found.append(())
            continue
        found.append((stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns))
    return tuple(found)


def _check_header(database: Path) -> None:
    """The SQLite header: magic bytes, and a file as long as the page count it declares (else truncated)."""
    size = database.stat().st_size
    if size == 0:
        raise StoreUnusable(f"is not a Chroma store: its {SQLITE_FILE} is empty (0 bytes)")
    with database.open("rb") as handle:
        header = handle.read(100)
    if not header.startswith(SQLITE_MAGIC):
        raise StoreUnusable(f"has a {SQLITE_FILE} that is not an SQLite database (corrupt, or another kind of file)")
    if len(header) < 100:
        raise StoreUnusable(f"has a truncated {SQLITE_FILE}: {size} bytes, shorter than the SQLite header")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # the page count in the header is only valid when the change counter matches "version valid for"
    if header[24:28] == header[92:96] and size < pages * page_size:
        raise StoreUnusable(f"has a truncated {SQLITE_FILE}: its header declares {pages} pages of {page_size} bytes "
                            f"({pages * page_size} bytes), the file has {size}")


def _check_migrations(conn: sqlite3.Connection) -> None:
    """The store's migrations are ones a known Chroma applies: every version from 1 up, none past the newest known."""
    conn.execute("PRAGMA schema_version").fetchone()  # reads the schema: fails here when locked or not a database
    has_table = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'").fetchone()
    if has_table is None:
        raise StoreUnusable(f"is not a Chroma store: its {SQLITE_FILE} has no migrations table")
    applied = {(d, int(v)): f for d, v, f in conn.execute("SELECT dir, version, filename FROM migrations")}
    unknown = sorted((d, v) for d, v in applied if v > KNOWN_MIGRATIONS.get(d, 0))
    if unknown:
        listed = ", ".join(f"{d} {v} ({applied[(d, v)]})" for d, v in unknown)
        raise StoreUnusable(f"was written by a newer Chroma than this vectorops reads (chromadb 0.4 to 1.5.9): its "
                            f"schema has migration(s) {listed} that no chromadb up to 1.5.9 applies; migrate it "
                            "with a vectorops that knows the Chroma that wrote it")
    newest = {d: max(v for k, v in applied if k == d) for d, _ in applied}
    gaps = sorted(f"{d} {v}" for d, top in newest.items() for v in range(1, top + 1) if (d, v) not in applied)
    absent = sorted(set(KNOWN_MIGRATIONS) - set(newest))
    if gaps or absent:
        listed = ", ".join(gaps + [f"every {d} migration" for d in absent])
        raise StoreUnusable(f"has a schema no Chroma writes: its migrations lack {listed} (Chroma applies every "
                            "migration of each kind from 1 up, and all three kinds)")
    log.debug("Chroma store schema: %s (%s)", release_of(newest), newest)


def _locked(detail: str) -> str:
    return (f"has a {SQLITE_FILE} that another process holds locked for writing ({detail}: no read was possible "
            f"for {LOCK_WAIT_S:.0f}s): stop the Chroma client or server that writes to it, or wait for it, then retry")
