"""The validation gate before promotion, and later checks of live tables.

Each validation runs the Great Expectations table suite (``quality_suites``) and the parity checks with
the source (``parity``), stores one row per expectation in ``vectorops.validation_results`` and returns a
:class:`ValidationReport`. The gate raises :class:`ValidationFailed`, which blocks the promotion.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from vectorops import samples
from vectorops.chroma import api_child
from vectorops.chroma.files import changes
from vectorops.chroma.source import RecordBatch
from vectorops.chroma.staged import settled_files
from vectorops.config import Settings
from vectorops.db import ownership, runtime
from vectorops.db.connect import connect
from vectorops.db.rows import one_value
from vectorops.db.sql_files import sql_text
from vectorops.embedding import policy
from vectorops.errors import ValidationFailed
from vectorops.migration import ledger
from vectorops.migration.plan import CollectionPlan
from vectorops.quality import gx_import, parity, sampling
from vectorops.quality.exact_search import ExactTopK
from vectorops.quality.suites import ExpectationOutcome, TableSuiteSpec, run_table_suite
from vectorops.redaction import error_line

log = logging.getLogger(__name__)

TOP10_QUERIES = 20
TABLE_TOP_K_SPARE = 40  # neighbours kept past the 10th per query, for rows the top-10 check leaves out


@dataclass
class ValidationReport:
    """The outcome of one validation of one table."""

    validation_id: str
    stage: str  # "gate" (shadow table, before promotion) or "live"
    collection: str
    schema: str
    table: str
    run_id: str | None
    attempt_id: str | None
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    baseline_sha256: str | None = None
    seconds: float = 0.0
    gone: int = 0  # staged ids the source no longer held (deleted after the read point)
    written_after: int = 0  # rows that differ because their source record was written after the read point

    @property
    def success(self) -> bool:
        """Every expectation passed."""
        return all(o.success for o in self.outcomes)

    @property
    def failed_expectations(self) -> list[dict[str, Any]]:
        """The failed expectations as ``{"expectation", "observed"}``, as alerts carry them."""
        return [{"expectation": o.expectation, "observed": o.observed} for o in self.outcomes if not o.success]

    def describe(self) -> str:
        """One line for logs and error messages."""
        failed = self.failed_expectations
        if not failed:
            return (f"collection {self.collection!r} ({self.schema}.{self.table}): all {len(self.outcomes)} "
                    f"expectations passed in {self.seconds:.1f}s")
        details = "; ".join(f"{f['expectation']}: {json.dumps(f['observed'], default=str)[:300]}" for f in failed)
        return (f"collection {self.collection!r} ({self.schema}.{self.table}) failed {len(failed)} of "
                f"{len(self.outcomes)} expectations: {details}")


def _suite(settings: Settings, dsn: str, spec: TableSuiteSpec, name: str) -> list[ExpectationOutcome]:
    return run_table_suite(dsn, spec, gx_root=settings.home / "gx", data_docs_dir=settings.home / "data_docs",
                           run_name=name)


def prefetch(plan: CollectionPlan) -> None:
    """Start what the gate of ``plan`` will wait for: Great Expectations' import, and the child process that asks
    Chroma (a local store's).

    Called as the finalize step starts: both then overlap the steps before the gate, which wait on the server
    (``SET LOGGED``, the primary key), instead of opening the gate.
    """
    try:
        if plan.embedding.dimensions is not None:
            gx_import.prefetch()
        if not plan.source.host:
            api_child.warm_up()
    except Exception:  # only a head start: the gate starts what it needs itself and reports what fails
        log.debug("could not start the gate's prefetch", exc_info=True)


def store_report(conn: psycopg.Connection, report: ValidationReport) -> None:
    """Write one ``vectorops.validation_results`` row per expectation of ``report``."""
    with conn.cursor() as cur:
        cur.executemany(
            sql_text("quality/insert_validation_result"),
            [(report.validation_id, report.stage, report.collection, report.schema, report.table, report.run_id,
              report.attempt_id, o.gx_type, o.expectation, o.success, json.dumps(o.observed, default=str))
             for o in report.outcomes])


def gate(settings: Settings, conn: psycopg.Connection, *, plan: CollectionPlan, counts: dict[str, int],
         metadata_rows: int, kept_vectors: int) -> ValidationReport:
    """Validate a loaded shadow table before promotion.

    :param plan: the collection plan from ``migration.prepare``.
    :param counts: ``source``, ``loaded`` and ``quarantined`` from the chunk ledger.
    :param metadata_rows: loaded rows that carry metadata.
    :param kept_vectors: rows that kept their old vector although the collection was re-embedded.
    :raises ValidationFailed: when any expectation fails (the results are stored first).
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    embedding_plan, space = plan.embedding, plan.info.space
    schema, shadow = plan.schema, plan.shadow
    report = ValidationReport(uuid.uuid4().hex, "gate", plan.collection, schema, shadow, plan.run_id, plan.attempt_id)
    spec = TableSuiteSpec(
        schema=schema, table=shadow, expected_rows=counts["source"] - counts["quarantined"],
        dimensions=int(embedding_plan.dimensions or 0), space=space,
        normalized=is_normalized(embedding_plan, kept_vectors), metadata_rows=metadata_rows)
    report.outcomes.append(ExpectationOutcome(
        "rows_loaded", counts["loaded"] > 0 or counts["source"] == 0,
        {"source": counts["source"], "loaded": counts["loaded"], "quarantined": counts["quarantined"]},
        "vectorops.parity"))
    # side by side: the GX suite (SQL-bound), Chroma's answers (another process) and the parity pass (this thread)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="gate") as pool:
        suite = pool.submit(_suite, settings, runtime.dsn(settings), spec, f"gate-{plan.attempt_id}") if (
            embedding_plan.dimensions is not None) else None
        ids = samples.sample_ids(conn, schema, shadow, settings.validation_sample, settings.validation_seed)
        query_ids, queries = samples.query_sample(conn, schema, shadow, ids, TOP10_QUERIES)
        compares_vectors = embedding_plan.mode != policy.COLLECTION
        asked = sampling.neighbours_to_ask(_written_since(conn, plan)) if compares_vectors else 0
        answer = pool.submit(_ask_chroma, plan, ids, queries, asked)
        source_top_k = ExactTopK(queries, space) if compares_vectors and query_ids else None
        # the table's exact top 10 from the parity pass's read of its rows, not 20 scans on the server beside the
        # index build; deep enough to leave out the rows that differ on purpose
        table_top_k = ExactTopK(queries, space, 10 + TABLE_TOP_K_SPARE) if compares_vectors and query_ids else None
        checks, report.baseline_sha256, differ, drift = parity.checksum_parity(
            conn, plan, fetch_batch=min(plan.batch_size, 5000), source_top_k=source_top_k, table_top_k=table_top_k)
        report.gone, report.written_after = drift.gone, drift.written_after
        batch, neighbours = answer.result()
        wider = sampling.neighbours_to_ask(differ | _written_since(conn, plan)) if compares_vectors else 0
        if wider > asked:  # the source was written during the migration: room to leave out what differs
            batch, neighbours = _ask_chroma(plan, ids, queries, wider)
        # read after Chroma answered, so it covers every write its answer can hold
        differ |= _written_since(conn, plan)
        ids, batch = _unchanged(ids, batch, differ)
        checks += sampling.sample_equality(conn, plan, ids=ids, seed=settings.validation_seed, batch=batch)
        checks.append(sampling.top10_overlap(
            conn, plan, query_ids=query_ids, queries=queries,
            source_exact=source_top_k.result() if source_top_k else None, differ=differ, neighbours=neighbours,
            min_overlap=settings.min_top10_overlap, table_exact=table_top_k))
        if suite is not None:
            report.outcomes += suite.result()
    report.outcomes += checks
    report.seconds = time.perf_counter() - started
    store_report(conn, report)
    log.info("validation gate: %s (%.1f s of CPU in this process)", report.describe(),
             time.process_time() - cpu_started)
    if not report.success:
        raise ValidationFailed(report)
    return report


def _ask_chroma(plan: CollectionPlan, ids: list[str], queries: Any, asked: int) -> Any:
    """:func:`sampling.ask_chroma` for the plan's collection, timed in the log."""
    asking = time.perf_counter()
    answer = sampling.ask_chroma(plan.source, plan.collection, ids, queries, asked)
    log.info("collection %r: asked Chroma for %s sample record(s) and %s neighbour(s) of %s queries in %.2fs",
             plan.collection, len(ids), asked, len(queries), time.perf_counter() - asking)
    return answer


def _written_since(conn: psycopg.Connection, plan: CollectionPlan) -> set[str]:
    """The ids the source added, updated or upserted after the attempt's read point (none for a source without
    sequence numbers, or files unchanged since staging)."""
    point = ledger.read_point_of(conn, plan.attempt_id)
    if point.read_point is None:
        return set()
    files = settled_files(plan.source, plan.collection, plan.info.space, point.stamp)
    if files is None or files.stamp == point.stamp:
        return set()
    return set(changes.ids_changed_since(files, point.read_point))


def _unchanged(ids: list[str], batch: RecordBatch | None, differ: set[str]
               ) -> tuple[list[str], RecordBatch | None]:
    """The sampled ids Chroma still holds and nobody wrote since the read point, with Chroma's records of them."""
    if batch is None:
        return ids, batch
    keep = [i for i, record_id in enumerate(batch.ids) if record_id not in differ]
    if len(keep) == len(ids):
        return ids, batch
    vectors = batch.embeddings
    return [batch.ids[i] for i in keep], RecordBatch(
        ids=[batch.ids[i] for i in keep], embeddings=None if vectors is None else [vectors[i] for i in keep],
        documents=[batch.documents[i] for i in keep], metadatas=[batch.metadatas[i] for i in keep],
        uris=[batch.uris[i] for i in keep])


def is_normalized(plan: policy.EmbeddingPlan, kept_vectors: int) -> bool:
    """Whether every vector of the table is expected to have unit length."""
    return plan.mode == policy.COLLECTION and plan.normalizes and kept_vectors == 0


def validate_live(settings: Settings, collection: str, run_id: str | None = None) -> ValidationReport:
    """Re-check a promoted table against what its migration recorded (counts, suite, checksum baseline).

    A check that cannot run (GX breaks, a query fails, anything raised after the registry lookup) does not abort
    the caller's other collections: it is stored as the failed outcome ``validation_ran`` holding the error, so the
    report fails, is alerted like any failure, and the history shows why.

    :raises ValueError: when ``collection`` was never migrated.
    """
    started = time.perf_counter()
    dsn = runtime.start(settings)
    with connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            sql_text("registry/select_live_table"),
            (collection,)).fetchone()
        if row is None:
            known = [r[0] for r in conn.execute(
                "SELECT DISTINCT collection_key FROM vectorops.collection_registry ORDER BY 1")]
            raise ValueError(f"collection {collection!r} has not been migrated; migrated collections: "
                             f"{', '.join(map(repr, known)) or 'none'}")
        schema, table = row[0], row[1]
        report = ValidationReport(uuid.uuid4().hex, "live", collection, schema, table, run_id, None)
        try:
            _check_live(settings, dsn, conn, report, row)
        except Exception as exc:  # any failure of one table's checks is that table's failed validation
            log.exception("live validation of collection %r (%s.%s) could not run", collection, schema, table)
            report.outcomes.append(ExpectationOutcome("validation_ran", False, {"error": error_line(exc)[:500]},
                                                      "vectorops.quality"))
        return _finish_live(conn, report, started)


