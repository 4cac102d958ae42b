"""The DAG run's note, set from a task through Airflow's public REST API.

Airflow 3 gives tasks no way to write their own run's note (the execution API has no such route), so a task
that wants one calls the public API with the credentials of the Airflow connection ``vectorops_api``
(``AIRFLOW_CONN_VECTOROPS_API``, e.g. ``http://user:password@airflow-apiserver:8080``; ``make run`` sets it
for the local platform). Without that connection, or when the API refuses, the note is skipped with a
warning; the task never fails for it.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from urllib.parse import quote

from vectorops.redaction import describe_error, known_secrets, redact_text

log = logging.getLogger(__name__)

CONN_ID = "vectorops_api"
MAX_NOTE_CHARS = 1000  # dag_run_note.content is varchar(1000)
TIMEOUT_S = 10.0


def _request(url: str, method: str, body: dict[str, object], token: str | None = None) -> dict[str, object]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        return dict(json.loads(response.read() or b"{}"))


def truncate_note(text: str) -> str:
    """``text`` cut to what a run note holds, with an ellipsis when cut."""
    return text if len(text) <= MAX_NOTE_CHARS else text[:MAX_NOTE_CHARS - 1] + "…"


def set_run_note(dag_id: str, run_id: str, note: str) -> bool:
    """Set the note of DAG run ``run_id``; never raises. Credentials are redacted from the note first.

    :param dag_id: the DAG.
    :param run_id: the run.
    :param note: Markdown; cut to 1,000 characters.
    :return: whether the note was set.
    """
    note = redact_text(note, known_secrets())
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(CONN_ID)
    except Exception:  # no such connection: the feature is off
        log.warning("run note not set: no Airflow connection %r (AIRFLOW_CONN_VECTOROPS_API) to reach the API",
                    CONN_ID)
        return False
    scheme = conn.conn_type if conn.conn_type in ("http", "https") else "http"
    base = f"{scheme}://{conn.host}:{conn.port or 8080}"
    try:
        token = _request(f"{base}/auth/token", "POST", {"username": conn.login, "password": conn.password})
        _request(f"{base}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}", "PATCH",
                 {"note": truncate_note(note)}, str(token.get("access_token") or ""))
    except Exception as exc:
        secrets = known_secrets() | ({str(conn.password)} if conn.password else set())
        log.warning("run note not set: %s", describe_error(exc, secrets))
        return False
    return True
