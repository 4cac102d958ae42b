"""Table names from Chroma collection names: deterministic, safe, unique.

A name that already is a plain lower-case identifier keeps it. Any other name is folded to ``[a-z0-9_]`` and
gets the first 16 hex digits (64 bits) of its SHA-256, so ``a-b`` and ``a_b`` (or ``A`` and ``a``) never meet, and
whoever may name collections cannot find, by trying names, one whose table takes another's (8 digits, what older
releases used, fall to about a second of hashing). Tables keep the name their registry row records, so the
8-digit tables of an existing install stay as they are. Names stay short enough for our suffixes
(``__shadow_<attempt>``, ``__prev``, ``_pkey``, ``_hnsw``, ``_ivf``) within PostgreSQL's 63-byte limit. A plain name is
kept only when no suffix can make another collection's object out of it: it holds no ``__``, and ends neither in an
index suffix (``docs_pkey`` would be the primary key of ``docs``) nor in 8 or 16 hex digits (a hashed tail of
either release). Quoting is still left to ``psycopg.sql.Identifier`` everywhere, so a name like ``select`` is
harmless.
"""

from __future__ import annotations

import hashlib
import re

MAX_BASE = 41
_PLAIN = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")
HASH_DIGITS = 16
_HASHED_TAIL = re.compile(r"_(?:[0-9a-f]{8}|[0-9a-f]{16})$")
#: what the promotion and the index build append to a table name (see ``promotion.INDEX_SUFFIXES``)
INDEX_SUFFIXES = ("_pkey", "_hnsw", "_ivf")
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def table_name_for(collection: str) -> str:
    """The live table name for ``collection``.

    :param collection: the Chroma collection name, exactly as Chroma has it.
    :return: a name of at most 41 characters from ``[a-z0-9_]``.
    """
    if (_PLAIN.fullmatch(collection) and "__" not in collection and not _HASHED_TAIL.search(collection)
            and not collection.endswith(INDEX_SUFFIXES)):
        return collection
    digest = hashlib.sha256(collection.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_DIGITS]
    folded = re.sub(r"[^a-z0-9]+", "_", collection.lower()).strip("_")
    if not folded or folded[0].isdigit():
        folded = f"c_{folded}"
    # trim after truncation too, so the name never holds "__" (reserved for our suffixes)
    return f"{folded[:MAX_BASE - HASH_DIGITS - 1].rstrip('_')}_{digest}"


def shadow_name(table: str, attempt_id: str) -> str:
    """The shadow table that an attempt loads into before promotion."""
    return f"{table}__shadow_{attempt_id}"


def previous_name(table: str) -> str:
    """Where promotion keeps the previous live table."""
    return f"{table}__prev"


def check_schema_name(schema: str) -> str:
    """Validate a target schema name given as a parameter.

    :raises ValueError: naming the schema, when it is not a plain lower-case identifier.
    """
    if not _SCHEMA.fullmatch(schema) or schema.startswith("pg_") or schema in {"vectorops", "information_schema"}:
        raise ValueError(
            f"target_schema {schema!r} is not allowed: use a lower-case identifier of letters, digits and "
            "underscores (not starting with a digit or pg_, and not vectorops or information_schema)")
    return schema
