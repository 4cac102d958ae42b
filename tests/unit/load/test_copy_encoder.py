"""The binary COPY encoder writes exactly the bytes PostgreSQL itself writes for the same rows, and loads back."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from vectorops.load.copy_encoder import COPY_HEADER, COPY_TRAILER, encode_rows

F32 = np.finfo(np.float32)
SUBNORMAL_MIN = np.float32(F32.smallest_subnormal)
EDGE_VALUES = [0.0, -0.0, float(SUBNORMAL_MIN), -float(SUBNORMAL_MIN), float(F32.tiny), float(F32.max),
               -float(F32.max), 1.0, -1.5, float(np.float32(0.1))]

# (id, document, metadata as jsonb prints it, uri): jsonb output form, so PostgreSQL's bytes are comparable
ROWS: list[tuple[str, str | None, str | None, str | None]] = [
    ("plain", "a document", '{"k": "v"}', "s3://bucket/a"),
    ("nulls", None, None, None),
    ("", "", '{}', ""),
    ("ünïcödé-😀", "日本語のテキスト 😀 e\u0301", '{"k": "é", "list": [1, 2.5, "x"]}', "file:///tmp/ü"),
    ("only-doc", "text", None, None),
    ("only-meta", None, '{"b": true, "n": null, "x": -3}', None),
    ("only-uri", None, None, "http://example.com/?q=a b"),
    ("quote\"back\\slash\ttab\nnewline", "line1\nline2\r\n", '{"s": "a\\"b"}', "x"),
]


@pytest.fixture()
def conn(dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(dsn, autocommit=True) as connection:
        yield connection


def _create(conn: psycopg.Connection, name: str, dims: int) -> None:
    # the shadow table's columns (load/create_shadow_table.sql), plus the order rows were written in
    conn.execute(sql.SQL("""CREATE TEMP TABLE {} (ord serial, id text COLLATE "C" NOT NULL, embedding vector({}),
                            document text, metadata jsonb, uri text)""")
                 .format(sql.Identifier(name), sql.Literal(dims)))


def _copy_out(conn: psycopg.Connection, name: str) -> bytes:
    out = bytearray()
    with conn.cursor().copy(sql.SQL("COPY (SELECT embedding, id, document, metadata, uri FROM {} ORDER BY ord) "
                                    "TO STDOUT (FORMAT binary)").format(sql.Identifier(name))) as copy:
        for block in copy:
            out += block
    return bytes(out)


def _insert(conn: psycopg.Connection, name: str, matrix: np.ndarray,
            rows: list[tuple[str, str | None, str | None, str | None]]) -> None:
    """Write rows through plain parameters, a path independent of the encoder."""
    for vector, (rid, doc, meta, uri) in zip(matrix, rows, strict=True):
        insert = sql.SQL("INSERT INTO {} (id, embedding, document, metadata, uri) "
                         "VALUES (%s, %s::float8[]::real[]::vector, %s, %s::jsonb, %s)").format(sql.Identifier(name))
        conn.execute(insert, (rid, [float(x) for x in vector], doc, meta, uri))


def _copy_in(conn: psycopg.Connection, name: str, payload: bytes) -> None:
    with conn.cursor().copy(sql.SQL("COPY {} (embedding, id, document, metadata, uri) FROM STDIN (FORMAT binary)")
                            .format(sql.Identifier(name))) as copy:
        copy.write(payload)


def _encode(matrix: np.ndarray, rows: list[tuple[str, str | None, str | None, str | None]]) -> bytes:
    ids, docs, metas, uris = (list(column) for column in zip(*rows, strict=True))
    return COPY_HEADER + encode_rows(ids, matrix, docs, metas, uris) + COPY_TRAILER


def _matrix(rows: int, dims: int, seed: int) -> np.ndarray:
    values = np.random.default_rng(seed).standard_normal((rows, dims)).astype(np.float32)
    edges = np.array(EDGE_VALUES, dtype=np.float32)
    flat = values.reshape(-1)
    flat[:min(len(edges), flat.size)] = edges[:flat.size]
    return values


@pytest.mark.parametrize("dims", [1, 2, 384, 2000])
def test_bytes_equal_what_postgresql_writes(conn: psycopg.Connection, dims: int) -> None:
    matrix = _matrix(len(ROWS), dims, seed=dims)
    _create(conn, "expected", dims)
    _insert(conn, "expected", matrix, ROWS)
    assert _encode(matrix, ROWS) == _copy_out(conn, "expected")


def test_every_float32_edge_value_is_written_bit_exact(conn: psycopg.Connection) -> None:
    edges = np.array(EDGE_VALUES, dtype=np.float32).reshape(1, -1)
    _create(conn, "edges", edges.shape[1])
    _insert(conn, "edges", edges, [("e", None, None, None)])
    assert _encode(edges, [("e", None, None, None)]) == _copy_out(conn, "edges")
    # and the vector bytes themselves: big-endian float32, -0.0 keeps its sign bit
    encoded = encode_rows(["e"], edges, [None], [None], [None])
    values = encoded[2 + 4 + 4:2 + 4 + 4 + 4 * edges.shape[1]]
    assert values == edges.astype(">f4").tobytes()
    assert values[4:8] == b"\x80\x00\x00\x00"  # -0.0
    assert values[8:12] == b"\x00\x00\x00\x01"  # the smallest subnormal


def _fetch(conn: psycopg.Connection, name: str) -> list[tuple[Any, ...]]:
    return conn.execute(sql.SQL("SELECT id, embedding::real[], document, metadata, uri FROM {} ORDER BY ord")
                        .format(sql.Identifier(name))).fetchall()


@pytest.mark.parametrize("dims", [1, 2000])
def test_round_trip_through_copy_from(conn: psycopg.Connection, dims: int) -> None:
    matrix = _matrix(len(ROWS), dims, seed=7)
    _create(conn, "loaded", dims)
    _create(conn, "expected", dims)
    _copy_in(conn, "loaded", _encode(matrix, ROWS))
    _insert(conn, "expected", matrix, ROWS)
    loaded = _fetch(conn, "loaded")
    assert loaded == _fetch(conn, "expected")
    assert [row[0] for row in loaded] == [row[0] for row in ROWS]
    assert [row[2] for row in loaded] == [row[1] for row in ROWS]  # "" stays "", None stays NULL
    assert [row[4] for row in loaded] == [row[3] for row in ROWS]
    assert loaded[1][3] is None and loaded[2][3] == {}
    assert loaded[3][3] == {"k": "é", "list": [1, 2.5, "x"]}
    got = np.array([row[1] for row in loaded], dtype=np.float32)
    assert got.tobytes() == matrix.tobytes()  # bit-exact, signs of zero included
    # the original bytes again when PostgreSQL writes the loaded table out
    assert _copy_out(conn, "loaded") == _encode(matrix, ROWS)


def test_many_rows_keep_their_order_and_fields(conn: psycopg.Connection) -> None:
    rows = [(f"id-{i}", None if i % 3 == 0 else "d" * (i % 7), None if i % 2 else f'{{"i": {i}}}',
             None if i % 5 else f"u{i}") for i in range(1000)]
    matrix = _matrix(len(rows), 3, seed=3)
    _create(conn, "many", 3)
    _copy_in(conn, "many", _encode(matrix, rows))
    loaded = conn.execute("SELECT id, document, metadata ->> 'i', uri FROM many ORDER BY ord").fetchall()
    assert loaded == [(rid, doc, None if meta is None else rid[3:], uri) for rid, doc, meta, uri in rows]


def test_header_and_trailer_are_postgresql_binary_copy_framing() -> None:
    assert COPY_HEADER == b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
    assert COPY_TRAILER == b"\xff\xff"


def test_row_layout() -> None:
    encoded = encode_rows(["ab"], np.array([[1.0, -2.0]], dtype=np.float32), [None], ['{"a": 1}'], ["u"])
    expected = (struct.pack(">h", 5) + struct.pack(">ihh", 12, 2, 0) + struct.pack(">ff", 1.0, -2.0)
                + struct.pack(">i", 2) + b"ab" + struct.pack(">i", -1)
                + struct.pack(">i", 9) + b'\x01{"a": 1}' + struct.pack(">i", 1) + b"u")
    assert encoded == expected


@pytest.mark.parametrize("column", ["ids", "documents", "metadata_json", "uris"])
def test_a_nul_character_is_refused(column: str) -> None:
    fields: dict[str, list[str | None]] = {"ids": ["a", "b"], "documents": ["x", None], "metadata_json": [None, "{}"],
                                           "uris": [None, None]}
    fields[column] = ["ok", "bad\x00value"]
    with pytest.raises(ValueError, match="NUL"):
        encode_rows(embeddings=np.zeros((2, 2), dtype=np.float32), **fields)  # type: ignore[arg-type]


def test_float64_embeddings_are_written_as_float32() -> None:
    as64 = np.array([[0.1, 1e-50, 3.0]], dtype=np.float64)
    as32 = as64.astype(np.float32)
    assert encode_rows(["a"], as64, [None], [None], [None]) == encode_rows(["a"], as32, [None], [None], [None])
