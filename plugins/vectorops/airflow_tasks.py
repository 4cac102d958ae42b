"""Airflow glue for the migration DAG: read params and context, call the steps, emit Asset events.

Imported only inside task bodies, so DAG parsing stays cheap.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from vectorops import dry_run, migration, migration_request
from vectorops.config import load_settings
from vectorops.summary import format_table

log = logging.getLogger(__name__)


def _context() -> Any:
    from airflow.sdk import get_current_context

    return get_current_context()


def _request() -> migration_request.MigrationRequest:
    return migration_request.request_from_params(dict(_context()["params"]), load_settings())


def _run_id() -> str:
    return str(_context()["run_id"])


def plan_request() -> list[str]:
    """Validate the params before any work starts and list the collections (none on a dry run)."""
    settings = load_settings()
    request = _request()
    collections = migration_request.select_collections(request)
    if request.dry_run:
        plans = [dry_run.dry_run_plan(settings, request, name) for name in collections]
        for plan in plans:
            log.info("dry run plan: %s", json.dumps(plan, sort_keys=True))
        log.info("dry run: %s collection(s), %s rows; nothing was written", len(plans), sum(p["rows"] for p in plans))
        return []
    log.info("migrating %s collection(s) from %s into schema %s: %s", len(collections), request.source.uri,
             request.target_schema, ", ".join(collections))
    return collections


def prepare_collection(collection: str) -> dict[str, Any]:
    """Claim, stage and plan one collection."""
    _context()["collection"] = collection
    return migration.prepare(load_settings(), _request(), collection, _run_id())


def load_chunk(chunk: dict[str, Any]) -> dict[str, Any]:
    """Load one chunk of one collection."""
    plan = chunk["plan"]
    _context()["chunk_label"] = f"{plan['collection']} #{chunk['chunk_no']}"
    return migration.load(load_settings(), plan, int(chunk["chunk_no"]))


def finalize_collection(plan: dict[str, Any], alias: Any) -> dict[str, Any]:
    """Promote one collection and emit an Asset event for its table."""
    from airflow.sdk import Asset

    context = _context()
    context["collection"] = plan["collection"]
    summary = migration.finalize(load_settings(), plan)
    context["outlet_events"][alias].add(
        Asset(name=f"vectorops.{summary['table']}", uri=f"pgvector://vectorops/{summary['table'].replace('.', '/')}"),
        extra={"collection": plan["collection"], "rows": summary["loaded"], "quarantined": summary["quarantined"],
               "run_id": plan["run_id"]})
    return summary


def summarize(collections: list[str], summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Log one line per collection; raise if any collection was not promoted."""
    for line in format_table([{**s, "status": "promoted"} for s in summaries]):
        log.info(line)
    done = {s["collection"] for s in summaries}
    failed = [c for c in collections if c not in done]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(collections)} collection(s) failed: {', '.join(map(repr, failed))}; "
                           "see the failed task logs; a rerun resumes from the chunks that committed")
    return summaries
