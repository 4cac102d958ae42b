"""The fields of an hnswlib segment's ``index_metadata.pickle``, read without unpickling.

A store is data from elsewhere: unpickling it could run any code. This reads the opcodes the two writers use, and
refuses anything else:

* chromadb 0.4–0.6 (Python's pickle, highest protocol) pickle a ``PersistentData`` object: the class by
  ``STACK_GLOBAL`` (or ``GLOBAL``), built by ``NEWOBJ`` (or ``REDUCE``) from an empty tuple, then ``BUILD`` with its
  ``__dict__``: ``dimensionality``, ``total_elements_added``, ``max_seq_id`` (0.4 only: the log position the files
  hold), ``id_to_label``, ``label_to_id``, ``id_to_seq_id``, in that order;
* chromadb 1.x (serde-pickle, protocol 3) pickles a plain dict with the same keys (``max_seq_id`` is ``None``).

The class is only named, never looked up: :class:`PickleStream` checks the name and reads the state dict.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vectorops.errors import FilesUnreadable

#: the only class a Chroma ``index_metadata.pickle`` names
PERSISTENT_DATA = ("chromadb.segment.impl.vector.local_persistent_hnsw", "PersistentData")
#: the scalar fields before ``id_to_label``
SCALAR_FIELDS = ("dimensionality", "total_elements_added", "max_seq_id")

_PROTO, _FRAME, _MEMOIZE, _BINPUT, _LONG_BINPUT = 0x80, 0x95, 0x94, 0x71, 0x72
_EMPTY_DICT, _MARK, _SETITEMS, _SETITEM, _EMPTY_TUPLE = 0x7D, 0x28, 0x75, 0x73, 0x29
_GLOBAL, _STACK_GLOBAL, _NEWOBJ, _NEWOBJ_EX, _REDUCE = 0x63, 0x93, 0x81, 0x92, 0x52
_BINGET, _LONG_BINGET = 0x68, 0x6A
_BUILD, _STOP = 0x62, 0x2E
_STRINGS = (0x58, 0x8C, 0x8D)  # BINUNICODE, SHORT_BINUNICODE, BINUNICODE8


@dataclass(frozen=True)
class PickleHeader:
    """The scalar fields of ``index_metadata.pickle``, and what wrote it.

    :param max_seq_id: the log position the files hold, where the pickle records it (chromadb 0.4), else ``None``.
    :param is_object: a pickled ``PersistentData`` (chromadb 0.4–0.6), not a plain dict (1.x).
    :param has_ids: ``id_to_label`` holds at least one id.
    """

    dimensionality: int | None
    total_elements_added: int | None
    max_seq_id: int | None
    is_object: bool
    has_ids: bool


class PickleStream:
    """``index_metadata.pickle`` read opcode by opcode: nothing is unpickled.

    Knows the opcodes that serde-pickle and Python's pickle write for a ``PersistentData`` object or a dict of
    scalars and str → int dicts, at protocols 2–5. Read once, from the start: :meth:`header` and then (or instead)
    :meth:`id_to_label`.
    """

    def __init__(self, handle: Any) -> None:
        self.read = handle.read
        self._scalars: dict[str, Any] | None = None
        self._is_object = False

    def _byte(self) -> int:
        data = self.read(1)
        if not data:
            raise FilesUnreadable("index_metadata.pickle ends early")
        return data[0]

    def _exact(self, size: int) -> bytes:
        data = self.read(size)
        if len(data) != size:
            raise FilesUnreadable("index_metadata.pickle ends early")
        return data

    def _text(self, size: int) -> str:
        try:
            return self._exact(size).decode("utf-8", "surrogatepass")
        except UnicodeDecodeError as exc:
            raise FilesUnreadable(f"index_metadata.pickle holds a string that is not UTF-8: {exc}") from exc

    def _value(self, op: int) -> Any:
        """The scalar an opcode pushes (str, int, None or a bool), or raise for any other opcode."""
        if op == 0x58:  # BINUNICODE
            return self._text(struct.unpack("<I", self._exact(4))[0])
        if op == 0x8C:  # SHORT_BINUNICODE
            return self._text(self._byte())
        if op == 0x8D:  # BINUNICODE8
            return self._text(struct.unpack("<Q", self._exact(8))[0])
        if op == 0x4A:  # BININT
            return struct.unpack("<i", self._exact(4))[0]
        if op == 0x4B:  # BININT1
            return self._byte()
        if op == 0x4D:  # BININT2
            return struct.unpack("<H", self._exact(2))[0]
        if op == 0x8A:  # LONG1
            return int.from_bytes(self._exact(self._byte()), "little", signed=True)
        if op == 0x4E:  # NONE
            return None
        if op in (0x88, 0x89):  # NEWTRUE, NEWFALSE
            return op == 0x88
        if op in (_BINGET, _LONG_BINGET):
            raise FilesUnreadable("index_metadata.pickle refers back to an earlier object (a memo), which this "
                                  "reader does not keep")
        raise FilesUnreadable(f"index_metadata.pickle has opcode 0x{op:02x} where a value was expected")

    def _skip_memo(self) -> int:
        """Skip MEMOIZE / BINPUT / LONG_BINPUT / FRAME opcodes; return the next other opcode."""
        while True:
            op = self._byte()
            if op == _MEMOIZE:
                continue
            if op == _BINPUT:
                self._exact(1)
            elif op == _LONG_BINPUT:
                self._exact(4)
            elif op == _FRAME:
                self._exact(8)
            else:
                return op

    def _class(self, op: int) -> None:
        """Read the class a ``GLOBAL`` or ``STACK_GLOBAL`` names, and how it is called: it must be PersistentData."""
        if op == _GLOBAL:
            module = self._line()
            name = self._line()
        else:
            module = self._value(op)
            name = self._value(self._skip_memo())
            if self._skip_memo() != _STACK_GLOBAL:
                raise FilesUnreadable("index_metadata.pickle does not hold a dict or a PersistentData object")
        if (module, name) != PERSISTENT_DATA:
            raise FilesUnreadable(f"index_metadata.pickle holds a {module}.{name}, not Chroma's PersistentData")
        if self._skip_memo() != _EMPTY_TUPLE:
            raise FilesUnreadable("index_metadata.pickle builds PersistentData from arguments")
        op = self._skip_memo()
        if op == _NEWOBJ_EX:
            raise FilesUnreadable("index_metadata.pickle builds PersistentData with keyword arguments")
        if op not in (_NEWOBJ, _REDUCE):
            raise FilesUnreadable(f"index_metadata.pickle builds PersistentData with opcode 0x{op:02x}")
        self._is_object = True

    def _line(self) -> str:
        chars = bytearray()
        while (byte := self._byte()) != 0x0A:
            chars.append(byte)
            if len(chars) > 256:
                raise FilesUnreadable("index_metadata.pickle names a class longer than 256 bytes")
        return chars.decode("ascii", "replace")

    def _start(self) -> None:
        """Read up to the first key of the dict (the state of a PersistentData object, or the dict itself)."""
        if self._byte() != _PROTO:
            raise FilesUnreadable("index_metadata.pickle is not a protocol 2+ pickle")
        self._exact(1)
        op = self._skip_memo()
        if op == _GLOBAL or op in _STRINGS:
            self._class(op)
            op = self._skip_memo()
        if op != _EMPTY_DICT:
            raise FilesUnreadable("index_metadata.pickle does not hold a dict or a PersistentData object")
        if self._skip_memo() != _MARK:
            raise FilesUnreadable("index_metadata.pickle does not hold a dict built by SETITEMS")

    def _to_id_to_label(self) -> None:
        """Read the scalar fields up to ``id_to_label``, leaving the stream at that dict's first opcode."""
        if self._scalars is not None:
            return
        self._start()
        scalars: dict[str, Any] = {}
        while True:
            key = self._value(self._skip_memo())
            op = self._skip_memo()
            if key == "id_to_label":
                if op != _EMPTY_DICT:
                    raise FilesUnreadable("id_to_label is not a dict")
                self._scalars = scalars
                return
            if not isinstance(key, str) or len(scalars) >= 16:
                raise FilesUnreadable("index_metadata.pickle has no id_to_label before its other maps")
            scalars[key] = self._value(op)  # dimensionality, total_elements_added, max_seq_id

    def header(self) -> PickleHeader:
        """The scalar fields, read up to ``id_to_label`` (and its first entry, to tell whether it has ids).

        :raises FilesUnreadable: on a field of the wrong type.
        """
        self._to_id_to_label()
        scalars = self._scalars or {}
        for field in SCALAR_FIELDS:
            value = scalars.get(field)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise FilesUnreadable(f"index_metadata.pickle's {field} is {value!r}, not an integer")
        has_ids = next(self.id_to_label(), None) is not None
        return PickleHeader(dimensionality=scalars.get("dimensionality"),
                            total_elements_added=scalars.get("total_elements_added"),
                            max_seq_id=scalars.get("max_seq_id"), is_object=self._is_object, has_ids=has_ids)

    def id_to_label(self) -> Iterator[tuple[str, int]]:
        """Yield the (id, label) pairs of ``id_to_label``."""
        self._to_id_to_label()
        while True:
            op = self._skip_memo()
            if op == _MARK:  # MARK, then up to 1,000 key/value pairs, then SETITEMS
                while (op := self._skip_memo()) != _SETITEMS:
                    yield self._item(op)
                continue
            if op in (_SETITEMS, _BUILD, _STOP):  # the last key of the outer dict: it ends here too
                return
            if op not in _STRINGS:
                raise FilesUnreadable(f"id_to_label has opcode 0x{op:02x} where an id was expected")
            # Python's pickle writes a batch of one item as key, value, SETITEM; after the dict's last item comes
            # the outer dict's next key, whose value is a dict: it ends id_to_label, and the caller stops here
            key = self._value(op)
            op = self._skip_memo()
            if op in (_EMPTY_DICT, _MARK):
                return
            item = self._item(op, key)
            if self._skip_memo() != _SETITEM:
                raise FilesUnreadable("id_to_label has an item outside SETITEMS that no SETITEM stores")
            yield item

    def _item(self, op: int, key: Any = None) -> tuple[str, int]:
        """One (id, label) item: the key from ``op`` (or ``key`` when already read), then the label."""
        if key is None:
            key = self._value(op)
            op = self._skip_memo()
        label = self._value(op)
        if not isinstance(key, str) or not isinstance(label, int) or isinstance(label, bool):
            raise FilesUnreadable("id_to_label holds something other than str → int")
        return key, label


def read_header(path: Path) -> PickleHeader:
    """The :class:`PickleHeader` of the ``index_metadata.pickle`` at ``path``."""
    with open(path, "rb", buffering=1 << 16) as handle:
        return PickleStream(handle).header()


def labels_of(path: Path, wanted: set[str]) -> dict[str, int]:
    """The labels of the ``wanted`` ids that ``id_to_label`` holds, in one streaming pass."""
    if not wanted:
        return {}
    found: dict[str, int] = {}
    with open(path, "rb", buffering=1 << 20) as handle:
        for record_id, label in PickleStream(handle).id_to_label():
            if record_id in wanted:
                found[record_id] = label
    return found
