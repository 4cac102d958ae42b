"""The typed plans survive XCom: to_xcom is JSON-able and from_xcom gives back an equal plan."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from vectorops.chroma.preflight import SourceSpec
from vectorops.chroma.source import CollectionInfo
from vectorops.embedding.policy import EmbeddingPlan
from vectorops.migration import steps
from vectorops.migration.plan import ChunkJob, CollectionPlan

TEXT = st.text(max_size=20)
OPTIONAL_TEXT = st.none() | TEXT
OPTIONAL_INT = st.none() | st.integers(min_value=1, max_value=4096)

SOURCES = st.builds(SourceSpec, path=OPTIONAL_TEXT, host=OPTIONAL_TEXT, port=st.integers(1, 65535),
                    conn_id=OPTIONAL_TEXT, ssl=st.booleans(), tenant=OPTIONAL_TEXT, database=OPTIONAL_TEXT)
INFOS = st.builds(CollectionInfo, name=TEXT, collection_id=TEXT, count=st.integers(0, 10**9),
                  space=st.sampled_from(["l2", "cosine", "ip"]), dimensions=OPTIONAL_INT, hnsw_m=st.integers(2, 100),
                  hnsw_ef_construction=st.integers(1, 1000), hnsw_ef_search=st.integers(1, 1000),
                  embedding_model=OPTIONAL_TEXT, tenant=TEXT, database=TEXT,
                  reader=st.sampled_from(["files", "api-snapshot", "api-server"]), reader_reason=TEXT,
                  settings_origin=TEXT)
EMBEDDINGS = st.builds(EmbeddingPlan, mode=st.sampled_from(["copy", "collection", "records"]),
                       source_dimensions=OPTIONAL_INT, dimensions=OPTIONAL_INT, model=OPTIONAL_TEXT,
                       table_model=OPTIONAL_TEXT, normalizes=st.booleans(), reason=TEXT)
PLANS = st.builds(CollectionPlan, collection=TEXT, run_id=TEXT, attempt_id=TEXT, schema=TEXT, table=TEXT,
                  shadow=TEXT, source=SOURCES, batch_size=st.integers(1, 100_000), info=INFOS, embedding=EMBEDDINGS,
                  chunks=st.lists(st.integers(0, 10**6), max_size=8).map(tuple),
                  previous_table=st.sampled_from(["refuse", "keep", "drop"]), resumed_from_run=OPTIONAL_TEXT)


def _plan() -> CollectionPlan:
    return CollectionPlan(
        collection="acme/prod/docs", run_id="manual__2026", attempt_id="a1b2", schema="vectors", table="docs",
        shadow="docs__shadow_a1b2", source=SourceSpec(path="/data/chroma"), batch_size=5000,
        info=CollectionInfo("docs", "c-1", 42, "cosine", 384, 16, 100, 10, "all-MiniLM-L6-v2", tenant="acme",
                            database="prod", reader="files", reader_reason="flushed", settings_origin="space=metadata"),
        embedding=EmbeddingPlan("copy", 384, 384, None, "all-MiniLM-L6-v2", False, "reembed=never"),
        chunks=(0, 1, 2), previous_table="keep", resumed_from_run="manual__2025")


def _through_xcom(value: dict) -> dict:
    return json.loads(json.dumps(value))


def test_a_collection_plan_round_trips_through_json() -> None:
    plan = _plan()
    xcom = plan.to_xcom()
    assert json.loads(json.dumps(xcom)) == xcom
    back = CollectionPlan.from_xcom(_through_xcom(xcom))
    assert back == plan
    assert back.chunks == (0, 1, 2) and back.source.uri == plan.source.uri and back.info.ref == plan.info.ref


def test_a_chunk_job_round_trips_and_carries_its_label() -> None:
    job = ChunkJob(_plan(), 2)
    back = ChunkJob.from_xcom(_through_xcom(job.to_xcom()))
    assert back == job
    assert back.label == "acme/prod/docs #2"


def test_chunk_tasks_make_one_job_per_chunk_in_plan_order() -> None:
    first, second = _plan(), CollectionPlan.from_xcom({**_plan().to_xcom(), "collection": "b", "chunks": [7]})
    jobs = steps.chunk_tasks([first, second])
    assert [(j.plan.collection, j.chunk_no) for j in jobs] == [
        ("acme/prod/docs", 0), ("acme/prod/docs", 1), ("acme/prod/docs", 2), ("b", 7)]
    assert steps.chunk_tasks([]) == []


@given(PLANS, st.integers(0, 10**6))
def test_every_plan_round_trips_through_json(plan: CollectionPlan, chunk_no: int) -> None:
    assert CollectionPlan.from_xcom(_through_xcom(plan.to_xcom())) == plan
    job = ChunkJob(plan, chunk_no)
    assert ChunkJob.from_xcom(_through_xcom(job.to_xcom())) == job
