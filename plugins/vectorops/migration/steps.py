"""The migration steps, one plain function each. The DAG and the CLI only wire them together.

prepare (claim, stage ids, plan chunks) → load (one mapped call per chunk) → finalize (primary key,
HNSW index, ANALYZE, checks, promote). Every step is safe to rerun: a chunk commits with its ledger
row, and a new run adopts an interrupted attempt of the same source.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Any

from vectorops.chroma import fetch
from vectorops.chroma import source as chroma_source
from vectorops.chroma.connection import recorded_conn_id
from vectorops.chroma.preflight import CollectionRef
from vectorops.chroma.source import SourceSpec
from vectorops.config import Settings
from vectorops.db import ownership, runtime
from vectorops.db.bootstrap import bootstrap
from vectorops.db.connect import connect
from vectorops.embedding import policy
from vectorops.errors import ValidationFailed
from vectorops.load import shadow, unlogged
from vectorops.load.hnsw_params import kind_note
from vectorops.load.index_kinds import index_suffix
from vectorops.load.indexing import IndexSpec
from vectorops.migration import chunk_load, claims, ledger, promotion, recovery, staging
from vectorops.migration.counts import changes_behind, verified_counts
from vectorops.migration.gate_beside_index import gate_beside_index
from vectorops.migration.plan import ChunkJob, CollectionPlan
from vectorops.migration.request import MigrationRequest
from vectorops.migration.summary import promoted_status
from vectorops.migration.target import check_target, collection_key_for
from vectorops.naming import table_name_for
from vectorops.quality import gate

log = logging.getLogger(__name__)

ID_SCAN_PAGE = 50_000


def _fingerprint(source: SourceSpec, info: chroma_source.CollectionInfo, plan: policy.EmbeddingPlan) -> str:
    # an interrupted attempt is only resumed by a run that would write the same vectors
    return (f"{source.uri}|{info.collection_id}|{info.count}|{info.dimensions}|{info.space}|{plan.mode}|"
            f"{plan.model}|{plan.dimensions}")


def preflight(settings: Settings, request: MigrationRequest, labels: list[str]) -> None:
    """Refuse, before any work, the targets this migration may not write: a table vectorops did not create under
    a target name, or a collection migrated into another schema before when the request does not say what becomes
    of that table. A dry run lists the refusal among its plan's warnings (:mod:`vectorops.migration.dry_run`).

    :raises ownership.NotCreatedByVectorops: naming the table.
    :raises TargetRefused: naming the table in the other schema and the choices.
    """
    with connect(runtime.start(settings), autocommit=True) as conn:
        platform = conn.execute("SELECT to_regclass('vectorops.collection_registry') IS NOT NULL").fetchone()
        for label in labels:
            ref = CollectionRef.parse(label)
            if platform and platform[0]:
                check_target(conn, request.source.uri, ref, request.target_schema, request.previous_table)
            else:  # a database vectorops never prepared: nothing in it is vectorops's
                ownership.require_absent_or_ours(conn, request.target_schema, table_name_for(ref.label))
                ownership.require_schema_ours_or_absent(conn, request.target_schema)


def prepare(settings: Settings, request: MigrationRequest, collection: str, run_id: str) -> CollectionPlan:
    """Claim the collection, create its shadow table, stage its ids and plan its chunks.

    :param settings: the platform settings.
    :param request: the validated request.
    :param collection: the collection's label.
    :param run_id: the run preparing it.
    :return: the collection plan that ``load`` and ``finalize`` take.
    """
    started = time.perf_counter()
    info = chroma_source.describe(request.source, collection)
    log.info("collection %r (%s/%s/%s in %s): reader %s: %s; space %s, HNSW m=%s ef_construction=%s ef_search=%s "
             "(%s)", collection, info.tenant, info.database, info.name, request.source.uri, info.reader,
             info.reader_reason, info.space, info.hnsw_m, info.hnsw_ef_construction, info.hnsw_ef_search,
             info.settings_origin or "as the server reports them")
    hnsw_note = kind_note(request.index, info.hnsw_m, info.hnsw_ef_construction)
    if hnsw_note:  # planned here, before anything is loaded: the build takes what pgvector can
        log.warning("collection %r: %s", collection, hnsw_note)
    embedding_plan = policy.plan_embedding(request.reembed, info, request.reembed != "never" and (
        fetch.has_documents(request.source, collection, info.space)))
    dsn = bootstrap(settings)
    with connect(dsn, autocommit=True) as conn:
        table = check_target(conn, request.source.uri, info.ref, request.target_schema, request.previous_table)
        # the key is chosen and claimed under a lock on the label (the store takes it too), so two migrations of
        # one label (two stores, two schemas) started at once never pick the same key
        conn.execute("SELECT pg_advisory_lock(hashtextextended('vectorops.store-key:' || %s, 0))", (info.ref.label,))
        try:
            collection = collection_key_for(conn, request.source.uri, info.ref, request.target_schema,
                                            request.previous_table)
            attempt = claims.claim(conn, collection=collection, run_id=run_id,
                                   fingerprint=_fingerprint(request.source, info, embedding_plan),
                                   target_schema=request.target_schema, table_name=table,
                                   source_uri=request.source.uri, ttl_s=settings.claim_ttl_s)
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtextextended('vectorops.store-key:' || %s, 0))",
                         (info.ref.label,))
        try:
            shadow.create_schema(conn, request.target_schema)  # committed now: parallel prepares need it
            with claims.holding_live_lock(conn, collection), conn.transaction():
                claims.verify_owner(conn, collection, attempt.attempt_id)
                shadow.create_shadow(conn, request.target_schema, attempt.shadow_table, embedding_plan.dimensions)
                recovery.ensure_intact(conn, collection=collection, attempt_id=attempt.attempt_id,
                                       schema=request.target_schema, shadow=attempt.shadow_table)
                if attempt.status == "scanning":
                    # reads are not bound by get_max_batch_size() (a write limit); big pages keep the
                    # offset scan from going quadratic
                    page = ID_SCAN_PAGE
                    # the staged ids are the source at its read point: a count() that moved since is no error
                    staged = staging.stage_ids(conn, request.source, collection, attempt.attempt_id, page,
                                               info.space, info.count)
                    staging.quarantine_refused(conn, spec=request.source, collection=collection,
                                               space=info.space, attempt_id=attempt.attempt_id, run_id=run_id,
                                               refused=staged.refused)
                    chunks = ledger.plan_chunks(conn, attempt.attempt_id, settings.chunk_rows)
                    ledger.mark_planned(conn, attempt.attempt_id, chunks=chunks, source_count=staged.read,
                                        dimensions=embedding_plan.dimensions, distance=info.space,
                                        embedding_mode=embedding_plan.mode,
                                        embedding_model=embedding_plan.table_model, reader=info.reader)
            ledger.add_prepare_seconds(conn, attempt.attempt_id, time.perf_counter() - started)
            chunk_nos = ledger.chunk_numbers(conn, attempt.attempt_id)
        except Exception as exc:
            record_failure(settings, attempt.attempt_id, exc)
            raise
    log.info("collection %r → %s.%s: %s rows, %s → %s dims, space %s, vectors: %s (%s), %s chunk(s), attempt %s%s",
             collection, request.target_schema, table, info.count, info.dimensions, embedding_plan.dimensions,
             info.space, embedding_plan.mode, embedding_plan.reason, len(chunk_nos),
             attempt.attempt_id, f" (resumed from run {attempt.adopted_from_run})" if attempt.adopted_from_run else "")
    return CollectionPlan(
        collection=collection, run_id=run_id, attempt_id=attempt.attempt_id, schema=request.target_schema,
        table=table, shadow=attempt.shadow_table, source=request.source, batch_size=request.batch_size, info=info,
        embedding=embedding_plan, chunks=tuple(chunk_nos), previous_table=request.previous_table,
        resumed_from_run=attempt.adopted_from_run, index=request.index)


def chunk_tasks(plans: list[CollectionPlan]) -> list[ChunkJob]:
    """Flatten collection plans into one mapped-task argument per chunk.

    :param plans: the collection plans.
    """
    return [ChunkJob(plan, chunk_no) for plan in plans for chunk_no in plan.chunks]


def load(settings: Settings, plan: CollectionPlan, chunk_no: int) -> dict[str, Any]:
    """Load one chunk of a planned collection (skipped when it already committed).

    :param settings: the platform settings.
    :param plan: the collection's plan.
    :param chunk_no: the chunk.
    :return: the :class:`~vectorops.migration.chunk_load.ChunkResult` as a dict.
    """
    dsn = runtime.start(settings)  # prepare already bootstrapped the schema
    fetch_batch = chroma_source.max_batch(plan.source, plan.batch_size, plan.collection)
    with connect(dsn, autocommit=True) as conn, claims.holding_live_lock(conn, plan.collection):
        try:
            with conn.transaction():
                claims.verify_owner(conn, plan.collection, plan.attempt_id)
                result = chunk_load.copy_chunk(conn, plan, chunk_no, fetch_batch=fetch_batch)
        except claims.CollectionBusy:
            raise
        except Exception as exc:
            record_failure(settings, plan.attempt_id, exc)
            raise
    if result.skipped:
        log.info("collection %r chunk %s: already loaded, skipped", plan.collection, chunk_no)
    else:
        log.info("collection %r chunk %s: read %s, loaded %s, quarantined %s in %.2fs (%.0f rows/s)%s",
                 plan.collection, chunk_no, result.read, result.loaded, result.quarantined, result.seconds,
                 result.read / result.seconds if result.seconds else 0.0,
                 f"; re-embedded {result.reembedded} ({result.reembedded / result.encode_seconds:.0f} sentences/s), "
                 f"kept {result.kept_vectors} old vector(s)" if result.encode_seconds else "")
    return asdict(result)


def finalize(settings: Settings, plan: CollectionPlan) -> dict[str, Any]:
    """Check the counts, add the primary key, build the index, ANALYZE and promote.

    :param settings: the platform settings.
    :param plan: the collection's plan.
    :return: the collection's summary.
    :raises IncompleteMigration: when a chunk is missing or the counts do not add up; nothing is promoted.
    """
    started = time.perf_counter()
    dsn = runtime.start(settings)  # prepare already bootstrapped the schema
    collection, attempt_id = plan.collection, plan.attempt_id
    schema, shadow_table, table = plan.schema, plan.shadow, plan.table
    info, embedding_plan = plan.info, plan.embedding
    gate.prefetch(plan)
    with connect(dsn, autocommit=True) as conn, claims.holding_live_lock(conn, collection):
        try:
            claims.verify_owner(conn, collection, attempt_id)
            with conn.transaction():
                recovery.ensure_intact(conn, collection=collection, attempt_id=attempt_id, schema=schema,
                                       shadow=shadow_table)
            counts = verified_counts(conn, plan)
            logged_seconds = unlogged.make_logged(conn, schema, shadow_table)
            if logged_seconds is not None:
                log.info("collection %r: shadow table %s.%s made logged in %.2fs", collection, schema, shadow_table,
                         logged_seconds)
            shadow.add_primary_key(conn, schema, shadow_table)
            spec = IndexSpec(
                schema=schema, table=shadow_table, index_name=shadow_table + index_suffix(plan.index),
                space=info.space, dimensions=embedding_plan.dimensions, rows=counts["loaded"], m=plan.hnsw.m,
                ef_construction=plan.hnsw.ef_construction, cap_mb=settings.max_maintenance_work_mem_mb,
                kind=plan.index)

            def validate() -> gate.ValidationReport:
                validated = time.perf_counter()
                found = gate.gate(settings, conn, plan=plan, counts=counts, metadata_rows=counts["metadata"],
                                  kept_vectors=counts["kept"])
                ledger.set_validate_seconds(conn, attempt_id, time.perf_counter() - validated)
                return found

            report, build = gate_beside_index(conn, dsn, spec, validate)
            prepare_seconds, load_seconds = ledger.working_seconds(conn, attempt_id)
            finalize_seconds = time.perf_counter() - started
            ledger.set_finalize_seconds(conn, attempt_id, build.seconds, finalize_seconds)
            # working time of the attempt: prepare + chunk loads + finalize (not the idle time between tasks)
            total = prepare_seconds + load_seconds + finalize_seconds
            rows_per_s = counts["staged"] / total if total > 0 else None
            point = ledger.read_point_of(conn, attempt_id)
            behind = changes_behind(plan, point.read_point, report.gone)
            promotion.promote(conn, collection=collection, schema=schema, table=table, shadow=shadow_table,
                              attempt_id=attempt_id, registry={
                                  "collection_key": collection, "tenant": info.tenant, "database": info.database,
                                  "collection": info.name, "table_schema": schema, "table_name": table,
                                  "dimensions": embedding_plan.dimensions, "distance": info.space,
                                  "embedding_model": embedding_plan.table_model,
                                  "source_embedding_model": info.embedding_model,
                                  "embedding_mode": embedding_plan.mode, "reembedded_count": counts["reembedded"],
                                  "kept_vector_count": counts["kept"], "metadata_count": counts["metadata"],
                                  "normalized": gate.is_normalized(embedding_plan, counts["kept"]),
                                  "content_sha256": report.baseline_sha256, "source_count": counts["source"],
                                  "loaded_count": counts["loaded"], "quarantined_count": counts["quarantined"],
                                  "index_name": table + index_suffix(plan.index) if build.index_name else None,
                                  "index_method": build.method, "hnsw_m": plan.hnsw.m,
                                  "hnsw_ef_construction": plan.hnsw.ef_construction,
                                  "source_hnsw_m": info.hnsw_m,
                                  "source_hnsw_ef_construction": info.hnsw_ef_construction,
                                  "hnsw_ef_search": info.hnsw_ef_search, "ivfflat_lists": build.lists,
                                  "index_kind": plan.index,
                                  "source_uri": plan.source.uri,
                                  "source_conn_id": recorded_conn_id(plan.source),
                                  "source_collection_id": info.collection_id, "run_id": plan.run_id,
                                  "attempt_id": attempt_id, "rows_per_s": rows_per_s,
                                  "read_point": point.read_point, "read_point_at": point.at,
                                  "changes_behind": behind},
                              previous_table=plan.previous_table)
            quarantined_ids = ledger.quarantined_ids(conn, attempt_id, limit=20)
        except claims.CollectionBusy:
            raise
        except ValidationFailed as exc:
            _reject(conn, collection, attempt_id, exc)
            raise
        except Exception as exc:
            record_failure(settings, attempt_id, exc)
            raise
    summary = {
        "collection": collection, "tenant": info.tenant, "database": info.database, "name": info.name,
        "reader": info.reader, "table": f"{schema}.{table}", "read": counts["staged"], "loaded": counts["loaded"],
        "quarantined": counts["quarantined"], "quarantined_ids": quarantined_ids,
        "dimensions": embedding_plan.dimensions, "space": info.space, "vectors": embedding_plan.mode,
        "reembedded": counts["reembedded"], "validation": "passed", "index": build.method,
        "load_seconds": round(load_seconds, 3),
        "index_seconds": round(build.seconds, 3), "rows_per_s": round(rows_per_s or 0.0, 1),
        "attempt_id": attempt_id, "run_id": plan.run_id, "read_point": point.read_point, "gone": report.gone,
        "written_after_read_point": report.written_after, "changes_behind": behind,
        "status": promoted_status(behind),
        "hnsw": {"m": plan.hnsw.m, "ef_construction": plan.hnsw.ef_construction, "source_m": info.hnsw_m,
                 "source_ef_construction": info.hnsw_ef_construction},
        "warnings": [plan.hnsw_note] if plan.hnsw_note else [],
    }
    log.info("collection %r %s to %s: read %s at read point %s, loaded %s, quarantined %s%s, deleted since %s; "
             "%s dims, %s; %.0f rows/s", collection, summary["status"], summary["table"], summary["read"],
             point.read_point, summary["loaded"], summary["quarantined"],
             f" ({', '.join(quarantined_ids)})" if quarantined_ids else "", report.gone, embedding_plan.dimensions,
             info.space, summary["rows_per_s"])
    return summary


def _reject(conn: Any, collection: str, attempt_id: str, error: ValidationFailed) -> None:
    """A shadow table that failed validation: keep it for inspection, never resume it, release the claim."""
    with conn.transaction():
        ledger.mark_rejected(conn, attempt_id, str(error))
        ledger.release_claim(conn, collection, attempt_id)
    log.error("collection %r: attempt %s rejected, not promoted; the live table is unchanged. %s", collection,
              attempt_id, error)


def record_failure(settings: Settings, attempt_id: str, error: BaseException) -> None:
    """Mark an attempt failed with its error (a rerun resumes it). Never masks the original error.

    :param settings: the platform settings.
    :param attempt_id: the attempt.
    :param error: what failed it.
    """
    try:
        with connect(runtime.start(settings), autocommit=True) as conn:
            ledger.mark_failed(conn, attempt_id, f"{type(error).__name__}: {error}")
    except Exception:  # the original error matters more than the bookkeeping
        log.exception("could not record the failure of attempt %s", attempt_id)
