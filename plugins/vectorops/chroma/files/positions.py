"""Where a collection's records sit in its HNSW files: the element of ``data_level0.bin`` that holds each id.

The pickle maps ids to hnswlib labels; each element of ``data_level0.bin`` carries its label. A record written
only to the log since the files were flushed has no element yet (:data:`FROM_LOG`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from vectorops.chroma.files.hnsw_pickle import labels_of
from vectorops.chroma.files.layout import PICKLE, StoreCollection
from vectorops.chroma.files.write_log import log_overlay
from vectorops.errors import FilesUnreadable

FROM_LOG = -1  # the staged position of a record whose vector is only in the log


def label_positions(collection: StoreCollection) -> np.ndarray:
    """``positions[label]`` = the element holding that label, or -1; read from ``data_level0.bin`` in blocks."""
    header = collection.header
    assert header is not None  # only called for collections whose files hold records
    labels = np.empty(header.element_count, dtype=np.int64)
    per_block = max(1, (8 << 20) // header.element_bytes)
    with open(collection.segment_dir / "data_level0.bin", "rb") as handle:
        for start in range(0, header.element_count, per_block):
            count = min(per_block, header.element_count - start)
            block = np.frombuffer(handle.read(count * header.element_bytes), dtype=np.uint8)
            rows = block.reshape(count, header.element_bytes)
            labels[start:start + count] = rows[:, header.label_offset:header.label_offset + 8].copy().view("<i8")[:, 0]
    if header.element_count and (labels.min() < 0 or labels.max() > 4 * header.element_count + (1 << 20)):
        raise FilesUnreadable("data_level0.bin holds labels outside the expected range")
    positions = np.full(int(labels.max()) + 1 if header.element_count else 0, -1, dtype=np.int64)
    positions[labels] = np.arange(header.element_count, dtype=np.int64)
    return positions


def positions_of(collection: StoreCollection, ids: Sequence[str]) -> dict[str, int]:
    """The element position of each of ``ids`` the collection holds now (:data:`FROM_LOG` for one only in the
    log); an id the collection no longer holds is absent.

    Costs one streaming pass over the pickle, and a ``pread`` per id when Chroma's labels are still in insertion
    order (a full label map otherwise), so reading a few changed records stays cheap in a large collection.

    :raises FilesUnreadable: when a label has no element.
    """
    overlay = log_overlay(collection)
    wanted = set(ids)
    labels = labels_of(collection.segment_dir / PICKLE, wanted) if collection.in_files else {}
    found: dict[str, int] = {}
    if labels:
        named = list(labels)
        for record_id, position in zip(named, _element_positions(collection, [labels[i] for i in named]),
                                       strict=True):
            found[record_id] = int(position)
    for record_id in wanted:
        if record_id in overlay:
            if overlay[record_id] is None:
                found.pop(record_id, None)  # deleted after the files were written
            elif record_id not in found:
                found[record_id] = FROM_LOG
    return found


def _element_positions(collection: StoreCollection, labels: list[int]) -> np.ndarray:
    """The elements holding ``labels``: Chroma numbers labels from 1 in insertion order, so element ``label - 1``
    is tried first and checked; any miss falls back to the full map of :func:`label_positions`."""
    header = collection.header
    assert header is not None
    size = header.element_bytes
    with open(collection.segment_dir / "data_level0.bin", "rb") as handle:
        descriptor = handle.fileno()
        guesses = []
        for label in labels:
            position = label - 1
            raw = os.pread(descriptor, 8, position * size + header.label_offset) if 0 <= position < \
                header.element_count else b""
            if len(raw) != 8 or int.from_bytes(raw, "little", signed=True) != label:
                return positions_for_labels(label_positions(collection), labels)
            guesses.append(position)
    return np.asarray(guesses, dtype=np.int64)


def positions_for_labels(positions: np.ndarray, labels: list[int]) -> np.ndarray:
    wanted = np.asarray(labels, dtype=np.int64)
    if wanted.size and (wanted.min() < 0 or wanted.max() >= positions.size):
        raise FilesUnreadable("index_metadata.pickle has a label with no element in data_level0.bin")
    found = positions[wanted]
    if found.size and found.min() < 0:
        raise FilesUnreadable("index_metadata.pickle has a label with no element in data_level0.bin")
    return found


