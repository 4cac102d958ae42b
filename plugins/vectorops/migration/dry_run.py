"""The dry-run plan of a migration: what it would read, write and need, with nothing written anywhere."""

from __future__ import annotations

import shutil
from typing import Any

from vectorops.chroma import fetch, source
from vectorops.config import Settings, machine_memory_mb
from vectorops.db.connect import connect
from vectorops.embedding import policy
from vectorops.load import index_kinds, indexing
from vectorops.load.hnsw_params import kind_note, pgvector_hnsw
from vectorops.migration.request import MigrationRequest
from vectorops.naming import table_name_for


def dry_run_plan(settings: Settings, request: MigrationRequest, collection: str) -> dict[str, Any]:
    """What a migration of ``collection`` would do, without writing anything anywhere.

    :raises RequestError: when the request's ``reembed`` cannot apply to the collection (no documents to embed).
    """
    info = source.describe(request.source, collection)
    has_documents = fetch.has_documents(request.source, collection, info.space)
    plan = policy.plan_embedding(request.reembed, info, has_documents)  # RequestError: a reembed it cannot take
    sampled = text_bytes = 0
    for batch in fetch.iter_records(request.source, collection, info.space, page=500, limit=500):
        sampled += len(batch.ids)
        text_bytes += sum(len(d.encode("utf-8", "surrogatepass")) for d in batch.documents if d)
        text_bytes += sum(len(str(m)) for m in batch.metadatas if m)
        text_bytes += sum(len(i) for i in batch.ids)
    dims = plan.dimensions or 0
    est_bytes = info.count * (dims * 4 + 8) + (int(text_bytes / sampled * info.count) if sampled else 0)
    hnsw = pgvector_hnsw(info.hnsw_m, info.hnsw_ef_construction)  # what finalize will build
    hnsw_note = kind_note(request.index, info.hnsw_m, info.hnsw_ef_construction)
    index_mb = _index_mb(request.index, info.count, dims, hnsw.m)
    current = _current_maintenance_work_mem(settings)
    table, previous, refusal = _target(settings, request, info.ref, collection)
    return {
        "collection": collection, "tenant": info.tenant, "database": info.database, "name": info.name,
        "reader": info.reader, "reader_reason": info.reader_reason,
        "table": f"{request.target_schema}.{table}", "previous_tables": previous,
        "rows": info.count, "dimensions": plan.dimensions, "source_dimensions": info.dimensions,
        "space": info.space, "bytes": est_bytes, "vectors": plan.mode, "vectors_reason": plan.reason,
        "embedding_model": plan.table_model, **_reembed_counts(request, collection, plan, info.space),
        "chunks": -(-info.count // settings.chunk_rows) if info.count else 0,
        "index_memory_mb": index_mb,
        "build_maintenance_work_mem_mb": _build_mem_mb(request.index, info.space, info.count, dims, hnsw.m,
                                                       settings.max_maintenance_work_mem_mb),
        "server_maintenance_work_mem": current,
        # as the registry records them: m and ef_construction built, source_* the collection's own
        "hnsw": {"m": hnsw.m, "ef_construction": hnsw.ef_construction, "ef_search": info.hnsw_ef_search,
                 "source_m": hnsw.source_m, "source_ef_construction": hnsw.source_ef_construction},
        "index": _index_plan(request.index, info.count, plan.dimensions, info.hnsw_ef_search),
        "warnings": ([hnsw_note] if hnsw_note else [])
        + memory_warnings(index_mb, settings.max_maintenance_work_mem_mb,
                          None if settings.external_dsn else machine_memory_mb(),
                          None if settings.external_dsn else _free_shm_mb())
        + [f"{name} (in another schema) {_FATE.get(request.previous_table, _FATE['refuse'])}" for name in previous]
        + ([f"the run would be refused: {refusal}"] if refusal else []),
    }


def _build_mem_mb(kind: str, space: str, rows: int, dims: int, m: int, cap_mb: int) -> int:
    """The ``maintenance_work_mem`` :func:`vectorops.load.indexing.build_index` will set (0: no dimensions yet)."""
    if not dims:
        return 0
    if kind == "ivfflat":
        return indexing.ivfflat_mem_mb(rows, dims, cap_mb, halfvec=index_kinds.IndexedColumn(kind, space, dims).halfvec)
    return indexing.maintenance_mem_mb(rows, index_kinds.graph_dimensions(kind, dims), m, cap_mb)


def _index_mb(kind: str, rows: int, dims: int, m: int) -> int:
    if not dims:
        return 0
    if kind == "ivfflat":  # the vectors, once, in their lists
        return int(rows * (dims * 4 + 8) * 1.1 / (1024 * 1024)) + 1
    return indexing.estimate_hnsw_mb(rows, index_kinds.graph_dimensions(kind, dims), m)


def _index_plan(kind: str, rows: int, dims: int | None, ef_search: int) -> dict[str, Any]:
    """The index the migration builds and the knob searches start at; ``built`` says when it is not built now
    (an empty collection's waits for its first write; vectors too long for the kind get none)."""
    if not rows or not dims:
        built = "at the first write (the collection is empty)"
    elif not index_kinds.IndexedColumn(kind, "l2", dims).indexable():
        built = f"never: pgvector cannot index {dims} dimensions in {kind}; searches are exact"
    else:
        built = "now"
    lists = index_kinds.ivfflat_lists(rows) if kind == "ivfflat" and built == "now" else None
    return {"kind": kind, "built": built, "lists": lists, "knob": index_kinds.KNOBS[kind],
            "default": index_kinds.default_effort(kind, ef_search=ef_search, lists=lists)}


#: what a migration does with the collection's table in another schema, per ``previous_table``
_FATE = {"drop": "is dropped once the new table is promoted", "keep": "is kept, registered under its own key",
         "refuse": "holds the collection: the run is refused unless previous_table is keep or drop"}


def _target(settings: Settings, request: MigrationRequest, ref: Any,
            collection: str) -> tuple[str, list[str], str | None]:
    """The live table the migration would write, the collection's tables in other schemas (what
    ``previous_table`` keeps or drops), as the registry has them, and why the run would be refused (a target
    vectorops did not create, a collection in another schema without a choice), if it would; the table of the
    name alone when the server is not running or has no registry."""
    from vectorops.db import runtime
    from vectorops.db.ownership import NotCreatedByVectorops
    from vectorops.migration import steps, target

    fallback: tuple[str, list[str], str | None] = table_name_for(collection), [], None
    if not settings.external_dsn and runtime.running_port(settings.pgdata) is None:
        return fallback
    try:
        steps.preflight(settings, request, [collection])
        refusal = None
    except (NotCreatedByVectorops, target.TargetRefused) as exc:
        refusal = str(exc)
    with connect(runtime.dsn(settings), autocommit=True) as conn:
        registry = conn.execute("SELECT to_regclass('vectorops.owned_objects')").fetchone()
        if registry is None or registry[0] is None:
            return fallback[0], [], refusal
        table = table_name_for(collection) if refusal else target.table_for(
            conn, request.source.uri, ref, request.target_schema)
        others = target.elsewhere(conn, request.source.uri, ref, request.target_schema)
    return table, [f"{schema}.{name}" for _key, schema, name in others], refusal


def memory_warnings(index_mb: int, cap_mb: int, memory_mb: int | None, shm_free_mb: int | None) -> list[str]:
    """What the index build's memory estimate exceeds, one line each with the numbers.

    :param index_mb: the estimated HNSW graph size.
    :param cap_mb: ``VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB``: above it the build spills to disk and slows down.
    :param memory_mb: the database machine's memory, ``None`` when unknown (an external server).
    :param shm_free_mb: free space in ``/dev/shm``, where parallel index builds keep the graph (dynamic shared
        memory); ``None`` when unknown.
    """
    warnings = []
    if index_mb > cap_mb:
        warnings.append(f"the index estimate of {index_mb} MB exceeds VECTOROPS_MAX_MAINTENANCE_WORK_MEM_MB="
                        f"{cap_mb}: the build gets {cap_mb} MB and spills to disk (much slower)")
    if memory_mb is not None and index_mb > memory_mb:
        warnings.append(f"the index estimate of {index_mb} MB exceeds this machine's memory ({memory_mb} MB)")
    if shm_free_mb is not None and min(index_mb, cap_mb) > shm_free_mb:
        warnings.append(f"the index build's {min(index_mb, cap_mb)} MB exceed the free space of /dev/shm "
                        f"({shm_free_mb} MB), which parallel index builds use: the build fails unless /dev/shm "
                        "is enlarged or the cap lowered")
    return warnings


def _free_shm_mb() -> int | None:
    try:
        return shutil.disk_usage("/dev/shm").free // (1024 * 1024)
    except OSError:
        return None


def _current_maintenance_work_mem(settings: Settings) -> str:
    from vectorops.db import runtime

    if not settings.external_dsn and runtime.running_port(settings.pgdata) is None:
        return "unknown (server not running)"
    try:
        with connect(runtime.dsn(settings), autocommit=True) as conn:
            row = conn.execute("SHOW maintenance_work_mem").fetchone()
            return str(row[0]) if row else "unknown"
    except Exception as exc:
        return f"unknown ({type(exc).__name__})"


def _reembed_counts(request: MigrationRequest, collection: str, plan: policy.EmbeddingPlan,
                    space: str) -> dict[str, int]:
    """How many records would be re-embedded, and how many without a document would be kept or quarantined."""
    if plan.mode == policy.COPY:
        return {"reembed_count": 0, "no_document_kept": 0, "no_document_quarantined": 0}
    counts = {"reembed_count": 0, "no_document_kept": 0, "no_document_quarantined": 0}
    for batch in fetch.iter_records(request.source, collection, space):
        matrix, unusable = policy.source_vectors(batch.embeddings, len(batch.ids), plan, space)
        for i, document in enumerate(batch.documents):
            if policy.gets_new_vector(plan, document, unusable[i]):
                counts["reembed_count"] += 1
            elif plan.mode == policy.COLLECTION:
                fits = not unusable[i] and matrix.shape[1] == plan.dimensions
                counts["no_document_kept" if fits else "no_document_quarantined"] += 1
            elif unusable[i]:
                counts["no_document_quarantined"] += 1
    return counts


def plan_note(plans: list[dict[str, Any]], source_uri: str, target_schema: str) -> str:
    """The dry run's plan as a short Markdown note for the DAG run (at most a line per collection).

    :param plans: :func:`dry_run_plan` per collection.
    :param source_uri: the Chroma source.
    :param target_schema: where the tables would go.
    """
    rows = sum(int(p["rows"]) for p in plans)
    lines = [f"**Dry run**: nothing was written. {len(plans)} collection(s), {rows:,} rows from {source_uri} "
             f"→ schema `{target_schema}`."]
    for p in plans:
        lines.append(f"- `{p['collection']}`: {p['rows']:,} rows, {p['dimensions'] or '?'} dims, {p['space']}, "
                     f"vectors {p['vectors']} ({p['reembed_count']:,} re-embedded), index "
                     f"~{p['index_memory_mb']} MB, read by {p['reader']}")
        lines += [f"  - **warning**: {w}" for w in p.get("warnings", [])]
    return "\n".join(lines)
