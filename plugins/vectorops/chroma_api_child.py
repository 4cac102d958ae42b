"""Chroma API calls in a short-lived child process, so their memory never stays in the caller.

Any ``get()``, ``count()`` or ``query()`` through Chroma's client loads the collection's whole HNSW index into
the calling process (about 1.7 GB for 1M × 384). A migration that reads the store's files needs the API only
for its sample cross-checks; running those here keeps the migration's own memory flat in the collection's size.

Run as ``python -m vectorops.chroma_api_child OUT`` with a pickled ``(operation, arguments)`` on stdin; the
pickled result goes to the file ``OUT``.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vectorops import chroma_source
from vectorops.chroma_source import CollectionRef, RecordBatch, SourceError, SourceSpec

TIMEOUT_S = 3600


def query_here(spec: SourceSpec, name: CollectionRef | str, queries: np.ndarray, n_results: int
               ) -> tuple[list[list[str]], list[list[float]]]:
    """Chroma's own top-``n_results`` ids and distances for ``queries``, asked in this process through
    ``vectorops.store``.

    The migration's cross-check goes through the same store API that applications use, so a difference
    between what the store's Chroma backend answers and what the table holds fails the migration.
    """
    from vectorops.store.chroma import ChromaStore

    ref = chroma_source.as_ref(name)
    store = ChromaStore(client=chroma_source.open_client(spec, ref.tenant, ref.database))
    result = store.get_collection(ref.name).query(query_embeddings=queries, n_results=n_results,
                                                  include=["distances"])
    return [list(ids) for ids in result["ids"]], [[float(d) for d in row] for row in result["distances"]]


def query_ids_here(spec: SourceSpec, name: CollectionRef | str, queries: np.ndarray, n_results: int
                   ) -> list[list[str]]:
    """The ids of :func:`query_here`."""
    return query_here(spec, name, queries, n_results)[0]


_OPERATIONS: dict[str, Any] = {"fetch": chroma_source.fetch, "query": query_here}


def _call(operation: str, *args: Any) -> Any:
    package_root = str(Path(chroma_source.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    with tempfile.TemporaryDirectory(prefix="vectorops-chroma-") as tmp:
        out = Path(tmp) / "result.pickle"
        proc = subprocess.run([sys.executable, "-m", "vectorops.chroma_api_child", str(out)],
                              input=pickle.dumps((operation, args)), capture_output=True, env=env,
                              timeout=TIMEOUT_S, check=False)
        if proc.returncode != 0 or not out.is_file():
            tail = proc.stderr.decode("utf-8", "replace")[-2000:]
            raise SourceError(f"the Chroma API child for {operation!r} exited with {proc.returncode}: {tail}")
        status, value = pickle.loads(out.read_bytes())
    if status == "error":
        kind, message = value
        raise SourceError(message) if kind == "SourceError" else RuntimeError(f"{kind}: {message}")
    return value


def fetch(spec: SourceSpec, name: CollectionRef | str, ids: Sequence[str]) -> RecordBatch:
    """:func:`vectorops.chroma_source.fetch` in a child process."""
    return _call("fetch", spec, name, list(ids))  # type: ignore[no-any-return]


def query(spec: SourceSpec, name: CollectionRef | str, queries: np.ndarray, n_results: int
          ) -> tuple[list[list[str]], list[list[float]]]:
    """The ids and distances of Chroma's ``query()`` answers for ``queries``, in a child process."""
    return _call("query", spec, name, np.asarray(queries, dtype=np.float32), n_results)  # type: ignore[no-any-return]


def main(argv: Sequence[str]) -> int:
    """The child: run one operation from stdin, write ``("ok", result)`` or ``("error", (type, message))``."""
    operation, args = pickle.loads(sys.stdin.buffer.read())
    try:
        result: tuple[str, Any] = ("ok", _OPERATIONS[operation](*args))
    except Exception as exc:  # reported to the parent, which raises it
        result = ("error", (type(exc).__name__, str(exc)))
    Path(argv[0]).write_bytes(pickle.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
