"""``vectorops compare``'s concurrency phase: pgvector against a real ``chroma run`` server at 1, 4 and 16 clients,
each engine calibrated to recall@10 ≥ 0.95; the report carries every load, the medians and the ratios."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from vectorops.cli import compare
from vectorops.compare.dataset import Dataset


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vectorops")
    compare.add_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def _chroma_servers_under(path: Path) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if "chroma" in line and " run " in line and str(path) in line]


def test_concurrency_phase_against_a_chroma_server(dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    html, figures = tmp_path / "report.html", tmp_path / "report.json"
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the comparison's directories: its server, by path
    args = _parser().parse_args([
        "compare", "--rows", "400", "--dims", "16", "--queries", "30", "--clients", "1", "--seconds", "0.5",
        "--reads", "2", "--concurrency", "1,4,16", "--concurrency-seconds", "0.5", "--dsn", dsn,
        "--html", str(html), "--json", str(figures)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    print(out)
    report: dict[str, Any] = json.loads(figures.read_text())
    phase = report["concurrency"]
    assert phase["clients"] == [1, 4, 16] and phase["ratio"] == "pgvector / chroma server"
    for calibration in phase["calibrations"]:
        assert calibration["reached"] and calibration["recall_at_10"] >= 0.95, calibration
    loads = {(x["engine"], x["clients"]): x for x in phase["loads"]}
    assert set(loads) == {(e, n) for e in ("pgvector", "chroma server") for n in (1, 4, 16)}
    for load in loads.values():
        assert load["errors"] == 0, load["error_samples"]
        assert load["queries"] >= load["clients"] and load["qps"] > 0 and 0 < load["p50_ms"] <= load["p95_ms"]
        assert load["recall_at_10"] >= 0.95
    medians = {(m["engine"], m["clients"]): m for m in phase["medians"]}
    assert [r["clients"] for r in phase["ratios"]] == [1, 4, 16]
    for r in phase["ratios"]:
        pg, chroma = medians[("pgvector", r["clients"])], medians[("chroma server", r["clients"])]
        assert r["qps_ratio"] == pytest.approx(pg["qps"] / chroma["qps"], rel=0.01)
        assert r["p95_ratio"] == pytest.approx(pg["p95_ms"] / chroma["p95_ms"], rel=0.01)
    assert re.search(r"^clients\s+QPS ratio\s+p95 ratio$", out, re.M)
    assert len(re.findall(r"^\s+(1|4|16)\s+\d+\.\d+×\s+\d+\.\d+×$", out, re.M)) == 3
    page = html.read_text()
    assert "<h2>Concurrency</h2>" in page and page.count("<table") == 3
    assert "QPS pgvector / chroma server" in page
    assert not _chroma_servers_under(tmp_path)
    assert not list(tmp_path.glob("vectorops-compare-*"))
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'compare\\_%'").fetchone()[0] == 0


def _gaussian(rows: int, dims: int, queries: int) -> Dataset:
    """Structureless vectors: the hardest case for HNSW, where recall@10 grows visibly with ef_search."""
    rng = np.random.default_rng(7)
    return Dataset(f"gaussian {rows} x {dims}", "l2", [f"g{i}" for i in range(rows)],
                   rng.standard_normal((rows, dims), dtype=np.float32), [None] * rows, [None] * rows,
                   rng.standard_normal((queries, dims), dtype=np.float32), [None] * queries).with_truth()


def test_both_engines_search_at_the_effort_they_are_given(pg_store: Any, dsn: str, tmp_path: Path) -> None:
    """The ladder's recall climbs on both engines: pgvector's per-client ef_search and Chroma's collection
    configuration (applied by a server restart) both reach the index; a fixed effort would give one flat recall."""
    from vectorops.chroma.server_process import ChromaServerProcess
    from vectorops.compare.concurrency import calibrate, run_load
    from vectorops.compare.engines import ChromaServerEngine, PostgresEngine
    from vectorops.compare.server_phase import _fill

    data = _gaussian(4000, 32, 40)
    col = pg_store.get_or_create_collection("effort", metadata={"hnsw:space": "l2"})
    for start in range(0, data.rows, 1000):
        col.add(ids=data.ids[start:start + 1000], embeddings=data.vectors[start:start + 1000])
    ladder = (10, 24, 100, 400)
    with ChromaServerProcess(tmp_path / "server") as server:
        _fill(server, "effort", data)
        engines = [PostgresEngine(dsn, pg_store.table_schema, "effort", pg_store.service),
                   ChromaServerEngine(server, "effort")]
        for engine in engines:
            got = calibrate(engine, data, ladder=ladder)
            assert got.reached and got.value > 10 and got.recall_at_10 >= 0.95, got
            assert got.ladder[10] < 0.9 and got.recall_at_10 - got.ladder[10] >= 0.05, got
            load = run_load(engine, data, 2, 0.3, 1, got.value)
            assert load.errors == 0 and load.queries <= 2 * len(data.queries) and load.recall_at_10 >= 0.95
        first_port = server.port
        engines[1].set_effort(got.value)  # unchanged: no restart
        assert server.port == first_port and server.running
    assert not server.running
