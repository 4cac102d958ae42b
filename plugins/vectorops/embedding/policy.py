"""The re-embedding policy: per collection (copy, re-embed everything, repair unusable vectors) and per record.

``never`` copies the source vectors. ``always`` embeds every document with the target model. ``auto``
re-embeds the collection when its recorded model differs from the target model and it has documents, and
otherwise repairs single unusable vectors (missing, non-finite, wrong length, or zero norm under cosine) when
the collection was embedded with the target model. A record that needs a new vector but has no document keeps
its old vector only when that vector is usable and fits the table; otherwise it is quarantined.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vectorops.embedding import model as embedding_model
from vectorops.errors import RequestError
from vectorops.records import embedding_matrix

log = logging.getLogger(__name__)

COPY, COLLECTION, RECORDS = "copy", "collection", "records"
ZERO_NORM = "embedding has zero norm, so its cosine distance to anything is undefined"


@dataclass(frozen=True)
class EmbeddingPlan:
    """How a collection's vectors are produced.

    :param mode: ``copy`` (source vectors), ``collection`` (every document re-embedded) or ``records``
        (source vectors, unusable ones re-embedded).
    :param source_dimensions: length of the source vectors.
    :param dimensions: length of the table's vectors (the model's when the collection is re-embedded).
    :param model: the target model when it may be used, else ``None``.
    :param table_model: the model the table's vectors come from, recorded in the registry.
    :param normalizes: the target model produces unit-length vectors.
    :param reason: why this mode, for the log and the dry-run plan.
    """

    mode: str
    source_dimensions: int | None
    dimensions: int | None
    model: str | None
    table_model: str | None
    normalizes: bool
    reason: str


def plan_embedding(reembed: str, info: Any, has_documents: bool) -> EmbeddingPlan:
    """Decide how ``info``'s collection gets its vectors under the ``reembed`` policy.

    :param reembed: ``never`` | ``auto`` | ``always``.
    :param info: the collection's :class:`~vectorops.chroma.source.CollectionInfo`.
    :param has_documents: whether any record of the collection has a document.
    """
    source_dims, recorded = info.dimensions, info.embedding_model
    if reembed == "never":
        return EmbeddingPlan(COPY, source_dims, source_dims, None, recorded, False, "reembed=never")
    if reembed == "auto" and recorded is None:  # decided without loading the model
        embedding_model.resolve_model_path(embedding_model.model_setting())  # a bad setting still fails here
        return EmbeddingPlan(COPY, source_dims, source_dims, None, None, False,
                             "the collection records no embedding model, so no vector is re-embedded")
    target = embedding_model.model_info()
    if reembed == "always":
        if not has_documents and info.count:
            raise RequestError(f"reembed='always' but collection {info.name!r} has no documents to embed; use "
                             "reembed='never' to copy its vectors")
        return EmbeddingPlan(COLLECTION, source_dims, target.dimensions, target.name, target.name, target.normalizes,
                             "reembed=always")
    if recorded is not None and not embedding_model.same_model(recorded, target.name):
        if has_documents:
            return EmbeddingPlan(COLLECTION, source_dims, target.dimensions, target.name, target.name,
                                 target.normalizes, f"recorded model {recorded!r} is not the target {target.name!r}")
        return EmbeddingPlan(COPY, source_dims, source_dims, None, recorded, False,
                             f"recorded model {recorded!r} differs, but the collection has no documents to re-embed")
    if source_dims is not None and source_dims != target.dimensions:
        return EmbeddingPlan(COPY, source_dims, source_dims, None, recorded, False,
                             f"recorded model is the target, but its vectors have {source_dims} dimensions, "
                             f"not {target.dimensions}")
    return EmbeddingPlan(RECORDS, source_dims, target.dimensions, target.name, recorded, target.normalizes,
                         "recorded model is the target; only unusable vectors are re-embedded")


def gets_new_vector(plan: EmbeddingPlan, document: str | None, unusable: bool) -> bool:
    """Whether a record's table vector is the target model's embedding of its document.

    :param unusable: the source vector is missing, non-finite, of the wrong length, or zero under cosine.
    """
    if document is None:
        return False
    return plan.mode == COLLECTION or (plan.mode == RECORDS and unusable)


@dataclass
class BatchVectors:
    """A batch's table vectors after the policy, with per-row problems and what was done."""

    matrix: np.ndarray
    problems: list[str | None]
    reembedded: int = 0
    kept: int = 0
    encode_seconds: float = 0.0


