"""``index_metadata.pickle`` read opcode by opcode (:mod:`vectorops.chroma.files.hnsw_pickle`), never unpickled.

Pickles in the exact forms Chroma writes them: chromadb 0.4–0.6 pickle a ``PersistentData`` object with
``pickle.HIGHEST_PROTOCOL`` (0.4 with ``max_seq_id``), 1.x a plain dict; and the real pickles of the fixture stores.
"""

from __future__ import annotations

import io
import pickle
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vectorops.chroma.files.hnsw_pickle import PERSISTENT_DATA, PickleStream, labels_of, read_header
from vectorops.errors import FilesUnreadable

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "stores"
MODULE, CLASS = PERSISTENT_DATA


@pytest.fixture
def persistent_data(monkeypatch: pytest.MonkeyPatch) -> Iterator[type]:
    """A class pickled under Chroma's name for ``PersistentData`` (pickle needs to find it by that name)."""
    module = types.ModuleType(MODULE)
    stand_in = type(CLASS, (), {"__module__": MODULE})
    module.PersistentData = stand_in  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, MODULE, module)
    yield stand_in


def _object(cls: type, ids: dict[str, int], max_seq_id: int | None) -> Any:
    """A PersistentData as chromadb 0.4 (``max_seq_id`` set) or 0.5/0.6 (not set) pickle it."""
    data = cls()
    data.dimensionality = 16
    data.total_elements_added = len(ids)
    if max_seq_id is not None:
        data.max_seq_id = max_seq_id
    data.id_to_label = ids
    data.label_to_id = {label: record_id for record_id, label in ids.items()}  # repeats the ids: BINGET
    data.id_to_seq_id = dict.fromkeys(ids, 7)
    return data


@pytest.mark.parametrize("size", [0, 1, 2, 1000, 1001, 2500])
@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("max_seq_id", [288, None], ids=["0.4", "0.5"])
def test_a_persistent_data_object_is_read_as_pickle_reads_it(persistent_data: type, size: int, protocol: int,
                                                             max_seq_id: int | None) -> None:
    ids = {f"id-{i}-{'é' * (i % 3)}": i + 1 for i in range(size)} | ({"x" * 300: 2**40} if size > 2 else {})
    raw = pickle.dumps(_object(persistent_data, ids, max_seq_id), protocol=protocol)
    assert list(PickleStream(io.BytesIO(raw)).id_to_label()) == list(pickle.loads(raw).id_to_label.items())
    header = PickleStream(io.BytesIO(raw)).header()
    assert (header.dimensionality, header.total_elements_added, header.max_seq_id) == (16, len(ids), max_seq_id)
    assert header.is_object and header.has_ids == bool(ids)


def test_labels_of_finds_only_the_wanted_ids(persistent_data: type, tmp_path: Path) -> None:
    path = tmp_path / "index_metadata.pickle"
    path.write_bytes(pickle.dumps(_object(persistent_data, {f"r{i}": i + 1 for i in range(3000)}, None), protocol=5))
    assert labels_of(path, {"r5", "r2999", "absent"}) == {"r5": 6, "r2999": 3000}
    assert read_header(path).has_ids


def test_another_class_is_refused_without_being_looked_up() -> None:
    with pytest.raises(FilesUnreadable, match=r"opcode|PersistentData"):
        dict(PickleStream(io.BytesIO(pickle.dumps(Path("/etc"), protocol=5))).id_to_label())
    evil = b"\x80\x02cos\nsystem\n)\x81}(X\x0b\x00\x00\x00id_to_label}u."
    with pytest.raises(FilesUnreadable, match=r"holds a os.system, not Chroma's PersistentData"):
        dict(PickleStream(io.BytesIO(evil)).id_to_label())


def test_a_label_that_refers_back_to_a_memo_is_refused() -> None:
    raw = pickle.dumps({"dimensionality": None, "id_to_label": {"a": 5, "b": "a"}}, protocol=3)
    with pytest.raises(FilesUnreadable, match=r"refers back|str → int"):
        dict(PickleStream(io.BytesIO(raw)).id_to_label())


class _StandIn(pickle.Unpickler):
    """Unpickles only Chroma's PersistentData, as a plain object: to check the opcode reader against pickle."""

    def find_class(self, module: str, name: str) -> Any:
        assert (module, name) == PERSISTENT_DATA
        return type(name, (), {})


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("chroma-*/store/*/index_metadata.pickle")),
                         ids=lambda p: f"{p.parents[2].name}-{p.parent.name[:8]}")
def test_the_fixture_stores_pickles(path: Path) -> None:
    with path.open("rb") as handle:
        data = _StandIn(handle).load()
    state = data if isinstance(data, dict) else vars(data)
    with path.open("rb") as handle:
        assert dict(PickleStream(handle).id_to_label()) == state["id_to_label"]
    header = read_header(path)
    assert header.is_object is not isinstance(data, dict)
    assert header.max_seq_id == state.get("max_seq_id")
    assert header.total_elements_added == state["total_elements_added"]
