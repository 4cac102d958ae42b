"""Great Expectations table suites against the real embedded PostgreSQL + pgvector: clean and tampered tables."""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg import sql

from vectorops.errors import QualitySuiteError
from vectorops.quality.suites import ExpectationOutcome, TableSuiteSpec, run_table_suite, suite_checks

SCHEMA = "gx_suites"
ROWS = 300
DIMS = 8
ALL_CHECKS = ["row_count_equals_expected", "id_unique", "id_not_null", "embedding_not_null", "embedding_dimensions",
              "embedding_finite", "embedding_nonzero_norm", "embedding_unit_norm", "metadata_present"]


def _create_table(dsn: str, table: str, *, typed: bool = True, primary_key: bool = True) -> TableSuiteSpec:
    """A clean cosine table of unit vectors, every fourth row without metadata; returns the spec it passes."""
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((ROWS, DIMS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    relation = sql.Identifier(SCHEMA, table)
    columns = sql.SQL("id text {}, embedding {}, document text, metadata jsonb, uri text").format(
        sql.SQL("PRIMARY KEY" if primary_key else "NOT NULL"),
        sql.SQL("vector({})").format(DIMS) if typed else sql.SQL("vector"))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(relation))
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(relation, columns))
        with conn.cursor() as cur:
            cur.executemany(sql.SQL("INSERT INTO {} VALUES (%s, %s::vector, %s, %s::jsonb, NULL)").format(relation), [
                (f"r{i:04d}", "[" + ",".join(map(str, vectors[i].tolist())) + "]", f"doc {i}",
                 None if i % 4 == 0 else f'{{"i": {i}}}') for i in range(ROWS)])
    return TableSuiteSpec(SCHEMA, table, expected_rows=ROWS, dimensions=DIMS, space="cosine", normalized=True,
                          metadata_rows=ROWS - len(range(0, ROWS, 4)))


Statement = str | tuple[str, tuple[str, ...]]


def _execute(dsn: str, table: str, statement: Statement) -> None:
    """Run a tampering statement, optionally with parameters; ``{table}`` is the quoted table."""
    text, params = (statement, ()) if isinstance(statement, str) else statement
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL(text).format(table=sql.Identifier(SCHEMA, table)), params)  # type: ignore[arg-type]


def _run(dsn: str, spec: TableSuiteSpec, root: Path, run_name: str = "run-1") -> dict[str, ExpectationOutcome]:
    outcomes = run_table_suite(dsn, spec, gx_root=root / "gx", data_docs_dir=root / "docs", run_name=run_name)
    assert len({o.expectation for o in outcomes}) == len(outcomes)
    return {o.expectation: o for o in outcomes}


def _failed(outcomes: dict[str, ExpectationOutcome]) -> set[str]:
    return {name for name, outcome in outcomes.items() if not outcome.success}


def test_clean_table_passes_every_expectation_and_builds_data_docs(dsn: str, tmp_path: Path) -> None:
    spec = _create_table(dsn, "Clean Table-1")
    outcomes = _run(dsn, spec, tmp_path)

    assert list(outcomes) == ALL_CHECKS
    assert _failed(outcomes) == set()
    assert outcomes["row_count_equals_expected"].observed == ROWS
    assert outcomes["metadata_present"].observed == {"metadata_rows": 225, "expected": 225}
    assert outcomes["embedding_unit_norm"].observed == {"unexpected_rows": 0, "sample_ids": []}
    assert {o.gx_type for o in outcomes.values()} == {"ExpectTableRowCountToEqual", "UnexpectedRowsExpectation"}
    assert (tmp_path / "docs" / "index.html").is_file()
    pages = list((tmp_path / "docs" / "validations").rglob("*.html"))
    assert len(pages) == 1
    assert "Every embedding has 8 dimensions." in pages[0].read_text()
    # The stored GX config refers to the connection through an environment variable only.
    assert "test-password" not in (tmp_path / "gx" / "gx" / "great_expectations.yml").read_text()


def _set_embedding(value: str, row: str) -> Statement:
    return "UPDATE {table} SET embedding = %s::vector WHERE id = %s", (value, row)


