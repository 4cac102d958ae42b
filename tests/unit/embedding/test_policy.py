"""The re-embedding policy, per collection and per record, with the bundled model (loaded offline)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pytest

from vectorops.embedding import model as embedding_model
from vectorops.embedding import policy
from vectorops.errors import SettingError
from vectorops.records import NO_EMBEDDING, NON_FINITE

TARGET = embedding_model.BUNDLED_MODEL


@dataclass(frozen=True)
class Info:
    """The fields of a collection's description that the policy reads."""

    name: str = "docs"
    count: int = 3
    dimensions: int | None = 384
    embedding_model: str | None = None


@pytest.fixture(autouse=True)
def _default_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VECTOROPS_EMBEDDING_MODEL", raising=False)


def test_never_copies_the_source_vectors_whatever_the_model() -> None:
    plan = policy.plan_embedding("never", Info(dimensions=12, embedding_model="other-model"), has_documents=True)
    assert (plan.mode, plan.dimensions, plan.source_dimensions, plan.model, plan.table_model) == \
        (policy.COPY, 12, 12, None, "other-model")


def test_auto_without_a_recorded_model_copies() -> None:
    plan = policy.plan_embedding("auto", Info(dimensions=12), has_documents=True)
    assert (plan.mode, plan.model, plan.table_model) == (policy.COPY, None, None)
    assert "records no embedding model" in plan.reason


def test_auto_without_a_recorded_model_still_checks_the_model_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECTOROPS_EMBEDDING_MODEL", "/nonexistent/model")
    with pytest.raises(SettingError, match="VECTOROPS_EMBEDDING_MODEL='/nonexistent/model'"):
        policy.plan_embedding("auto", Info(), has_documents=True)


def test_always_reembeds_into_the_models_dimensions() -> None:
    plan = policy.plan_embedding("always", Info(dimensions=12, embedding_model="other"), has_documents=True)
    assert (plan.mode, plan.source_dimensions, plan.dimensions, plan.model, plan.table_model, plan.normalizes) == \
        (policy.COLLECTION, 12, 384, TARGET, TARGET, True)


def test_always_without_documents_is_refused_unless_the_collection_is_empty() -> None:
    with pytest.raises(ValueError, match="no documents to embed"):
        policy.plan_embedding("always", Info(count=5), has_documents=False)
    assert policy.plan_embedding("always", Info(count=0), has_documents=False).mode == policy.COLLECTION


@pytest.mark.parametrize(("has_documents", "mode", "table_model"), [
    (True, policy.COLLECTION, TARGET), (False, policy.COPY, "text-embedding-3-small")])
def test_auto_with_another_recorded_model(has_documents: bool, mode: str, table_model: str) -> None:
    plan = policy.plan_embedding("auto", Info(dimensions=1536, embedding_model="text-embedding-3-small"),
                                 has_documents=has_documents)
    assert (plan.mode, plan.table_model) == (mode, table_model)
    assert plan.dimensions == (384 if mode == policy.COLLECTION else 1536)


@pytest.mark.parametrize("recorded", ["all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2",
                                      "All-MiniLM-L6-v2 "])
def test_auto_with_the_target_model_repairs_records(recorded: str) -> None:
    plan = policy.plan_embedding("auto", Info(embedding_model=recorded), has_documents=True)
    assert (plan.mode, plan.dimensions, plan.model, plan.table_model) == (policy.RECORDS, 384, TARGET, recorded)


def test_auto_with_the_target_model_but_other_dimensions_copies() -> None:
    plan = policy.plan_embedding("auto", Info(dimensions=128, embedding_model="all-MiniLM-L6-v2"),
                                 has_documents=True)
    assert (plan.mode, plan.dimensions) == (policy.COPY, 128)
    assert "128 dimensions" in plan.reason


@pytest.mark.parametrize(("mode", "document", "unusable", "expected"), [
    (policy.COPY, "d", True, False),
    (policy.COLLECTION, "d", False, True),
    (policy.COLLECTION, None, True, False),
    (policy.RECORDS, "d", False, False),
    (policy.RECORDS, "d", True, True),
    (policy.RECORDS, "", True, True),  # an empty document is a document
    (policy.RECORDS, None, True, False),
])
def test_gets_new_vector(mode: str, document: str | None, unusable: bool, expected: bool) -> None:
    plan = policy.EmbeddingPlan(mode, 3, 3, TARGET, TARGET, True, "test")
    assert policy.gets_new_vector(plan, document, unusable) is expected


