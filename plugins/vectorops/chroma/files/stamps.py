"""Stamps of a collection's files: what changes when Chroma writes to it, so a reader can tell its files moved.

The full stamp (:func:`current_stamp`) moves with every write: the HNSW files, both segments' applied log
positions and the collection's newest log record. The HNSW stamp (:func:`hnsw_stamp`) moves only when Chroma
flushes its vector segment, which is what invalidates element positions and the log read after the files.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Protocol

from vectorops.chroma.files.hnsw import SEGMENT_FILES
from vectorops.chroma.files.sqlite_read import applied_position, connect_readonly, newest_logged
from vectorops.errors import FilesUnreadable


class StoreCollection(Protocol):
    """What a stamp reads of a located collection (:class:`vectorops.chroma.files.layout.StoreCollection`)."""

    @property
    def sqlite_path(self) -> Path: ...

    @property
    def segment_dir(self) -> Path: ...

    @property
    def metadata_segment(self) -> str: ...

    @property
    def collection_id(self) -> str: ...


def _file_part(path: Path) -> str:
    try:
        found = path.stat()
    except FileNotFoundError:
        return f"{path.name}:-"
    return f"{path.name}:{found.st_size}:{found.st_mtime_ns}"


def stamp_of(conn: sqlite3.Connection, segment_dir: Path, metadata_segment: str, collection_id: str) -> str:
    """Identity of the segment files (size, modification time) and the applied log positions.

    Two reads of the same unchanged store give the same stamp; any write to the collection changes it.
    """
    parts = [_file_part(segment_dir / n) for n in SEGMENT_FILES]
    applied = [applied_position(conn, s) for s in sorted((segment_dir.name, metadata_segment))]
    newest = newest_logged(conn, collection_id)
    return hashlib.sha256(json.dumps([parts, applied, newest]).encode()).hexdigest()[:32]


def _hnsw_stamp(conn: sqlite3.Connection, segment_dir: Path) -> str:
    """Identity of the HNSW files alone (size, modification time, applied log position): it moves when Chroma
    flushes its vector segment, not with every write to the log."""
    parts = [_file_part(segment_dir / n) for n in SEGMENT_FILES]
    return hashlib.sha256(json.dumps([parts, applied_position(conn, segment_dir.name)]).encode()).hexdigest()[:32]


def current_stamp(collection: StoreCollection) -> str:
    """The stamp the collection's files have now; differs from ``collection.stamp`` after any write."""
    try:
        conn = connect_readonly(collection.sqlite_path)
    except sqlite3.Error:
        return "unreadable"
    try:
        return stamp_of(conn, collection.segment_dir, collection.metadata_segment, collection.collection_id)
    except (OSError, sqlite3.Error, FilesUnreadable):
        return "unreadable"
    finally:
        conn.close()


def hnsw_stamp(collection: StoreCollection) -> str:
    """The stamp of the collection's HNSW files now: unchanged while records read at their element positions and
    the log written after those files stay valid (a flush changes it; a write to the log does not)."""
    try:
        conn = connect_readonly(collection.sqlite_path)
    except sqlite3.Error:
        return "unreadable"
    try:
        return _hnsw_stamp(conn, collection.segment_dir)
    except (OSError, sqlite3.Error, FilesUnreadable):
        return "unreadable"
    finally:
        conn.close()
