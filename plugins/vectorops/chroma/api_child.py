"""Chroma API calls in a short-lived child process, so their memory never stays in the caller.

Any ``get()``, ``count()`` or ``query()`` through Chroma's client loads the collection's whole HNSW index into
the calling process (about 1.7 GB for 1M × 384). A migration that reads the store's files needs the API only
for its sample cross-checks; running those here keeps the migration's own memory flat in the collection's size.

Run as ``python -m vectorops.chroma.api_child OUT`` with a pickled ``(operation, arguments)`` on stdin; the
pickled result goes to the file ``OUT``.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import vectorops
from vectorops.chroma import fetch as chroma_fetch
from vectorops.chroma import snapshot, source
from vectorops.chroma.api_errors import api_errors
from vectorops.chroma.preflight import CollectionRef, SourceSpec
from vectorops.chroma.source import RecordBatch
from vectorops.errors import SourceChanged, SourceError

TIMEOUT_S = 3600
log = logging.getLogger(__name__)


def query_here(spec: SourceSpec, name: CollectionRef | str, queries: np.ndarray, n_results: int
               ) -> tuple[list[list[str]], list[list[float]]]:
    """Chroma's own top-``n_results`` ids and distances for ``queries``, asked in this process through
    ``vectorops.store``.

    The migration's cross-check goes through the same store API that applications use, so a difference
    between what the store's Chroma backend answers and what the table holds fails the migration.
    """
    from vectorops.store.chroma import ChromaStore

    ref = source.as_ref(name)
    store = ChromaStore(client=source.open_client(spec, ref.tenant, ref.database))
    with api_errors(spec, ref, f"answer {len(queries)} cross-check queries"):
        result = store.get_collection(ref.name).query(query_embeddings=queries, n_results=n_results,
                                                      include=["distances"])
    return [list(ids) for ids in result["ids"]], [[float(d) for d in row] for row in result["distances"]]


#: what the validation gate asks Chroma: the sample's records, and the query vectors' neighbours (ids, distances)
Answers = tuple[RecordBatch | None, tuple[list[list[str]], list[list[float]]] | None]


def crosscheck_here(spec: SourceSpec, name: CollectionRef | str, ids: Sequence[str], queries: np.ndarray,
                    n_results: int) -> Answers:
    """Chroma's own records for ``ids`` and its ``n_results`` neighbours of ``queries``, asked in this process.

    :param n_results: ``0`` asks no query.
    """
    batch = chroma_fetch.fetch(spec, name, ids) if len(ids) else None
    neighbours = query_here(spec, name, queries, n_results) if len(queries) and n_results else None
    return batch, neighbours


_OPERATIONS: dict[str, Any] = {"fetch": chroma_fetch.fetch, "query": query_here, "crosscheck": crosscheck_here}


def _call(operation: str, spec: SourceSpec, name: CollectionRef | str, *args: Any) -> Any:
    try:
        return _call_once(operation, spec, name, *args)
    except _ChromaPanicked as exc:
        # chromadb 1.5.9 panics now and then while it upgrades a fresh copy of a 0.4-0.6 store (seen once in four
        # full test runs: ColumnNotFound("bool_value")): a second child on a second copy is not the same run
        log.warning("%s; asking again in a new child process", exc)
        return _call_once(operation, spec, name, *args)


class _ChromaPanicked(SourceError):
    """The child died of a panic inside chromadb's Rust core (not of anything the source holds)."""


@dataclass
class _Child:
    """A child process started with its result file's directory; it reads its operation from stdin."""

    proc: subprocess.Popen[bytes]
    scratch: Path  # removed by its parent after the ask; a child never asked leaves it to the orphan sweep
    out: Path
    parent: int  # the process that started it: only it may ask it, or remove its scratch directory


_ready: _Child | None = None
_ready_lock = threading.Lock()


def warm_up() -> None:
    """Start the next child now, so that its start and chromadb's import (about a second) are done by the time
    this process asks: the validation gate calls this as the finalize step begins. Once per ask; an unused child
    ends when this process does (its stdin closes)."""
    global _ready
    with _ready_lock:
        if _ready is None:
            _ready = _start()


