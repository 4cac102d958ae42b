"""The files of a Chroma HNSW segment (``<persist dir>/<vector segment id>/``), checked against each other.

Every Chroma from 0.4 to 1.5.9 writes the same hnswlib persistence format, version 1 (chroma-hnswlib 0.7.3 in
0.4, 0.7.6 in 0.5/0.6, and the hnswlib Chroma 1.x builds): ``header.bin`` (100 bytes, ``<iQQQQQQiIQQQdQ``),
``data_level0.bin`` (per element: the level-0 link count and links, the float32 vector, the u64 label),
``length.bin`` (per element: the float32 norm of a cosine vector, which is stored as a unit vector) and
``link_lists.bin``; Chroma adds ``index_metadata.pickle`` (:mod:`vectorops.chroma.files.hnsw_pickle`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from vectorops.errors import FilesDamaged, FilesUnreadable

HEADER_FORMAT = struct.Struct("<iQQQQQQiIQQQdQ")  # chroma-hnswlib 0.7 and Chroma 1.x: persistence version 1
HEADER_VERSION = 1
PICKLE = "index_metadata.pickle"
SEGMENT_FILES = ("header.bin", "data_level0.bin", "length.bin", PICKLE)


@dataclass(frozen=True)
class HnswHeader:
    """The fields of an hnswlib ``header.bin`` (Chroma's persistence format, version 1)."""

    version: int
    offset_level0: int
    max_elements: int
    element_count: int
    element_bytes: int
    label_offset: int
    data_offset: int
    max_level: int
    entry_point: int
    max_m: int
    max_m0: int
    m: int
    mult: float
    ef_construction: int

    @classmethod
    def parse(cls, raw: bytes) -> HnswHeader:
        """Parse ``header.bin``.

        :raises FilesUnreadable: on another size or version.
        """
        if len(raw) != HEADER_FORMAT.size:
            raise FilesDamaged(f"header.bin has {len(raw)} bytes, expected {HEADER_FORMAT.size}")
        header = cls(*HEADER_FORMAT.unpack(raw))
        if header.version != HEADER_VERSION:
            raise FilesUnreadable(f"header.bin is persistence version {header.version}, this reader knows "
                                  f"version {HEADER_VERSION}")
        return header


def checked_header(segment_dir: Path, dimensions: int) -> HnswHeader:
    """The header of the HNSW files in ``segment_dir``, checked against the other files and ``dimensions``.

    :raises FilesUnreadable: when a file is missing or not in the layout the header describes.
    """
    files = [segment_dir / n for n in SEGMENT_FILES]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise FilesDamaged(f"the HNSW segment {segment_dir.name} lacks {', '.join(missing)}")
    header = HnswHeader.parse(files[0].read_bytes())
    expected = (4 + 4 * header.max_m0, 4 + 4 * header.max_m0 + 4 * dimensions,
                4 + 4 * header.max_m0 + 4 * dimensions + 8)
    if (header.offset_level0, header.data_offset, header.label_offset, header.element_bytes) != (0, *expected):
        raise FilesDamaged(f"header.bin describes elements of {header.element_bytes} bytes, not the layout of "
                              f"{dimensions} dimensions")
    # hnswlib may write the whole allocated capacity (max_elements); elements past element_count are never read
    size = files[1].stat().st_size
    capacity = max(header.max_elements, header.element_count)
    if size % header.element_bytes or not header.element_count <= size // header.element_bytes <= capacity:
        raise FilesDamaged(f"data_level0.bin has {size} bytes, not {header.element_count} to {capacity} "
                              f"elements of {header.element_bytes}")
    if files[2].stat().st_size < 4 * header.element_count:
        raise FilesDamaged("length.bin is shorter than the element count")
    return header