TAMPERS: dict[str, tuple[dict[str, bool], Statement, Callable[[TableSuiteSpec], TableSuiteSpec], set[str]]] = {
    # rows without metadata, so only the count can notice
    "rows_deleted": ({}, "DELETE FROM {table} WHERE id IN ('r0000', 'r0004', 'r0008')", lambda s: s,
                     {"row_count_equals_expected"}),
    "null_embedding": ({}, "UPDATE {table} SET embedding = NULL WHERE id = 'r0005'", lambda s: s,
                       {"embedding_not_null"}),
    "wrong_dimensions": ({"typed": False}, _set_embedding("[0.6,0.8]", "r0005"), lambda s: s,
                         {"embedding_dimensions"}),
    "zero_vector_cosine": ({}, _set_embedding("[0,0,0,0,0,0,0,0]", "r0005"),
                           lambda s: dataclasses.replace(s, normalized=False), {"embedding_nonzero_norm"}),
    "zero_vector_cosine_normalized": ({}, _set_embedding("[0,0,0,0,0,0,0,0]", "r0005"), lambda s: s,
                                      {"embedding_nonzero_norm", "embedding_unit_norm"}),
    "non_unit_vector": ({}, _set_embedding("[2,0,0,0,0,0,0,0]", "r0005"), lambda s: s, {"embedding_unit_norm"}),
    "metadata_removed": ({}, "UPDATE {table} SET metadata = NULL WHERE id = 'r0005'", lambda s: s,
                         {"metadata_present"}),
    # a copy of a row without metadata: the count and the duplicate check notice, metadata does not
    "duplicate_id": ({"primary_key": False}, "INSERT INTO {table} SELECT * FROM {table} WHERE id = 'r0008'",
                     lambda s: s, {"row_count_equals_expected", "id_unique"}),
}


@pytest.mark.parametrize("case", list(TAMPERS))
def test_tampered_table_fails_only_the_related_expectations(dsn: str, tmp_path: Path, case: str) -> None:
    options, statement, adjust, expected_failures = TAMPERS[case]
    table = f"Tampered-{case}"
    spec = adjust(_create_table(dsn, table, **options))
    assert _failed(_run(dsn, spec, tmp_path, "before")) == set()

    _execute(dsn, table, statement)
    outcomes = _run(dsn, spec, tmp_path, "after")

    assert _failed(outcomes) == expected_failures
    for name in expected_failures - {"row_count_equals_expected", "metadata_present"}:
        observed = outcomes[name].observed
        assert observed["unexpected_rows"] >= 1
        if "sample_ids" in observed:
            assert observed["sample_ids"] == ["r0008" if case == "duplicate_id" else "r0005"]


def test_observed_values_report_counts_and_samples(dsn: str, tmp_path: Path) -> None:
    spec = _create_table(dsn, "observed")
    _execute(dsn, "observed", "DELETE FROM {table} WHERE id IN ('r0000', 'r0004')")
    _execute(dsn, "observed", "UPDATE {table} SET metadata = NULL WHERE id IN ('r0001', 'r0002')")
    _execute(dsn, "observed", ("UPDATE {table} SET embedding = %s::vector WHERE id <= %s",
                               ("[0,3,0,0,0,0,0,0]", "r0019")))
    outcomes = _run(dsn, spec, tmp_path)

    assert outcomes["row_count_equals_expected"].observed == ROWS - 2
    assert outcomes["metadata_present"].observed == {"metadata_rows": 223, "expected": 225}
    unit = outcomes["embedding_unit_norm"].observed
    assert unit["unexpected_rows"] == 18
    assert len(unit["sample_ids"]) == 5
    assert set(unit["sample_ids"]) <= {f"r{i:04d}" for i in range(20)}


def test_norm_tolerance_is_honoured(dsn: str, tmp_path: Path) -> None:
    spec = _create_table(dsn, "tolerance")
    _execute(dsn, "tolerance", _set_embedding("[1.0004,0,0,0,0,0,0,0]", "r0003"))
    _execute(dsn, "tolerance", _set_embedding("[1.01,0,0,0,0,0,0,0]", "r0007"))

    assert _run(dsn, spec, tmp_path)["embedding_unit_norm"].observed == {"unexpected_rows": 1, "sample_ids": ["r0007"]}
    loose = dataclasses.replace(spec, norm_tolerance=0.02)
    assert _run(dsn, loose, tmp_path, "loose")["embedding_unit_norm"].success


