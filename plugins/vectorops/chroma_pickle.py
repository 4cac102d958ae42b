"""The ``id_to_label`` map of an hnswlib segment's ``index_metadata.pickle``, read without unpickling.

A store is data from elsewhere: unpickling it could run any code. This reads the opcodes that serde-pickle
(Chroma's Rust writer) and Python's pickle use for a dict of str → int, and refuses anything else.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

from vectorops.chroma_layout import FilesUnreadable


class PickleStream:
    """The ``id_to_label`` dict of ``index_metadata.pickle``, read opcode by opcode: nothing is unpickled.

    Knows the opcodes that serde-pickle and Python's pickle write for a dict of str → int at protocols 2–5.
    """

    def __init__(self, handle: Any) -> None:
        self.read = handle.read

    def _byte(self) -> int:
        data = self.read(1)
        if not data:
            raise FilesUnreadable("index_metadata.pickle ends early")
        return data[0]

    def _value(self, op: int) -> Any:
        """The scalar an opcode pushes (str, int or None), or raise for any other opcode."""
        read = self.read
        if op == 0x58:  # BINUNICODE
            return read(struct.unpack("<I", read(4))[0]).decode("utf-8", "surrogatepass")
        if op == 0x8C:  # SHORT_BINUNICODE
            return read(read(1)[0]).decode("utf-8", "surrogatepass")
        if op == 0x8D:  # BINUNICODE8
            return read(struct.unpack("<Q", read(8))[0]).decode("utf-8", "surrogatepass")
        if op == 0x4A:  # BININT
            return struct.unpack("<i", read(4))[0]
        if op == 0x4B:  # BININT1
            return read(1)[0]
        if op == 0x4D:  # BININT2
            return struct.unpack("<H", read(2))[0]
        if op == 0x8A:  # LONG1
            return int.from_bytes(read(read(1)[0]), "little", signed=True)
        if op == 0x4E:  # NONE
            return None
        raise FilesUnreadable(f"index_metadata.pickle has opcode 0x{op:02x} where a value was expected")

    def _skip_memo(self) -> int:
        """Skip MEMOIZE / BINPUT / LONG_BINPUT / FRAME opcodes; return the next other opcode."""
        while True:
            op = self._byte()
            if op == 0x94:  # MEMOIZE
                continue
            if op == 0x71:  # BINPUT
                self.read(1)
            elif op == 0x72:  # LONG_BINPUT
                self.read(4)
            elif op == 0x95:  # FRAME
                self.read(8)
            else:
                return op

    def id_to_label(self) -> Iterator[tuple[str, int]]:
        """Yield the (id, label) pairs of the top-level key ``id_to_label``."""
        if self._byte() != 0x80:
            raise FilesUnreadable("index_metadata.pickle is not a protocol 2+ pickle")
        self.read(1)
        if self._skip_memo() != 0x7D:  # EMPTY_DICT
            raise FilesUnreadable("index_metadata.pickle does not hold a dict")
        if self._skip_memo() != 0x28:  # MARK
            raise FilesUnreadable("index_metadata.pickle does not hold a dict built by SETITEMS")
        while True:
            op = self._skip_memo()
            key = self._value(op)
            op = self._skip_memo()
            if key != "id_to_label":
                self._value(op)  # a scalar field (dimensionality, total_elements_added, max_seq_id)
                continue
            if op != 0x7D:
                raise FilesUnreadable("id_to_label is not a dict")
            yield from self._dict_items()
            return

    def _dict_items(self) -> Iterator[tuple[str, int]]:
        op = self._skip_memo()
        while op == 0x28:  # MARK, then key/value pairs, then SETITEMS
            while True:
                op = self._skip_memo()
                if op == 0x75:  # SETITEMS
                    break
                key = self._value(op)
                label = self._value(self._skip_memo())
                if not isinstance(key, str) or not isinstance(label, int):
                    raise FilesUnreadable("id_to_label holds something other than str → int")
                yield key, label
            op = self._skip_memo()
        if op == 0x73:  # SETITEM: neither writer uses it for these dicts
            raise FilesUnreadable("id_to_label was written with SETITEM")
        # op is now the next key of the outer dict: the caller stops reading here
