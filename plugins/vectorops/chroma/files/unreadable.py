"""The one error of the files reader (:mod:`vectorops.chroma.files.reader` and the modules it reads with)."""

from __future__ import annotations


class FilesUnreadable(Exception):
    """The store's files are not in a layout this reader knows; the message says which part and why."""


class FilesDamaged(FilesUnreadable):
    """The files are in a layout this reader knows, but do not add up (a file missing, shorter than its header
    says): Chroma's API would read the same damaged files, so nothing falls back to it."""
