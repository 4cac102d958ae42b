"""Great Expectations (GX Core 1.x) suites for one vector table, with Data Docs.

What each suite checks is declared here; how GX runs it (file context, lock, data source, checkpoint,
Data Docs) lives in :mod:`vectorops.quality.gx`. Vector checks are ``UnexpectedRowsExpectation``
queries over pgvector functions, so they never depend on GX reflecting the ``vector`` type.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import sql

from vectorops.quality import gx
from vectorops.quality.gx import Check

__all__ = ["ExpectationOutcome", "TableSuiteSpec", "run_table_suite", "suite_checks"]

SPACES = ("l2", "cosine", "ip")
SAMPLE_SIZE = 5


@dataclass(frozen=True)
class TableSuiteSpec:
    """What one vector table must satisfy.

    :param schema: schema of the table.
    :param table: table name, exactly as PostgreSQL has it (quoting is ours to do).
    :param expected_rows: source count minus quarantined records; ``None`` skips that check (a table that
        applications write through ``vectorops.store``, whose count changes by design).
    :param dimensions: dimensions every embedding must have (0 when unknown: then any row fails that check).
    :param space: the distance of the collection: ``l2``, ``cosine`` or ``ip``.
    :param normalized: embeddings are expected to have unit L2 norm.
    :param norm_tolerance: how far from 1 a norm may be when ``normalized``.
    :param metadata_rows: rows that must have non-NULL metadata; ``None`` skips that check.
    """

    schema: str
    table: str
    expected_rows: int | None
    dimensions: int
    space: str
    normalized: bool
    norm_tolerance: float = 1e-3
    metadata_rows: int | None = None

    def __post_init__(self) -> None:
        if self.space not in SPACES:
            raise ValueError(f"space {self.space!r} is not one of {', '.join(SPACES)}")
        if self.dimensions < 0 or (self.expected_rows or 0) < 0 or (self.metadata_rows or 0) < 0:
            raise ValueError(f"dimensions and row counts must be >= 0, not {self!r}")
        if not self.norm_tolerance > 0:
            raise ValueError(f"norm_tolerance must be > 0, not {self.norm_tolerance!r}")
        if not self.schema or not self.table:
            raise ValueError("schema and table must not be empty")
        if "%" in self.schema + self.table:
            # GX re-escapes % for the driver a different number of times per metric, so no quoting survives.
            raise ValueError(f"table {self.schema}.{self.table} contains '%', which Great Expectations cannot query")


@dataclass(frozen=True)
class ExpectationOutcome:
    """The verdict of one expectation.

    :param expectation: stable name, e.g. ``row_count_equals_expected`` or ``embedding_unit_norm``.
    :param success: whether the table met it.
    :param observed: JSON-able observation: a row count, or ``{"unexpected_rows": n, "sample_ids": [...]}``.
    :param gx_type: the GX expectation class used, e.g. ``UnexpectedRowsExpectation``.
    """

    expectation: str
    success: bool
    observed: Any
    gx_type: str


def _query(template: str, *parts: sql.Composable) -> str:
    """Query text for GX: ``{}`` placeholders get ``parts``; ``{{batch}}`` stays ``{batch}`` for GX to fill."""
    return sql.SQL(template).format(*parts).as_string()


def _rows_check(name: str, where: sql.Composable, description: str) -> Check:
    query = _query("SELECT id FROM {{batch}} WHERE {}", where)
    return Check(name, "UnexpectedRowsExpectation", {"unexpected_rows_query": query}, query, description)


def suite_checks(spec: TableSuiteSpec) -> list[Check]:
    """The expectations for ``spec``, in the order outcomes are reported.

    :param spec: the table and what it must satisfy.
    """
    duplicates = _query("SELECT id, count(*) AS copies FROM {{batch}} GROUP BY id HAVING count(*) > 1")
    checks = [] if spec.expected_rows is None else [
        Check("row_count_equals_expected", "ExpectTableRowCountToEqual", {"value": spec.expected_rows})]
    checks += [
        # Row queries, not GX's column-map expectations: on a 200,000-row table those made the validating
        # process grow by ~850 MB (GX pulls the batch's rows), where a query returns only offending rows.
        Check("id_unique", "UnexpectedRowsExpectation", {"unexpected_rows_query": duplicates}, duplicates,
              "Every id is unique (so no row is duplicated either)."),
        _rows_check("id_not_null", sql.SQL("id IS NULL"), "No id is NULL."),
        _rows_check("embedding_not_null", sql.SQL("embedding IS NULL"), "No embedding is NULL."),
        _rows_check("embedding_dimensions", sql.SQL("vector_dims(embedding) <> {}").format(spec.dimensions),
                    f"Every embedding has {spec.dimensions} dimensions."),
        # vector_norm sums squares in double precision, so it is NaN or infinite exactly when an element is;
        # one pass over the norm is far cheaper than unnesting every vector into real[].
        _rows_check("embedding_finite", sql.SQL("NOT (vector_norm(embedding) < 'Infinity'::double precision)"),
                    "Every embedding element is finite (no NaN or infinity)."),
    ]
    if spec.space == "cosine":
        checks.append(_rows_check("embedding_nonzero_norm", sql.SQL("vector_norm(embedding) = 0"),
                                  "No embedding is the zero vector (cosine distance is undefined for it)."))
    if spec.normalized:
        checks.append(_rows_check(
            "embedding_unit_norm",
            sql.SQL("abs(vector_norm(embedding) - 1) > {}::double precision").format(float(spec.norm_tolerance)),
            f"Every embedding has unit norm, within {spec.norm_tolerance:g}."))
    if spec.metadata_rows is not None:
        query = _query("SELECT count(metadata) AS metadata_rows FROM {{batch}} HAVING count(metadata) <> {}",
                       sql.Literal(spec.metadata_rows))
        checks.append(Check("metadata_present", "UnexpectedRowsExpectation", {"unexpected_rows_query": query},
                            query, f"Exactly {spec.metadata_rows} rows have metadata.", spec.metadata_rows))
    return checks


def observed_value(check: Check, success: bool, result: dict[str, Any], samples: list[Any] | None) -> Any:
    """The JSON-able observation for ``check`` from its GX ``result`` and sampled offending rows.

    :param check: the check that was run.
    :param success: its verdict.
    :param result: the ``result`` dict of its GX validation result.
    :param samples: first columns of up to :data:`SAMPLE_SIZE` offending rows, ``None`` if not sampled.
    """
    if check.gx_type == "ExpectTableRowCountToEqual":
        return result.get("observed_value")
    if check.name == "metadata_present":
        # the query returns the actual count only when it differs from the expected one
        actual = samples[0] if samples else (check.expected if success else None)
        return {"metadata_rows": actual, "expected": check.expected}
    if check.gx_type == "UnexpectedRowsExpectation":
        count = result.get("observed_value")
    else:
        count = result.get("unexpected_count")
    observed: dict[str, Any] = {"unexpected_rows": count}
    if check.sample_query is not None:
        observed["sample_ids"] = list(samples or [])
    return observed


def run_table_suite(dsn: str, spec: TableSuiteSpec, *, gx_root: Path, data_docs_dir: Path,
                    run_name: str) -> list[ExpectationOutcome]:
    """Validate one table with Great Expectations and build Data Docs into ``data_docs_dir``.

    Several processes may share ``gx_root``; they take turns on an exclusive lock. Re-running for the
    same table updates its suite, validation definition and checkpoint in place.

    :param dsn: libpq URI (or key=value string) of the database holding the table.
    :param spec: the table and what it must satisfy.
    :param gx_root: project directory of the GX file context (created when missing).
    :param data_docs_dir: where the Data Docs site (``index.html``) is written.
    :param run_name: names this validation run in the stored results and Data Docs.
    :return: one outcome per expectation, in the order of :func:`suite_checks`.
    :raises QualitySuiteError: when the table cannot be validated: no connection, a query GX could not run
        (e.g. a missing table or column), GX itself failing. Failed expectations never raise.
    """
    checks = suite_checks(spec)
    results = gx.validate(dsn, spec.schema, spec.table, checks, gx_root=gx_root,
                                  data_docs_dir=data_docs_dir, run_name=run_name)
    failed = [c for c in checks if not results[c.name][0] and c.sample_query is not None]
    samples = gx.sample_rows(dsn, spec.schema, spec.table, failed, SAMPLE_SIZE) if failed else {}
    outcomes = []
    for check in checks:
        success, result = results[check.name]
        outcomes.append(ExpectationOutcome(check.name, success,
                                           observed_value(check, success, result, samples.get(check.name)),
                                           check.gx_type))
    return outcomes