def _zero_norm_rows(matrix: np.ndarray, problems: Sequence[str | None]) -> list[int]:
    if matrix.shape[1] == 0:
        return []
    norms = np.einsum("ij,ij->i", matrix, matrix)
    return [i for i in map(int, np.flatnonzero(norms == 0.0)) if problems[i] is None]


def apply_policy(plan: EmbeddingPlan | Mapping[str, Any], space: str, matrix: np.ndarray,
                 problems: list[str | None], documents: Sequence[str | None]) -> BatchVectors:
    """Give every row of a batch its table vector, or the reason it is quarantined.

    :param plan: the collection's plan (or its dict form from the task plan).
    :param space: the distance space; a zero vector is unusable under ``cosine``.
    :param matrix: source vectors, float32 (rows, source dims), valid where ``problems[i]`` is ``None``.
    :param problems: per row, why its source vector cannot be stored (``None`` when it can).
    :param documents: per row, the document (``None`` when absent).
    """
    if isinstance(plan, Mapping):
        plan = EmbeddingPlan(**plan)
    problems = list(problems)
    if space == "cosine":
        for i in _zero_norm_rows(matrix, problems):
            problems[i] = ZERO_NORM
    if plan.mode == COPY:
        return BatchVectors(matrix, problems)
    rows = len(problems)
    todo = [i for i in range(rows) if gets_new_vector(plan, documents[i], problems[i] is not None)]
    out = matrix
    if plan.mode == COLLECTION and matrix.shape[1] != plan.dimensions:
        out = np.zeros((rows, int(plan.dimensions or 0)), dtype=np.float32)
    kept = 0
    todo_set = set(todo)
    for i in range(rows):
        if i in todo_set:
            continue
        if plan.mode == COLLECTION:
            if problems[i] is None and matrix.shape[1] != plan.dimensions:
                problems[i] = (f"no document to re-embed with {plan.model}, and its {matrix.shape[1]}-dimension "
                               f"vector does not fit the {plan.dimensions}-dimension table")
            elif problems[i] is None:
                out[i] = matrix[i]
                kept += 1
            else:
                problems[i] = f"no document to re-embed with {plan.model}, and {problems[i]}"
        elif problems[i] is not None:
            problems[i] = f"{problems[i]}; it has no document to re-embed with {plan.model}"
    started = time.perf_counter()
    if todo:
        vectors = embedding_model.encode([documents[i] for i in todo], plan.model)  # type: ignore[misc]
        if out is matrix and vectors.shape[1] != matrix.shape[1]:
            raise ValueError(f"model {plan.model} gives {vectors.shape[1]} dimensions; the table has "
                             f"{matrix.shape[1]}")
        out[todo] = vectors
        for i in todo:
            problems[i] = None
    return BatchVectors(out, problems, reembedded=len(todo), kept=kept,
                        encode_seconds=time.perf_counter() - started)


def source_vectors(embeddings: Any, rows: int, plan: EmbeddingPlan, space: str) -> tuple[np.ndarray, list[bool]]:
    """A batch's source vectors and, per row, whether the policy counts the vector as unusable
    (missing, wrong length, non-finite, or zero norm under cosine)."""
    matrix, problems = embedding_matrix(embeddings, rows, plan.source_dimensions)
    unusable = [p is not None for p in problems]
    if space == "cosine" and matrix.shape[1]:
        zero = np.einsum("ij,ij->i", matrix, matrix) == 0.0
        unusable = [u or bool(zero[i]) for i, u in enumerate(unusable)]
    return matrix, unusable
