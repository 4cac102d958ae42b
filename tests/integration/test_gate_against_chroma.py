"""The gate's top-10 check against Chroma's own query is enforced: a table loaded in the wrong space is never
promoted.

Before this check was enforced, a cosine collection of a 0.5 store migrated as l2 recorded ``top10_overlap`` 0.33
with ``success = true``: the exact search it was compared with used the same wrong space. Here the resolver is made
to get the space wrong (as it used to), and the gate must catch it from Chroma's answers alone.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support import forget_schema, migrate_in_process

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stores"
SCHEMA = "gate_space"
COS_DOCS = "default_tenant/default_database/cos_docs"  # the fixture has an acme/prod/cos_docs too


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / "chroma-0.5.18" / "store", tmp_path / "store"))


def _gate_rows(dsn: str, run_id: str) -> dict[str, tuple[bool, Any]]:
    """The newest gate's expectations of the run ``run_id``."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """SELECT expectation, success, observed_value FROM vectorops.validation_results
               WHERE run_id = %s AND stage = 'gate' AND validation_id = (
                   SELECT validation_id FROM vectorops.validation_results WHERE run_id = %s AND stage = 'gate'
                   ORDER BY result_id DESC LIMIT 1)""", (run_id, run_id)).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_a_collection_loaded_in_the_wrong_space_fails_the_gate(store: Path, settings: Any, dsn: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from vectorops.chroma.files import catalog
    from vectorops.quality import gate

    real = catalog.read_catalog

    def as_l2(path: Any) -> list[Any]:
        return [dataclasses.replace(e, settings=dataclasses.replace(e.settings, space="l2")) for e in real(path)]

    monkeypatch.setattr(catalog, "read_catalog", as_l2)
    with pytest.raises(gate.ValidationFailed, match="top10_overlap"):
        migrate_in_process(settings, {"chroma_path": str(store), "target_schema": SCHEMA,
                                      "collections": [COS_DOCS]}, "wrong-space")
    success, observed = _gate_rows(dsn, "wrong-space")["top10_overlap"]
    assert success is False
    assert observed["space"] == "l2" and observed["distance_mismatches"] > 0, observed
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM vectorops.collection_registry WHERE table_schema = %s",
                            (SCHEMA,)).fetchone()[0] == 0, "a table that failed the gate was registered"
        status = conn.execute("SELECT status FROM vectorops.migration_runs WHERE run_id = 'wrong-space'").fetchone()
    assert status == ("rejected",)

    monkeypatch.setattr(catalog, "read_catalog", real)
    summaries = migrate_in_process(settings, {"chroma_path": str(store), "target_schema": SCHEMA,
                                              "collections": [COS_DOCS]}, "right-space")
    assert summaries[0]["space"] == "cosine"
    success, observed = _gate_rows(dsn, "right-space")["top10_overlap"]
    assert success is True and observed["overlap"] >= settings.min_top10_overlap
    assert observed["distance_mismatches"] == 0 and observed["distances_compared"] >= 40, observed
    forget_schema(dsn, SCHEMA)
