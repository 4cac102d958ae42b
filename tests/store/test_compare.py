"""``vectorops compare`` on a tiny data set: both backends measured, scored, graded, reported; nothing left behind."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest

from vectorops.cli import compare
from vectorops.compare.measure import Measurement
from vectorops.compare.scoring import WEIGHTS, grade, score


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vectorops")
    compare.add_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def test_compare_tiny(dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    html, figures = tmp_path / "report.html", tmp_path / "report.json"
    args = _parser().parse_args(["compare", "--rows", "300", "--dims", "8", "--queries", "20", "--clients", "2",
                                 "--seconds", "1", "--reads", "5", "--dsn", dsn, "--html", str(html),
                                 "--json", str(figures), "--concurrency", "none"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert re.search(r"^metric\s+chroma\s+postgres$", out, re.M) and re.search(r"^grade\s+\S+\s+\S+$", out, re.M)
    report: dict[str, Any] = json.loads(figures.read_text())
    assert [m["backend"] for m in report["measurements"]] == ["chroma", "postgres"]
    assert report["concurrency"] is None  # --concurrency none (tests/store/test_compare_concurrency.py runs it)
    for m in report["measurements"]:
        assert m["connect_ms"] > 0 and m["write_rps"] > 0 and m["read_rps"] > 0 and m["filtered_qps"] > 0
        assert 0 < m["p50_ms"] <= m["p95_ms"] and m["recall_at_10"] >= 0.95
        assert m["load_ops"] > 0 and m["load_errors"] == 0, m["error_samples"]
    for s in report["scores"]:
        assert all(0 <= s["points"][k] <= w for k, w in WEIGHTS.items())
        assert s["total"] == pytest.approx(sum(s["points"].values()), abs=0.11) and s["grade"] == grade(s["total"])
    page = html.read_text()
    assert page.count("<svg") == 1 and "chroma" in page and "postgres" in page
    assert not re.search(r"""(src|href)\s*=|<script|@import|url\(""", page)  # self-contained
    with psycopg.connect(dsn) as conn:  # the schema and the registry rows it used are gone
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'compare\\_%'").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM vectorops.collection_registry WHERE collection LIKE 'compare-%'"
                            ).fetchone()[0] == 0


def test_bounds_are_enforced() -> None:
    for argv in (["compare", "--clients", "64"], ["compare", "--seconds", "3600"], ["compare", "--rows", "5"],
                 ["compare", "--concurrency", "1,99"], ["compare", "--concurrency", "4,4"],
                 ["compare", "--concurrency", "one"], ["compare", "--concurrency-seconds", "0"]):
        with pytest.raises(SystemExit):
            _parser().parse_args(argv)
    assert _parser().parse_args(["compare"]).concurrency == (1, 4, 16)
    assert _parser().parse_args(["compare", "--concurrency", "none"]).concurrency == ()


def test_scoring() -> None:
    fast = Measurement("postgres", connect_ms=5, write_rps=2000, read_rps=40000, filtered_qps=500, p50_ms=1,
                       p95_ms=2, recall_at_10=1.0, load_ops=1000, load_errors=0)
    slow = Measurement("chroma", connect_ms=10, write_rps=1000, read_rps=10000, filtered_qps=250, p50_ms=2,
                       p95_ms=4, recall_at_10=0.891, load_ops=1000, load_errors=100)
    best, other = score([fast, slow])
    assert best.points == {"connection": 20, "write": 25, "read": 25, "query": 20, "reliability": 10}
    assert (best.total, best.grade) == (100, "A+")
    assert other.points == {"connection": 10, "write": 12.5, "read": 6.2, "query": 4 + 3 + 5.4, "reliability": 9}
    assert other.grade == "F" and grade(93) == "A" and grade(89.9) == "B+" and grade(60) == "D-"


def test_compare_on_a_migrated_collection_finds_its_schema(settings: Any, dsn: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """``--collection`` reads the collection from the schema the registry holds it in (the store sees one schema)."""
    import numpy as np

    from tests.support import chroma_client, forget_collection, migrate_in_process

    store = tmp_path / "chroma"
    rng = np.random.default_rng(3)
    chroma_client(store).create_collection("cmp-src").add(
        ids=[f"r{i}" for i in range(200)], embeddings=rng.standard_normal((200, 8), dtype=np.float32))
    try:
        migrate_in_process(settings, {"chroma_path": str(store), "target_schema": "compare_src_schema"}, "cmp")
        args = _parser().parse_args(["compare", "--collection", "cmp-src", "--rows", "200", "--queries", "10",
                                     "--clients", "1", "--seconds", "1", "--reads", "3", "--dsn", dsn,
                                     "--html", str(tmp_path / "r.html"), "--concurrency", "none"])
        assert args.func(args) == 0
        assert re.search(r"^grade\s+\S+\s+\S+$", capsys.readouterr().out, re.M)
        with pytest.raises(ValueError, match="'no-such' is not in the registry"):
            compare._schema_of(dsn, "no-such")
    finally:
        forget_collection(dsn, "cmp-src", "compare_src_schema")
