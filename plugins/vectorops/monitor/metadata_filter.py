"""The one metadata filter of the filtered-recall probe, chosen from the data with a seed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from vectorops.db.sql_files import statement
from vectorops.monitor.target import ProbeTarget

FILTER_SAMPLE_ROWS = 2000


@dataclass(frozen=True)
class MetadataFilter:
    """A ``metadata @>`` document and its share of the sampled rows; ``document`` is ``None`` with a ``reason``."""

    document: dict[str, Any] | None
    selectivity: float | None
    sampled: int
    reason: str | None = None


def choose_filter(conn: psycopg.Connection, target: ProbeTarget, seed: int,
                  sample_rows: int = FILTER_SAMPLE_ROWS) -> MetadataFilter:
    """The most frequent scalar key/value pair with a 1–50 % share of a seeded sample of rows.

    :param conn: a connection to the vectors database.
    :param target: the table.
    :param seed: the sample's seed (the probe set's), so runs pick the same filter while the data holds.
    :param sample_rows: rows sampled.
    """
    row = conn.execute(statement("monitor/select_filter_candidate", table=target.identifier),
                       {"seed": seed, "size": sample_rows}).fetchone()
    if row is not None:
        return MetadataFilter(row[0], round(int(row[1]) / int(row[2]), 4), int(row[2]))
    with_metadata = conn.execute(
        statement("monitor/count_metadata_rows", table=target.identifier),
        {"seed": seed, "size": sample_rows}).fetchone()
    if not with_metadata or not with_metadata[0]:
        reason = "no sampled row has metadata"
    else:
        reason = "no scalar metadata key/value pair covers between 1 % and 50 % of the sampled rows"
    return MetadataFilter(None, None, int(with_metadata[1]) if with_metadata else 0, reason)
