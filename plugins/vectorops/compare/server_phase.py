"""``vectorops compare``'s concurrency phase: pgvector against a real Chroma server on the same data.

A ``chroma run`` of vectorops' own (:class:`~vectorops.chroma.server_process.ChromaServerProcess`) serves a
private directory under the comparison's work directory; the data set is written to it through the HTTP API, as
it was written to PostgreSQL by the earlier phases. Then :func:`~vectorops.compare.concurrency.measure_concurrency`
calibrates both engines to recall@10 ≥ 0.95 and measures QPS and latency at each client count; the ratios are
pgvector ÷ Chroma server. The server is stopped when the phase ends, whatever happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vectorops.chroma.server_process import ChromaServerProcess
from vectorops.compare.concurrency import DEFAULT_CLIENTS, Concurrency, Engine, measure_concurrency
from vectorops.compare.dataset import Dataset
from vectorops.compare.engines import ChromaServerEngine, PostgresEngine, http_client
from vectorops.monitor.ef_advice import EF_LADDER

WRITE_BATCH = 1000


@dataclass(frozen=True)
class LoadOptions:
    """How long the concurrency phase runs.

    :param clients: the client counts, each measured on both engines.
    :param seconds: the most one load (one engine, one client count) runs.
    :param passes: the most passes one client makes over the query set in one load.
    :param runs: loads of each engine and client count (engines alternated); figures are medians.
    """

    clients: tuple[int, ...] = DEFAULT_CLIENTS
    seconds: float = 3.0
    passes: int = 1000
    runs: int = 1


def _fill(server: ChromaServerProcess, collection: str, data: Dataset) -> None:
    """The data set into a new collection of the server, first searched at the ladder's lowest rung."""
    from vectorops.store.chroma import ChromaStore

    store = ChromaStore(client=http_client(server.port))
    col = store.get_or_create_collection(collection, configuration={
        "hnsw": {"space": data.space, "ef_search": EF_LADDER[0]}})
    for start in range(0, data.rows, WRITE_BATCH):
        stop = start + WRITE_BATCH
        col.add(ids=data.ids[start:stop], embeddings=data.vectors[start:stop],
                metadatas=data.metadatas[start:stop], documents=data.documents[start:stop])


def measure_against_server(dsn: str, schema: str, collection: str, data: Dataset, workdir: Path,
                           options: LoadOptions, service: str) -> Concurrency:
    """Measure pgvector's ``collection`` of ``schema`` (already holding ``data``) against a Chroma server.

    :param workdir: a private directory; the server's data and log go under it (the caller removes it).
    :return: calibrations, every load, medians and the pgvector ÷ Chroma server ratios.
    """
    with ChromaServerProcess(workdir / "chroma-server") as server:
        _fill(server, collection, data)
        engines: list[Engine] = [PostgresEngine(dsn, schema, collection, service),
                                 ChromaServerEngine(server, collection)]
        result = measure_concurrency(engines, data, options.clients, options.seconds, options.passes, options.runs)
    if data.rows <= 1000:
        result.notes.append(f"{data.rows} rows: both engines search their HNSW index (pgvector's store would "
                            "search a table this small exactly); recall is near 1 at any ef_search")
    return result
