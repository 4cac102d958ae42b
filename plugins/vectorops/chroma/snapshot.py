"""Private copies of a local Chroma store, for the few reads that need Chroma's own client.

Chroma's client writes to a store when it opens it: it applies its migrations (upgrading an older store in
place), replays the write log into the segments and flushes them. vectorops never opens the client on a user's
directory. Where the API is needed (a layout the files reader does not know, Chroma's own answers for the
migration's cross-check), it opens a copy under ``VECTOROPS_HOME/scratch/chroma-snapshots``, made after checking
the free space, used by this process only and removed when the process is done with it. A copy of a chromadb
0.4–0.6 store is first made readable by the installed client (:mod:`vectorops.chroma.copy_upgrade`).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sqlite3
import threading
from pathlib import Path

from vectorops.chroma import copy_upgrade
from vectorops.chroma.preflight import LOCK_WAIT_S, SQLITE_FILE
from vectorops.errors import FilesUnreadable, SourceChanged, SourceError

log = logging.getLogger(__name__)

#: free space to leave beside a copy, on top of the copy itself
HEADROOM_BYTES = 256 << 20
_lock = threading.Lock()
_copies: dict[str, Path] = {}


def scratch_root() -> Path:
    """Where copies are made: ``VECTOROPS_HOME/scratch/chroma-snapshots`` (default home: ``.vectorops``, as
    :func:`vectorops.config.load_settings` reads it)."""
    home = Path(os.environ.get("VECTOROPS_HOME") or ".vectorops").expanduser().resolve()
    return home / "scratch" / "chroma-snapshots"


def _files_stamp(root: Path) -> list[tuple[str, int, int]]:
    """Every segment file below ``root`` with its size and modification time: equal before and after a copy no
    flush disturbed. ``chroma.sqlite3`` is left out: its backup is consistent by itself, and holds the log from
    the position the segment files were flushed at, so Chroma replays the rest when it opens the copy."""
    return sorted((str(f.relative_to(root)), f.stat().st_size, f.stat().st_mtime_ns)
                  for f in root.rglob("*") if f.is_file() and not f.name.startswith(SQLITE_FILE))


def _copy_store(source: Path, target: Path) -> None:
    """Copy the store: ``chroma.sqlite3`` through SQLite's backup API from a read-only connection (consistent
    while a writer commits) after the segment directories, file by file.

    :raises SourceChanged: when Chroma flushed its segment files while they were copied, three times over.
    """
    for _ in range(3):
        before = _files_stamp(source)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target, symlinks=False, ignore=shutil.ignore_patterns(f"{SQLITE_FILE}*"))
        reader = sqlite3.connect(f"{(source / SQLITE_FILE).as_uri()}?mode=ro", uri=True, timeout=LOCK_WAIT_S)
        writer = sqlite3.connect(target / SQLITE_FILE)
        try:
            reader.backup(writer)
        finally:
            writer.close()
            reader.close()
        if _files_stamp(source) == before:
            return
    shutil.rmtree(target, ignore_errors=True)
    raise SourceChanged(f"Chroma store {str(source)!r} was written each time vectorops copied it; run again once "
                        "its writer is idle")


def store_bytes(path: Path) -> int:
    """The bytes of every file below ``path`` (what a copy takes)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphans(root: Path | None = None) -> list[Path]:
    """Remove copies left by processes that are gone (killed before they could clean up); return them."""
    root = root or scratch_root()
    removed = []
    for entry in root.glob("pid*-*") if root.is_dir() else []:
        pid = entry.name[3:].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def private_copy(path: str | Path) -> Path:
    """A copy of the store at ``path`` that only this process uses (made once, removed at exit).

    :raises SourceError: naming ``VECTOROPS_HOME`` when its disk has no room for the copy.
    """
    source = Path(path).resolve()
    with _lock:
        existing = _copies.get(str(source))
        if existing is not None and existing.is_dir():
            return existing
        root = scratch_root()
        if root.is_relative_to(source) or source.is_relative_to(root):
            raise SourceError(f"VECTOROPS_HOME ({root.parents[1]}) and the Chroma store {str(source)!r} contain one "
                              "another: a private copy would be made inside the store. Point VECTOROPS_HOME elsewhere")
        root.mkdir(parents=True, exist_ok=True)
        remove_orphans(root)
        need = store_bytes(source)
        free = shutil.disk_usage(root).free
        if free < need + HEADROOM_BYTES:
            raise SourceError(f"no room for a private copy of the Chroma store {str(source)!r} ({need / 2**20:.0f} "
                              f"MiB) under VECTOROPS_HOME ({root}: {free / 2**20:.0f} MiB free); free some space or "
                              "point VECTOROPS_HOME at a larger disk")
        target = root / f"pid{os.getpid()}-{len(_copies)}-{source.name}"
        try:
            _copy_store(source, target)
            copy_upgrade.upgrade_copy(target)
        except SourceError:
            shutil.rmtree(target, ignore_errors=True)
            raise
        except (OSError, sqlite3.Error, FilesUnreadable) as exc:
            shutil.rmtree(target, ignore_errors=True)
            raise SourceError(f"Chroma store {str(source)!r}: its private copy at {target} failed: "
                              f"{type(exc).__name__}: {exc}") from None
        _copies[str(source)] = target
        log.info("Chroma store %s: reading a private copy at %s (%.1f MiB) through Chroma's API; the copy is removed "
                 "when this process ends", source, target, need / 2**20)
        return target


def discard(path: str | Path | None = None) -> None:
    """Remove this process's copy of ``path`` (every copy when ``None``)."""
    with _lock:
        keys = [str(Path(path).resolve())] if path is not None else list(_copies)
        for key in keys:
            target = _copies.pop(key, None)
            if target is not None:
                shutil.rmtree(target, ignore_errors=True)


atexit.register(discard)