def test_checks_follow_the_space_and_options(dsn: str, tmp_path: Path) -> None:
    spec = dataclasses.replace(_create_table(dsn, "l2 table"), space="l2", normalized=False, metadata_rows=None)
    _execute(dsn, "l2 table", _set_embedding("[0,0,0,0,0,0,0,0]", "r0005"))
    outcomes = _run(dsn, spec, tmp_path)

    assert set(ALL_CHECKS) - set(outcomes) == {"embedding_nonzero_norm", "embedding_unit_norm", "metadata_present"}
    assert _failed(outcomes) == set()
    assert [c.name for c in suite_checks(spec)] == list(outcomes)


def test_reruns_update_the_suite_and_accumulate_results(dsn: str, tmp_path: Path) -> None:
    spec = _create_table(dsn, "rerun")
    assert _failed(_run(dsn, spec, tmp_path / "a", "first")) == set()
    assert _failed(_run(dsn, spec, tmp_path / "b", "other-project")) == set()

    stricter = dataclasses.replace(spec, expected_rows=ROWS + 1, metadata_rows=None)
    outcomes = _run(dsn, stricter, tmp_path / "a", "second")

    assert _failed(outcomes) == {"row_count_equals_expected"}
    assert "metadata_present" not in outcomes
    assert len(list((tmp_path / "a" / "docs" / "validations").rglob("*.html"))) == 2
    assert len(list((tmp_path / "b" / "docs" / "validations").rglob("*.html"))) == 1
    # A new Data Docs directory for an existing project gets the earlier runs too.
    run_table_suite(dsn, spec, gx_root=tmp_path / "a" / "gx", data_docs_dir=tmp_path / "fresh-docs", run_name="3")
    assert len(list((tmp_path / "fresh-docs" / "validations").rglob("*.html"))) == 3


def test_processes_share_one_project(dsn: str, tmp_path: Path) -> None:
    specs = [_create_table(dsn, f"parallel_{i}") for i in range(3)]
    # spawned, not forked: a fork copies the parent's threads' held locks (an xdist worker's I/O thread among them),
    # and a child that needs one waits forever
    with ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(run_table_suite, dsn, spec, gx_root=tmp_path / "gx", data_docs_dir=tmp_path / "docs",
                               run_name="parallel") for spec in specs]
        results = [future.result(timeout=120) for future in futures]

    assert all(outcome.success for outcomes in results for outcome in outcomes)
    config = (tmp_path / "gx" / "gx" / "great_expectations.yml").read_text()
    assert all(f"{SCHEMA}.parallel_{i}:" in config for i in range(3))
    assert len(list((tmp_path / "docs" / "validations").rglob("*.html"))) == 3


def test_infrastructure_errors_raise(dsn: str, tmp_path: Path) -> None:
    missing = TableSuiteSpec(SCHEMA, "no such table", expected_rows=0, dimensions=DIMS, space="l2", normalized=False)
    with pytest.raises(QualitySuiteError, match=r"could not evaluate .*does not exist"):
        _run(dsn, missing, tmp_path)

    with psycopg.connect(dsn) as conn:
        port = conn.info.port
    unreachable = dsn.replace(f":{port}/", ":1/")
    with pytest.raises(QualitySuiteError, match="connect"):
        _run(unreachable, _create_table(dsn, "unreachable"), tmp_path)


def test_spec_is_checked() -> None:
    with pytest.raises(ValueError, match="space"):
        TableSuiteSpec(SCHEMA, "t", expected_rows=1, dimensions=3, space="dot", normalized=False)
    with pytest.raises(ValueError, match="%"):
        TableSuiteSpec(SCHEMA, "100%", expected_rows=1, dimensions=3, space="l2", normalized=False)


def test_shadow_and_live_table_share_one_suite(dsn: str, tmp_path: Path) -> None:
    shadow = _create_table(dsn, "shared__shadow_a1b2")
    live = _create_table(dsn, "shared")
    _execute(dsn, "shared", "DELETE FROM {table} WHERE id = 'r0000'")

    assert _failed(_run(dsn, shadow, tmp_path, "gate")) == set()
    assert _failed(_run(dsn, live, tmp_path, "live")) == {"row_count_equals_expected"}

    config = (tmp_path / "gx" / "gx" / "great_expectations.yml").read_text()
    assert config.count(f"{SCHEMA}.shared:") == 1
    assert f'"{SCHEMA}"."shared"' in config and "__shadow_" not in config
    suite_runs = list((tmp_path / "docs" / "validations" / SCHEMA / "shared").iterdir())
    assert sorted(path.name for path in suite_runs) == ["gate", "live"]
