"""Seeded samples of a vector table: ids, and stored vectors to query with.

The validation gate (:mod:`vectorops.quality.gate`) and the monitor's probes (:mod:`vectorops.monitor.probe_set`)
draw their samples the same way, so the same seed and data give the same sample.
"""

from __future__ import annotations

import numpy as np
import psycopg
from psycopg import sql


def sample_ids(conn: psycopg.Connection, schema: str, table: str, size: int, seed: int) -> list[str]:
    """A seeded random sample of the table's ids (the same seed gives the same sample).

    :param conn: the connection.
    :param schema: the table's schema.
    :param table: the vector table.
    :param size: how many ids.
    :param seed: the sample's seed.
    """
    rows = conn.execute(sql.SQL("SELECT id FROM {} ORDER BY md5(id || %s::text), id LIMIT %s").format(
        sql.Identifier(schema, table)), (seed, size)).fetchall()
    return [r[0] for r in rows]


def query_sample(conn: psycopg.Connection, schema: str, table: str, ids: list[str],
                 count: int) -> tuple[list[str], np.ndarray]:
    """Up to ``count`` of ``ids`` with a non-zero stored vector, and those vectors as query vectors.

    :param conn: the connection.
    :param schema: the table's schema.
    :param table: the vector table.
    :param ids: candidate ids (:func:`sample_ids`), in order of preference.
    :param count: how many to choose.
    """
    stored = {r[0]: np.frombuffer(bytes(r[1]), dtype=">f4").astype(np.float32) for r in conn.execute(sql.SQL(
        "SELECT id, substr(vector_send(embedding), 5) FROM {} WHERE id = ANY(%s) AND embedding IS NOT NULL").format(
        sql.Identifier(schema, table)), (ids,))}
    chosen = [i for i in ids if i in stored and np.any(stored[i])][:count]
    matrix = np.vstack([stored[i] for i in chosen]) if chosen else np.zeros((0, 0), dtype=np.float32)
    return chosen, matrix
