"""Chroma filters as parameterised SQL over the ``metadata`` jsonb and ``document`` text of a vector table.

Every predicate is NULL-safe (``true`` or ``false``, never NULL), so ``$ne`` / ``$nin`` / ``$not_contains`` match
records that lack the key or have no metadata at all, as Chroma's do. Types are kept as Chroma keeps them:

- ``$eq`` / ``$in`` / ``$gt`` / ``$gte`` / ``$lt`` / ``$lte`` compare numbers across int and float as Chroma does
  (``1`` matches ``1`` and ``1.0``; an int operand meets stored floats as ``float(x)``; a float operand meets stored
  ints truncated, so ``{"$eq": 2.5}`` matches ``2``), never a bool with a number, never a scalar with a list;
  str and bool equality is ``metadata @> {"k": v}``.
- ``$contains`` matches list values holding an element of the operand's own type: ``1`` is not in ``[1.0]``.
- ``$in`` / ``$nin`` and ``ids`` lists go as typed array parameters (``= ANY(%s::text[])`` ...), one or two per list
  whatever its length.

A stored number is a float when its jsonb text has a decimal point (``metadata_json.metadata_json`` always writes one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from psycopg import sql

from vectorops.metadata_json import metadata_json
from vectorops.store.errors import UnsupportedFilter
from vectorops.store.where import COMPARISONS, DOCUMENT_KEY, check_filters

SAFE_INTEGER = 2 ** 53
#: the most parameters one statement may carry (the protocol counts them in 16 bits)
MAX_PARAMETERS = 65_535
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1
_SQL_OPS = {"$eq": "=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
TRUE = sql.SQL("true")
FALSE = sql.SQL("false")


@dataclass
class _Params:
    values: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, sql.Placeholder] = field(default_factory=dict)

    def add(self, value: Any) -> sql.Placeholder:
        name = f"f{len(self.values)}"
        self.values[name] = value
        return sql.Placeholder(name)

    def key(self, key: str) -> sql.Placeholder:
        """One parameter per metadata key, however often the filter names it."""
        if key not in self.keys:
            self.keys[key] = self.add(key)
        return self.keys[key]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _containment_exact(x: Any) -> bool:
    """Whether ``metadata @> {"k": x}`` (jsonb's numeric equality) is Chroma's ``$eq`` for this operand: strings,
    bools, and numbers that are integers within 2**53 (any other float operand is truncated against stored ints)."""
    if not _number(x):
        return True
    if isinstance(x, float) and (not x.is_integer() or (x == 0.0 and str(x).startswith("-"))):
        return False
    return abs(x) <= SAFE_INTEGER


def saturating_int(x: float) -> int:
    """``x as i64`` in Rust: truncated toward zero, clamped to the 64-bit range (how Chroma compares a float
    operand with an integer value)."""
    return max(INT64_MIN, min(INT64_MAX, int(x)))


def _chroma_compare(v: sql.Composable, op: str, x: int | float, p: _Params) -> sql.Composable:
    """``v op x`` for a jsonb number ``v`` as Chroma 1.5 compares (``tests/store/test_filters.py`` shows it):

    - an int operand: stored ints exactly, stored floats with ``float(x)``;
    - a float operand: stored floats as doubles, stored ints with ``x`` truncated to an integer (so ``2 == 2.5``).
    """
    if isinstance(x, int):
        int_branch = sql.SQL("{}::numeric {} {}::numeric").format(v, sql.SQL(op), p.add(x))
        float_branch = sql.SQL("{}::float8 {} {}::float8").format(v, sql.SQL(op), p.add(float(x)))
    else:
        int_branch = sql.SQL("{}::numeric {} {}::numeric").format(v, sql.SQL(op), p.add(saturating_int(x)))
        float_branch = sql.SQL("{}::float8 {} {}::float8").format(v, sql.SQL(op), p.add(x))
    return sql.SQL("CASE WHEN scale({}::numeric) = 0 THEN {} ELSE {} END").format(v, int_branch, float_branch)


def _value(key: str, p: _Params) -> sql.Composable:
    return sql.SQL("(metadata -> {})").format(p.key(key))


def _is_number(v: sql.Composable, test: sql.Composable) -> sql.Composable:
    return sql.SQL("coalesce(CASE WHEN jsonb_typeof({}) = 'number' THEN {} END, false)").format(v, test)


def _contains_doc(key: str, value: Any, p: _Params) -> sql.Composable:
    return sql.SQL("coalesce(metadata @> {}::jsonb, false)").format(p.add(metadata_json({key: value})))


def _eq(key: str, x: Any, p: _Params) -> sql.Composable:
    if _containment_exact(x):
        return _contains_doc(key, x, p)
    v = _value(key, p)
    return _is_number(v, _chroma_compare(v, "=", x, p))


def _in(key: str, values: list[Any], p: _Params) -> sql.Composable:
    """``$in`` as ``= ANY`` of typed array parameters (Chroma's lists hold one type), whatever the list's length.

    Numbers compare as :func:`_chroma_compare` does: a stored int with the operands as integers (a float operand
    truncated), a stored float with the operands as doubles.
    """
    v = _value(key, p)
    first = values[0]
    if isinstance(first, str):
        test = sql.SQL("CASE WHEN jsonb_typeof({}) = 'string' THEN ({} #>> '{{}}') = ANY({}::text[]) END").format(
            v, v, p.add(values))
    elif isinstance(first, bool):
        test = sql.SQL("CASE WHEN jsonb_typeof({}) = 'boolean' THEN {}::boolean = ANY({}::boolean[]) END").format(
            v, v, p.add(values))
    else:
        ints = [x if isinstance(x, int) else saturating_int(x) for x in values]
        test = sql.SQL("CASE WHEN jsonb_typeof({}) = 'number' THEN CASE WHEN scale({}::numeric) = 0 "
                       "THEN {}::numeric = ANY({}::numeric[]) ELSE {}::float8 = ANY({}::float8[]) END END").format(
            v, v, v, p.add(ints), v, p.add([float(x) for x in values]))
    return sql.SQL("coalesce({}, false)").format(test)


def _list_contains(key: str, x: Any, p: _Params) -> sql.Composable:
    """A list value with an element of ``x``'s type equal to ``x`` (Chroma lists hold one type)."""
    found = _contains_doc(key, [x], p)
    if not _number(x):
        return found  # jsonb equality of strings and booleans is exact
    # jsonb compares 1 and 1.0 as equal; Chroma does not, inside lists
    kind = sql.SQL("> 0" if isinstance(x, float) else "= 0")
    v = _value(key, p)
    return sql.SQL("({} AND EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof({}) = 'array' "
                   "THEN {} ELSE '[]'::jsonb END) AS e(item) WHERE jsonb_typeof(e.item) = 'number' "
                   "AND scale(e.item::numeric) {} AND e.item::numeric = {}::numeric))").format(
        found, v, v, kind, p.add(Decimal(repr(x)) if isinstance(x, float) else x))


def _document(op: str, operand: str, p: _Params, regex_collation: str | None) -> sql.Composable:
    if op in ("$contains", "$not_contains"):
        test = sql.SQL("coalesce(strpos(document, {}) > 0, false)").format(p.add(operand))
    else:
        from vectorops.store.regex import to_postgres

        collate = sql.SQL(" COLLATE {}").format(sql.Identifier(regex_collation)) if regex_collation else sql.SQL("")
        test = sql.SQL("coalesce(document{} ~ {}, false)").format(collate, p.add(to_postgres(operand)))
    return sql.SQL("(NOT {})").format(test) if op.startswith("$not_") else test


def _operand(x: Any) -> Any:
    """An int beyond 64 bits reaches Chroma's engine as a float; the same here. ``-0.0`` is compared, not stored:
    it equals ``0.0``, as in Chroma (jsonb, which the operand may be encoded into, has no negative zero)."""
    if _number(x) and isinstance(x, int) and not INT64_MIN <= x <= INT64_MAX:
        return float(x)
    if isinstance(x, float) and x == 0.0:
        return 0.0
    if isinstance(x, list):
        return [_operand(item) for item in x]
    return x


def _field(key: str, condition: Any, p: _Params, regex_collation: str | None) -> sql.Composable:
    op, operand = next(iter(condition.items())) if isinstance(condition, dict) else ("$eq", condition)
    operand = _operand(operand)
    if key == DOCUMENT_KEY:
        return _document(op, operand, p, regex_collation)
    if op == "$eq":
        return _eq(key, operand, p)
    if op == "$ne":
        return sql.SQL("(NOT {})").format(_eq(key, operand, p))
    if op in COMPARISONS:
        v = _value(key, p)
        return _is_number(v, _chroma_compare(v, _SQL_OPS[op], operand, p))
    if op == "$in":
        return _in(key, operand, p)
    if op == "$nin":
        return sql.SQL("(NOT {})").format(_in(key, operand, p))
    if op == "$contains":
        return _list_contains(key, operand, p)
    return sql.SQL("(NOT {})").format(_list_contains(key, operand, p))  # $not_contains


def _tree(clause: dict[str, Any], p: _Params, regex_collation: str | None, leaf: Any) -> sql.Composable:
    """A ``where`` or ``where_document`` clause: ``$and`` / ``$or`` of clauses, else ``leaf(key, value, ...)``."""
    key, value = next(iter(clause.items()))
    if key in ("$and", "$or"):
        joiner = sql.SQL(" AND " if key == "$and" else " OR ")
        return sql.SQL("({})").format(joiner.join(_tree(item, p, regex_collation, leaf) for item in value))
    return leaf(key, value, p, regex_collation)


def compile_filter(where: dict[str, Any] | None = None, where_document: dict[str, Any] | None = None,
                   ids: list[str] | None = None, regex_collation: str | None = None,
                   ) -> tuple[sql.Composable, dict[str, Any]]:
    """The SQL condition (``true`` when there is no filter) and its named parameters (``f0``, ``f1`` ...).

    :param ids: only these ids (``id = ANY(...)``).
    :param regex_collation: collation the ``$regex`` tests run under (``pg_unicode_fast`` where it exists).
    :raises UnsupportedFilter: for any part Chroma would refuse or that has no exact translation.
    """
    check_filters(where, where_document)
    p = _Params()
    parts: list[sql.Composable] = []
    if ids is not None:
        parts.append(sql.SQL("id = ANY({}::text[])").format(p.add(list(ids))))
    if where is not None:
        parts.append(_tree(where, p, regex_collation, _field))
    if where_document is not None:
        parts.append(_tree(where_document, p, regex_collation, _document))
    if len(p.values) > MAX_PARAMETERS - 8:  # the statements around the filter take a few of their own
        raise UnsupportedFilter(f"where / where_document: {len(p.values)} conditions are more than one PostgreSQL "
                                f"statement can carry ({MAX_PARAMETERS - 8} parameters); put values of one key "
                                "in one $in / $nin list")
    return (sql.SQL(" AND ").join(parts) if parts else TRUE), p.values
