"""``where`` and ``where_document`` filters, checked by Chroma 1.5's rules before any backend sees them.

Accepted (anything else raises :class:`UnsupportedFilter` naming the part):

- ``where``: one key per dict; ``$and`` / ``$or`` over a list of at least two filters; a metadata key with a
  scalar (shorthand for ``$eq``) or one operator: ``$eq`` / ``$ne`` (str, int, float, bool), ``$gt`` / ``$gte`` /
  ``$lt`` / ``$lte`` (int or float, not bool), ``$in`` / ``$nin`` (a non-empty list of one type),
  ``$contains`` / ``$not_contains`` (a scalar, tested against list values); ``#document`` with ``$contains`` /
  ``$not_contains`` (a str).
- ``where_document``: ``$contains`` / ``$not_contains`` / ``$regex`` / ``$not_regex`` with a non-empty str,
  ``$and`` / ``$or`` over a list of at least two.
- either: nested at most :data:`MAX_FILTER_DEPTH` levels deep, counting every dict and list as JSON nests them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from vectorops.store.errors import UnsupportedFilter

COMPARISONS = ("$gt", "$gte", "$lt", "$lte")
FIELD_OPERATORS = ("$eq", "$ne", *COMPARISONS, "$in", "$nin", "$contains", "$not_contains")
DOCUMENT_OPERATORS = ("$contains", "$not_contains", "$regex", "$not_regex")
LOGICAL = ("$and", "$or")
DOCUMENT_KEY = "#document"
#: Chroma 1.5.9 refuses a filter whose JSON nests 128 or more dicts and lists ("Invalid where clause", the Rust
#: side's serde_json recursion limit): 63 levels of $and / $or around {"k": 1}, 62 around {"k": {"$eq": 1}}.
#: tests/store/test_filter_bounds.py checks both sides of the limit against chromadb itself.
MAX_FILTER_DEPTH = 127


def _scalar(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise UnsupportedFilter(f"{where}: {value!r} is not a finite number")
    if not isinstance(value, str | int | float):  # bool is an int
        raise UnsupportedFilter(f"{where}: expected a str, int, float or bool, got {value!r}")
    if isinstance(value, int) and abs(value) >= 2 ** 1023:
        raise UnsupportedFilter(f"{where}: the integer {value} is beyond any number a metadata value can hold")


def _logical(op: str, operand: Any, where: str, check: Any) -> None:
    if not isinstance(operand, list) or len(operand) < 2:
        raise UnsupportedFilter(f"{where}: {op} takes a list of at least two filters, got {operand!r}")
    for i, item in enumerate(operand):
        check(item, f"{where}.{op}[{i}]")


def _single(clause: Any, where: str) -> tuple[str, Any]:
    if not isinstance(clause, Mapping):
        raise UnsupportedFilter(f"{where}: expected a dict, got {clause!r}")
    if len(clause) != 1:
        raise UnsupportedFilter(f"{where}: expected exactly one key or operator per dict, got {dict(clause)!r} "
                                "(combine conditions with $and / $or)")
    return next(iter(clause.items()))


def _field(key: str, condition: Any, where: str) -> None:
    if not isinstance(condition, Mapping):
        if key == DOCUMENT_KEY:
            raise UnsupportedFilter(f"{where}: #document takes $contains / $not_contains, not a value to equal")
        _scalar(condition, where)
        return
    op, operand = _single(condition, where)
    if key == DOCUMENT_KEY:
        if op not in ("$contains", "$not_contains") or not isinstance(operand, str) or not operand:
            raise UnsupportedFilter(f"{where}: #document in where takes only $contains / $not_contains with a "
                                    "non-empty str (use where_document for $regex)")
        return
    if op not in FIELD_OPERATORS:
        raise UnsupportedFilter(f"{where}: operator {op!r} is not supported; use one of {', '.join(FIELD_OPERATORS)}")
    if op in COMPARISONS:
        if isinstance(operand, bool) or not isinstance(operand, int | float):
            raise UnsupportedFilter(f"{where}: {op} compares numbers only (int or float), got {operand!r}")
        _scalar(operand, f"{where}.{op}")
    elif op in ("$in", "$nin"):
        if not isinstance(operand, list) or not operand:
            raise UnsupportedFilter(f"{where}: {op} takes a non-empty list, got {operand!r}")
        kind = type(operand[0])
        if any(type(item) is not kind for item in operand):
            raise UnsupportedFilter(f"{where}: {op} values must all have one type (str, int, float or bool), "
                                    f"got {operand!r}")
        for i, item in enumerate(operand):
            _scalar(item, f"{where}.{op}[{i}]")
    else:
        _scalar(operand, f"{where}.{op}")


def filter_depth(value: Any, limit: int = MAX_FILTER_DEPTH) -> int:
    """How many dicts and lists ``value`` nests (``{"k": 1}`` is 1), counted without recursion and only up to
    ``limit + 1``: a filter nested any deeper costs no more to refuse."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def _check_depth(value: Any, path: str) -> None:
    if filter_depth(value) > MAX_FILTER_DEPTH:
        raise UnsupportedFilter(f"{path}: nested more than {MAX_FILTER_DEPTH} levels deep (dicts and lists), "
                                "deeper than Chroma accepts; flatten the $and / $or")


def check_where(where: Any, path: str = "where") -> None:
    """Raise :class:`UnsupportedFilter` unless ``where`` is a metadata filter Chroma accepts."""
    _check_depth(where, path)
    _where(where, path)


def _where(where: Any, path: str) -> None:
    key, value = _single(where, path)
    if not isinstance(key, str):
        raise UnsupportedFilter(f"{path}: keys must be str, got {key!r}")
    if key in LOGICAL:
        _logical(key, value, path, _where)
    elif key.startswith("$"):
        raise UnsupportedFilter(f"{path}: {key!r} is not a metadata key or a logical operator ($and, $or)")
    else:
        _field(key, value, f"{path}[{key!r}]")


def check_where_document(where_document: Any, path: str = "where_document") -> None:
    """Raise :class:`UnsupportedFilter` unless ``where_document`` is a document filter Chroma accepts."""
    _check_depth(where_document, path)
    _where_document(where_document, path)


def _where_document(where_document: Any, path: str) -> None:
    op, operand = _single(where_document, path)
    if op in LOGICAL:
        _logical(op, operand, path, _where_document)
        return
    if op not in DOCUMENT_OPERATORS:
        raise UnsupportedFilter(f"{path}: where document operator {op!r} is not supported; use one of "
                                f"{', '.join(DOCUMENT_OPERATORS + LOGICAL)}")
    if not isinstance(operand, str) or not operand:
        raise UnsupportedFilter(f"{path}: where document operand of {op} must be a non-empty str, got {operand!r}")
    if op in ("$regex", "$not_regex"):
        from vectorops.store.regex import to_postgres

        to_postgres(operand)  # refuses what it cannot translate exactly, on every backend


def check_filters(where: Any, where_document: Any) -> None:
    """Check both filters; ``None`` means no filter."""
    if where is not None:
        check_where(where)
    if where_document is not None:
        check_where_document(where_document)
