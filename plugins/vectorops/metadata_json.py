"""Type-exact metadata JSON: text that jsonb stores and returns with the same Python types, and the check of what
PostgreSQL ``text`` can hold."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from itertools import chain
from typing import Any, cast

import numpy as np
import orjson

from vectorops.errors import UnstorableValue

MetadataValue = str | int | float | bool | None | list[Any] | dict[str, Any]


def check_text(value: str, what: str) -> None:
    """Raise :class:`UnstorableValue` when ``value`` cannot be stored in a PostgreSQL ``text``.

    :param value: the string.
    :param what: what it is, for the message (``"id"``, ``"document"``, ``"metadata key 'a'"``).
    """
    if "\x00" in value:
        raise UnstorableValue(f"{what} contains a NUL character (U+0000), which PostgreSQL text cannot store")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnstorableValue(f"{what} is not valid Unicode ({exc.reason} at position {exc.start})") from exc


def _float_json(value: float, where: str) -> str:
    if not math.isfinite(value):
        raise UnstorableValue(f"{where} is {value!r}; jsonb cannot store NaN or Infinity")
    if value == 0.0 and math.copysign(1.0, value) < 0:
        raise UnstorableValue(f"{where} is -0.0; jsonb numbers have no negative zero, so it would come back as 0.0")
    text = repr(value)
    if "e" in text or "E" in text:
        # jsonb keeps numerics exactly but prints 1e+16 as 10000000000000000, which reads back as an int.
        text = format(Decimal(text), "f")
    if "." not in text:
        text += ".0"
    return text


def _json_value(value: Any, where: str, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, float):
        out.append(_float_json(float(value), where))
    elif isinstance(value, str):
        check_text(value, where)
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, np.generic):
        _json_value(value.item(), where, out)
    elif isinstance(value, Mapping):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise UnstorableValue(f"{where} has a non-string key {key!r}")
            check_text(key, f"{where} key {key!r}")
            if i:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _json_value(item, f"{where}[{key!r}]", out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _json_value(item, f"{where}[{i}]", out)
        out.append("]")
    else:
        raise UnstorableValue(f"{where} has a value of type {type(value).__name__}, which JSON cannot hold")


def _plain_scalar(value: object) -> bool:
    """True for values whose ``json.dumps`` text is already what jsonb keeps exactly."""
    kind = type(value)
    if kind is str or kind is int or kind is bool:
        return True
    # floats without an exponent in their repr, and not -0.0
    return kind is float and (1e-4 <= abs(value) < 1e16 or (value == 0.0 and math.copysign(1.0, value) > 0))  # type: ignore[arg-type]


def metadata_json(metadata: Mapping[str, MetadataValue]) -> str:
    """Encode metadata as JSON text that jsonb stores and returns with the same Python types.

    ints stay ints (any size), floats always carry a decimal point, bools stay bools.

    :raises UnstorableValue: for NaN/Infinity, NUL characters, invalid Unicode or non-JSON types.
    """
    if type(metadata) is dict and all(_plain_scalar(v) for v in metadata.values()):
        # Fast path for the common flat case; anything unusual falls through to the exact encoder below.
        text = json.dumps(metadata, ensure_ascii=False)
        if "\\u0000" not in text:
            try:
                text.encode("utf-8")
                return text
            except UnicodeEncodeError:
                pass
    out: list[str] = []
    _json_value(metadata, "metadata", out)
    return "".join(out)


def valid_text(text: str) -> bool:
    """Whether PostgreSQL text can hold ``text`` (no NUL, valid Unicode): one check for a whole batch."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unplain_records(present: Sequence[Mapping[str, MetadataValue]]) -> list[int] | None:
    """Which metadata of a batch hold a float that :func:`_plain_scalar` rejects (tiny, huge or -0.0).

    The rest of :func:`_plain_scalar`'s rule is checked for the whole batch at once: the types with one
    ``set(map(type, ...))`` and the float ranges with numpy, instead of a Python call per value.

    :return: the positions in ``present`` of records with such floats, or ``None`` when some record is not a
        flat dict of str keys and str, int, bool or float values.
    """
    if set(map(type, present)) - {dict}:
        return None
    if set(map(type, chain.from_iterable(present))) - {str}:
        return None
    values: list[Any] = list(chain.from_iterable(map(dict.values, cast(list[dict[str, Any]], present))))
    kinds = set(map(type, values))
    if kinds - {str, int, bool, float}:
        return None
    if float not in kinds:
        return []
    is_float = np.fromiter((type(v) is float for v in values), dtype=np.bool_, count=len(values))
    floats = np.fromiter((v for v in values if type(v) is float), dtype=np.float64)
    size = np.abs(floats)
    plain = ((size >= 1e-4) & (size < 1e16)) | ((floats == 0.0) & ~np.signbit(floats))
    if plain.all():
        return []
    owner = np.repeat(np.arange(len(present)), np.fromiter(map(len, present), dtype=np.int64, count=len(present)))
    return sorted(set(owner[is_float][~plain].tolist()))


def batch_metadata_json(metadatas: Sequence[Mapping[str, MetadataValue] | None]) -> list[str | None] | None:
    """:func:`metadata_json` for a whole batch at once (``None`` for a record without metadata).

    Returns ``None`` when any metadata is unusual (a NUL, invalid Unicode, a nested, non-finite, exponent or
    negative-zero value, a non-string key, an int beyond 64 bits); the caller then encodes record by record,
    which names the problem.

    :param metadatas: the batch's metadata, ``None`` where a record has none.
    """
    present = [m for m in metadatas if m is not None]
    if not present:
        return [None] * len(metadatas)
    unplain = _unplain_records(present)
    if unplain is not None:
        try:
            # orjson writes plain scalars exactly as json.dumps does (test_records checks it), in C. It refuses
            # lone surrogates and ints beyond 64 bits, which then take the path below.
            joined = b"\x00".join(map(orjson.dumps, present))
        except TypeError:
            pass
        else:
            if b"\\u0000" in joined:  # a NUL inside a key or value
                return None
            encoded = joined.decode("utf-8").split("\x00")
            try:
                for i in unplain:  # the exact encoder for records with tiny, huge or -0.0 floats
                    encoded[i] = metadata_json(present[i])
            except UnstorableValue:
                return None
            texts = iter(encoded)
            return [None if m is None else next(texts) for m in metadatas]
    return _metadata_texts(metadatas)


_JSON = json.JSONEncoder(ensure_ascii=False)


def _metadata_texts(metadatas: Sequence[Mapping[str, MetadataValue] | None]) -> list[str | None] | None:
    """The metadata JSON of a batch with something unusual in it: plain records one by one, the rest exactly."""
    encode = _JSON.encode
    out: list[str | None] = []
    for meta in metadatas:
        if meta is None:
            out.append(None)
            continue
        if type(meta) is dict and all(type(k) is str and _plain_scalar(v) for k, v in meta.items()):
            out.append(encode(meta))
            continue
        try:  # lists, small or huge floats...: the exact encoder, for this record only
            out.append(metadata_json(meta))
        except UnstorableValue:
            return None
    texts = "".join(t for t in out if t is not None)
    if "\\u0000" in texts or not valid_text(texts):
        return None
    return out


