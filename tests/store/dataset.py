"""One data set for both backends: metadata that probes every type edge (1 vs 1.0 vs True, ints beyond 2**53,
floats that are integers, lists of each type, missing keys, no metadata) and documents for the text filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SCALARS: list[Any] = [0, 1, 2, -3, 1.0, 2.5, -0.5, 0.0, True, False, "1", "a", "b", "", "café", 2 ** 53, 2 ** 53 + 1,
                      2 ** 63 - 1, -(2 ** 63), 1.0000000000000002e17, 100000000000000018, 9.223372036854776e18, 0.1,
                      1e-07]
LISTS: list[list[Any]] = [[1, 2], [1.0, 2.5], ["a", "b"], [True], [False, True], [2 ** 53 + 1], ["1"], [0], [0.1]]
DOCUMENTS: list[str | None] = ["Hello world", "hello World", None, "The cat sat.\nOn the mat", "naïve café 100%",
                               "a_b%c", "word boundary test", "", "x", "٣ digits 42", "Ünïcödé ÉCOLE", "tab\there"]
# operands that match nothing stored, beside the stored ones
ABSENT: list[Any] = [99, 99.5, "zz", 3, -1e300, 1e300, 2 ** 62, 2 ** 64, -(2 ** 64), 0.9, -1.5]


@dataclass(frozen=True)
class Records:
    """Columns of a batch of records."""

    ids: list[str]
    embeddings: np.ndarray
    metadatas: list[dict[str, Any] | None]
    documents: list[str | None]


def records(n: int, dims: int, seed: int = 0) -> Records:
    """``n`` records with random vectors (no two at the same distance) and edge-case metadata."""
    rng = np.random.default_rng(seed)
    metadatas: list[dict[str, Any] | None] = []
    for i in range(n):
        if i % 11 == 5:
            metadatas.append(None)
            continue
        meta: dict[str, Any] = {"v": SCALARS[i % len(SCALARS)]}
        if i % 3:
            meta["w"] = SCALARS[(i * 7 + 3) % len(SCALARS)]
        if i % 4 != 1:
            meta["l"] = LISTS[(i * 5) % len(LISTS)]
        metadatas.append(meta)
    return Records(ids=[f"r{i:03d}" for i in range(n)], embeddings=rng.standard_normal((n, dims), dtype=np.float32),
                   metadatas=metadatas, documents=[DOCUMENTS[i % len(DOCUMENTS)] for i in range(n)])


def operands() -> list[Any]:
    """Every scalar a filter may compare with: the stored ones and some that match nothing."""
    return SCALARS + ABSENT


def same_type_groups() -> list[list[Any]]:
    """Operand lists for ``$in`` / ``$nin``: values of one exact type."""
    groups: dict[type, list[Any]] = {}
    for value in operands():
        groups.setdefault(type(value), []).append(value)
    out = []
    for values in groups.values():
        out += [values[i:i + 3] for i in range(0, len(values), 3)]
    return out