def _start() -> _Child:
    package_root = str(Path(vectorops.__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    scratch = snapshot.scratch_root()
    scratch.mkdir(parents=True, exist_ok=True)
    # named after this process, so a copy left by a killed parent is removed like an orphaned snapshot
    tmp = Path(tempfile.mkdtemp(prefix=f"pid{os.getpid()}-api-child-", dir=scratch))
    out = tmp / "result.pickle"
    proc = subprocess.Popen([sys.executable, "-m", "vectorops.chroma.api_child", str(out)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    return _Child(proc, tmp, out, os.getpid())


def _take() -> _Child:
    """The warm child when one waits, else a new one."""
    global _ready
    with _ready_lock:
        child, _ready = _ready, None
    if child is None or child.parent != os.getpid():  # started by the process this one was forked from
        return _start()
    if child.proc.poll() is None:
        return child
    shutil.rmtree(child.scratch, ignore_errors=True)
    return _start()


def _call_once(operation: str, spec: SourceSpec, name: CollectionRef | str, *args: Any) -> Any:
    label = source.as_ref(name).label
    child = _take()
    try:
        try:
            _, stderr = child.proc.communicate(pickle.dumps((operation, (spec, name, *args))), timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            child.proc.kill()
            child.proc.communicate()
            raise SourceError(f"collection {label!r} of {spec.uri}: Chroma's API did not {operation} within "
                              f"{TIMEOUT_S} s") from exc
        if child.proc.returncode != 0 or not child.out.is_file():
            lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
            error = _ChromaPanicked if any("PanicException" in line for line in lines) else SourceError
            raise error(f"collection {label!r} of {spec.uri}: Chroma's API ({operation}, in a child process) "
                        f"exited with {child.proc.returncode}: {lines[-1] if lines else 'no message'}")
        status, value = pickle.loads(child.out.read_bytes())  # written by the child just now, never by the source
    finally:
        if child.proc.poll() is None:  # this process stops asking (an interrupt): the child stops too
            child.proc.kill()
            child.proc.wait()
        shutil.rmtree(child.scratch, ignore_errors=True)
    if status == "error":
        kind, message = value
        if kind == "SourceChanged":
            raise SourceChanged(message)
        if kind == "SourceError":
            raise SourceError(message)
        raise SourceError(f"collection {label!r} of {spec.uri}: Chroma's API ({operation}) failed: {kind}: {message}")
    return value


def fetch(spec: SourceSpec, name: CollectionRef | str, ids: Sequence[str]) -> RecordBatch:
    """:func:`vectorops.chroma.fetch.fetch` in a child process."""
    return _call("fetch", spec, name, list(ids))


def query(spec: SourceSpec, name: CollectionRef | str, queries: np.ndarray, n_results: int
          ) -> tuple[list[list[str]], list[list[float]]]:
    """The ids and distances of Chroma's ``query()`` answers for ``queries``, in a child process."""
    return _call("query", spec, name, np.asarray(queries, dtype=np.float32), n_results)


def crosscheck(spec: SourceSpec, name: CollectionRef | str, ids: Sequence[str], queries: np.ndarray,
               n_results: int) -> Answers:
    """:func:`crosscheck_here` in a child process: one private copy of a local store serves both questions."""
    return _call("crosscheck", spec, name, list(ids), np.asarray(queries, dtype=np.float32),
                 n_results)


def main(argv: Sequence[str]) -> int:
    """The child: run one operation from stdin, write ``("ok", result)`` or ``("error", (type, message))``."""
    import chromadb  # noqa: F401  (before the operation arrives: a child started early has it loaded by then)

    operation, args = pickle.loads(sys.stdin.buffer.read())
    try:
        result: tuple[str, Any] = ("ok", _OPERATIONS[operation](*args))
    except Exception as exc:  # reported to the parent, which raises it
        result = ("error", (type(exc).__name__, str(exc)))
    Path(argv[0]).write_bytes(pickle.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
