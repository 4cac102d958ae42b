"""Which reader reads a local collection: its files, located by :mod:`vectorops.chroma.files.reader`, or Chroma's API.

``VECTOROPS_CHROMA_READER`` chooses: ``auto`` (the default: files when possible), ``files`` (fail when the files
cannot be read directly) or ``api``. A collection is located once per process, and again when its files changed.
"""

from __future__ import annotations

import logging
import os
import time
from functools import cache
from pathlib import Path

from vectorops.chroma.files import reader as files_reader
from vectorops.chroma.preflight import CollectionRef, SourceSpec, as_ref
from vectorops.errors import FilesDamaged, FilesSettling, FilesUnreadable, SettingError, SourceError

log = logging.getLogger(__name__)
READER_ENV = "VECTOROPS_CHROMA_READER"
READERS = ("auto", "files", "api")


def reader_setting() -> str:
    """``VECTOROPS_CHROMA_READER``: ``auto`` (default), ``files`` or ``api``.

    :raises SettingError: naming the variable when it holds anything else.
    """
    value = (os.environ.get(READER_ENV) or "auto").strip().lower()
    if value not in READERS:
        raise SettingError(f"{READER_ENV}={value!r} is not one of {', '.join(READERS)}")
    return value


def damaged(spec: SourceSpec, name: CollectionRef | str, problem: Exception) -> SourceError:
    """The error for files in a known layout whose contents do not add up (a rerun reads the same files).

    :param spec: the source.
    :param name: the collection.
    :param problem: what the files reader found.
    """
    return SourceError(f"collection {as_ref(name).label!r} of {spec.uri} cannot be read: {problem}. The store's "
                       f"files look damaged; if Chroma itself reads them, {READER_ENV}=api reads the collection "
                       "through Chroma's API on a private copy")


@cache
def _open_files(path: str, ref: CollectionRef, space: str, check_values: bool) -> files_reader.StoreCollection:
    return files_reader.open_collection(path, ref, space, check_values)


#: collections (path, ref, space) whose values this process scanned
_checked: set[tuple[str, CollectionRef, str]] = set()
#: how long a reader waits for a writer to apply a write it logged (Chroma 1.x applies it within moments)
SETTLE_S = 5.0


def _settled(path: str, ref: CollectionRef, space: str, check_values: bool) -> files_reader.StoreCollection:
    """:func:`_open_files`, asked again while the files are settling (:class:`FilesSettling`)."""
    if check_values and (path, ref, space) in _checked:
        check_values = False
    deadline = time.monotonic() + SETTLE_S
    while True:
        try:
            found = _open_files(path, ref, space, check_values)
        except FilesSettling:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
            continue
        if check_values:
            _checked.add((path, ref, space))
        return found


def locate_files(spec: SourceSpec, name: CollectionRef | str, space: str, staged_stamp: str | None = None
                 ) -> tuple[files_reader.StoreCollection | None, str]:
    """The collection located in the store's files, or ``None`` when it is to be read through the API; and why.

    Located once per process, and again when the files changed since (their stamp differs).

    :param spec: the source.
    :param name: the collection.
    :param space: its distance space.
    :param staged_stamp: the stamp recorded when the ids were staged from these files (their values were
        checked then): the value scan is skipped, and the caller compares the stamps.
    :raises SourceError: when ``VECTOROPS_CHROMA_READER=files`` and the files cannot be read directly.
    """
    ref = as_ref(name)
    mode = reader_setting()
    if spec.host or not spec.path:
        if mode == "files":
            raise SourceError(f"{READER_ENV}=files, but collection {ref.label!r} comes from {spec.uri}, not local "
                              "files")
        return None, f"the source is the server {spec.uri}"
    if mode == "api":
        return None, f"{READER_ENV}=api"
    path = str(Path(spec.path).resolve())
    try:
        found = _settled(path, ref, space, staged_stamp is None)
        if files_reader.current_stamp(found) != found.stamp:  # written since this process located it
            _open_files.cache_clear()
            # its values were scanned when this process first located it: a live store is located again after
            # every write, and Chroma's API writes no value the scan refuses
            found = _settled(path, ref, space, False)
        return found, "vectorops reads this store's files directly"
    except FilesDamaged as exc:
        raise damaged(spec, ref, exc) from None
    except FilesUnreadable as exc:
        if mode == "files":
            raise SourceError(f"{READER_ENV}=files, but collection {ref.label!r} in {spec.path!r} cannot be read "
                              f"from its files: {exc}") from exc
        log.info("collection %r in %s: its files cannot be read directly (%s); reading a private copy through "
                 "Chroma's API", ref.label, spec.path, exc)
        return None, f"its files cannot be read directly ({exc})"


def store_files(spec: SourceSpec, name: CollectionRef | str, space: str,
                staged_stamp: str | None = None) -> files_reader.StoreCollection | None:
    """:func:`locate_files` without the reason.

    :param spec: the source.
    :param name: the collection.
    :param space: its distance space.
    :param staged_stamp: as for :func:`locate_files`.
    """
    return locate_files(spec, name, space, staged_stamp)[0]


def forget_files() -> None:
    """Drop the per-process cache of located collections (after the store was rewritten)."""
    _open_files.cache_clear()
    _checked.clear()
