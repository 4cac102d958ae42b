"""The HNSW segment files of the real fixture stores, and the same files damaged, checked against each other."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.unit.chroma.files.conftest import VERSIONS
from vectorops.chroma.files.hnsw import HEADER_FORMAT, SEGMENT_FILES, HnswHeader, checked_header
from vectorops.chroma.files.layout import open_collection
from vectorops.errors import FilesDamaged, FilesUnreadable

# (M, ef_construction) each main collection was written with (tests/fixtures/stores/README.md)
PARAMS = {"cos_docs": (12, 80), "l2_docs": (10, 90), "ip_docs": (14, 70)}


def _segment(stores: Path, version: str, name: str) -> Path:
    return open_collection(stores / f"chroma-{version}" / "store", name, "l2").segment_dir


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", sorted(PARAMS))
def test_the_fixture_segments_read_with_their_parameters(stores: Path, version: str, name: str) -> None:
    header = checked_header(_segment(stores, version, name), 16)
    m, ef_construction = PARAMS[name]
    assert (header.version, header.m, header.max_m, header.max_m0, header.ef_construction) == \
        (1, m, m, 2 * m, ef_construction)
    assert header.element_bytes == 4 + 4 * 2 * m + 4 * 16 + 8
    assert 0 < header.element_count <= header.max_elements


@pytest.fixture()
def segment(stores: Path, tmp_path: Path) -> Path:
    """A private copy of one flushed segment, to damage."""
    copy = tmp_path / "segment"
    shutil.copytree(_segment(stores, "1.5.9", "cos_docs"), copy)
    return copy


def test_a_missing_file_is_named(segment: Path) -> None:
    (segment / "length.bin").unlink()
    with pytest.raises(FilesDamaged, match=r"lacks length\.bin"):
        checked_header(segment, 16)


def test_a_header_of_another_size(segment: Path) -> None:
    (segment / "header.bin").write_bytes((segment / "header.bin").read_bytes()[:-1])
    with pytest.raises(FilesDamaged, match=f"header.bin has {HEADER_FORMAT.size - 1} bytes"):
        checked_header(segment, 16)


def test_another_persistence_version(segment: Path) -> None:
    raw = bytearray((segment / "header.bin").read_bytes())
    raw[0:4] = (2).to_bytes(4, "little")
    (segment / "header.bin").write_bytes(bytes(raw))
    with pytest.raises(FilesUnreadable, match="persistence version 2") as caught:
        checked_header(segment, 16)
    assert not isinstance(caught.value, FilesDamaged)


def test_other_dimensions_do_not_fit_the_layout(segment: Path) -> None:
    with pytest.raises(FilesDamaged, match="not the layout of 32 dimensions"):
        checked_header(segment, 32)


def test_a_truncated_data_file(segment: Path) -> None:
    header = HnswHeader.parse((segment / "header.bin").read_bytes())
    data = segment / "data_level0.bin"
    data.write_bytes(data.read_bytes()[:header.element_bytes * (header.element_count - 1)])
    with pytest.raises(FilesDamaged, match=r"data_level0\.bin has"):
        checked_header(segment, 16)
    data.write_bytes(b"\x00" * (header.element_bytes * header.element_count + 3))
    with pytest.raises(FilesDamaged, match=r"data_level0\.bin has"):
        checked_header(segment, 16)


def test_a_short_length_file(segment: Path) -> None:
    (segment / "length.bin").write_bytes(b"\x00" * 4)
    with pytest.raises(FilesDamaged, match=r"length\.bin is shorter"):
        checked_header(segment, 16)


def test_the_segment_files_are_the_ones_chroma_writes() -> None:
    assert SEGMENT_FILES == ("header.bin", "data_level0.bin", "length.bin", "index_metadata.pickle")
    assert HEADER_FORMAT.size == 100