def _check_live(settings: Settings, dsn: str, conn: psycopg.Connection, report: ValidationReport,
                row: tuple[Any, ...]) -> None:
    schema, table, loaded, dimensions, space, normalized, metadata_rows, baseline, app_written = row
    exists = one_value(conn.execute("SELECT to_regclass(%s) IS NOT NULL",
                                    (sql.Identifier(schema, table).as_string(conn),)))
    if not exists:
        report.outcomes.append(ExpectationOutcome("table_exists", False, {"table": f"{schema}.{table}"},
                                                  "vectorops.parity"))
        return
    if not ownership.owns_table(conn, schema, table):  # dropped and re-created by someone else: not ours to judge
        report.outcomes.append(ExpectationOutcome("table_created_by_vectorops", False, {
            "table": f"{schema}.{table}", "problem": "the table under this name is not the one vectorops created"},
            "vectorops.ownership"))
        return
    # A collection an application created through vectorops.store changes by design: its rows are not compared
    # with a migration's counts or checksum, only checked for what every row must satisfy. That is a property of
    # the registry identity (app_written: set by the store when it creates the table, cleared by a promotion).
    spec = TableSuiteSpec(schema=schema, table=table, expected_rows=None if app_written else int(loaded),
                          dimensions=int(dimensions or 0), space=space, normalized=bool(normalized),
                          metadata_rows=None if app_written else metadata_rows)
    report.outcomes += _suite(settings, dsn, spec, f"live-{report.collection}")
    if baseline is not None and not app_written:
        current, rows = parity.table_checksum(conn, schema, table)
        report.outcomes.append(ExpectationOutcome("checksum_matches_baseline", current == baseline, {
            "baseline_sha256": baseline, "table_sha256": current, "rows": rows}, "vectorops.parity"))


def _finish_live(conn: psycopg.Connection, report: ValidationReport, started: float) -> ValidationReport:
    report.seconds = time.perf_counter() - started
    store_report(conn, report)
    conn.execute(sql_text("registry/update_validation"), (report.success, report.collection))
    log.info("live validation: %s", report.describe())
    return report


def migrated_collections(settings: Settings) -> list[str]:
    """Every collection in the registry, sorted."""
    with connect(runtime.start(settings), autocommit=True) as conn:
        return [r[0] for r in conn.execute(
            "SELECT DISTINCT collection_key FROM vectorops.collection_registry ORDER BY 1")]


def alert_failure(report: ValidationReport, *, event: str, dag_id: str | None, run_id: str | None) -> None:
    """Send a validation failure to every configured alert channel (never raises)."""
    from vectorops.alerts import send

    send.send_alert(send.AlertEvent(
        event=event, dag_id=dag_id, run_id=run_id, collection=report.collection,
        table=f"{report.schema}.{report.table}", failed_expectations=report.failed_expectations,
        run_url=send.run_url(dag_id, run_id) if dag_id and run_id else None, message=report.describe()))