def _copy_plan(dims: int) -> policy.EmbeddingPlan:
    return policy.EmbeddingPlan(policy.COPY, dims, dims, None, None, False, "test")


def test_copy_under_cosine_quarantines_zero_vectors_only() -> None:
    matrix = np.array([[0, 0, 0], [1, 0, 0], [0, 0, 0]], dtype=np.float32)
    out = policy.apply_policy(_copy_plan(3), "cosine", matrix, [None, None, NO_EMBEDDING], ["a", "b", "c"])
    assert out.problems == [policy.ZERO_NORM, None, NO_EMBEDDING]  # an existing reason is kept
    assert out.matrix is matrix and out.reembedded == 0
    assert policy.apply_policy(_copy_plan(3), "l2", matrix, [None, None, None], [None] * 3).problems == [None] * 3


def test_records_mode_reembeds_only_unusable_vectors_that_have_a_document() -> None:
    plan = policy.EmbeddingPlan(policy.RECORDS, 384, 384, TARGET, TARGET, True, "test")
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((4, 384)).astype(np.float32)
    original = matrix.copy()
    problems: list[str | None] = [None, NON_FINITE, NO_EMBEDDING, None]
    documents = ["kept as it is", "a repaired vector", None, None]
    out = policy.apply_policy(plan, "l2", matrix, problems, documents)
    assert out.reembedded == 1 and out.kept == 0
    assert out.problems[:2] == [None, None] and out.problems[3] is None
    assert out.problems[2] == f"{NO_EMBEDDING}; it has no document to re-embed with {TARGET}"
    assert np.array_equal(out.matrix[0], original[0]) and np.array_equal(out.matrix[3], original[3])
    expected = embedding_model.encode(["a repaired vector"])[0]
    assert np.allclose(out.matrix[1], expected, atol=1e-5)
    assert problems == [None, NON_FINITE, NO_EMBEDDING, None]  # the caller's list is not changed


def test_collection_mode_into_other_dimensions() -> None:
    plan = policy.EmbeddingPlan(policy.COLLECTION, 3, 384, TARGET, TARGET, True, "test")
    matrix = np.ones((3, 3), dtype=np.float32)
    out = policy.apply_policy(plan, "cosine", matrix, [None, None, NO_EMBEDDING], ["first", None, None])
    assert out.matrix.shape == (3, 384) and out.reembedded == 1 and out.kept == 0
    assert np.allclose(out.matrix[0], embedding_model.encode(["first"])[0], atol=1e-5)
    assert out.problems[0] is None
    assert out.problems[1] == (f"no document to re-embed with {TARGET}, and its 3-dimension vector does not fit the "
                               "384-dimension table")
    assert out.problems[2] == f"no document to re-embed with {TARGET}, and {NO_EMBEDDING}"


def test_collection_mode_keeps_a_fitting_vector_without_document() -> None:
    plan = policy.EmbeddingPlan(policy.COLLECTION, 384, 384, TARGET, TARGET, True, "test")
    matrix = np.full((2, 384), 0.5, dtype=np.float32)
    as_dict = dataclasses.asdict(plan)  # the form the task plan carries through XCom
    out = policy.apply_policy(as_dict, "l2", matrix.copy(), [None, None], ["embed me", None])
    assert out.kept == 1 and out.reembedded == 1 and out.problems == [None, None]
    assert np.array_equal(out.matrix[1], matrix[1])
    assert np.allclose(np.linalg.norm(out.matrix[0]), 1.0, atol=1e-5)


def test_source_vectors_flags_missing_wrong_and_zero_under_cosine() -> None:
    plan = _copy_plan(2)
    embeddings = [[1.0, 0.0], None, [0.0, 0.0], [1.0, 2.0, 3.0], [float("inf"), 0.0]]
    matrix, unusable = policy.source_vectors(embeddings, 5, plan, "cosine")
    assert matrix.shape == (5, 2)
    assert unusable == [False, True, True, True, True]
    assert policy.source_vectors(embeddings, 5, plan, "l2")[1] == [False, True, False, True, True]
