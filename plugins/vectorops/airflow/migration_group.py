"""The Chroma → pgvector migration as a task group, for the ``chroma_to_pgvector`` DAG and for anyone's own DAG.

``chroma_to_pgvector_group(chroma_path="/data/chroma", collections=["docs"])`` adds the migration's tasks to the DAG
being defined and returns their :class:`~airflow.sdk.TaskGroup`, so ``extract >> migration >> publish`` chains it
like one task (``plan_request`` is its one root, ``summarize`` its one leaf). Its arguments are the migration
request's (:mod:`vectorops.migration.request`), checked by ``plan_request`` when the run starts, as DAG Params are;
``request_from_params=True`` reads them from the run's Params instead (the ``chroma_to_pgvector`` DAG).

DAG files import this module at parse time, so it imports only ``airflow.sdk`` and ``vectorops.airflow`` modules of
constants; the task bodies import the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import TaskGroup, task

from vectorops.airflow.assets import MIGRATED_TABLES, MIGRATIONS
from vectorops.airflow.defaults import default_args as vectorops_default_args
from vectorops.airflow.pools import HEAVY_POOL, HEAVY_QUEUE

#: the request's values when an argument is left out (the DAG's Params default to the same)
REQUEST_DEFAULTS: dict[str, Any] = {
    "chroma_path": None, "chroma_host": None, "chroma_port": 8000, "chroma_conn": None, "collections": None,
    "target_schema": "vectors", "reembed": "never", "previous_table": "refuse", "batch_size": None, "dry_run": False,
    "index": "hnsw",
}
#: Params a DAG with ``request_from_params`` may leave undeclared (they came after DAGs were written against it)
OPTIONAL_PARAMS = frozenset({"index"})


def chroma_to_pgvector_group(
    group_id: str = "chroma_to_pgvector", *,
    chroma_path: str | None = None,
    chroma_conn_id: str | None = None,
    chroma_host: str | None = None,
    chroma_port: int = 8000,
    collections: Sequence[str] | str | None = None,
    target_schema: str = "vectors",
    reembed: str = "never",
    previous_table: str = "refuse",
    index: str = "hnsw",
    batch_size: int | None = None,
    dry_run: bool = False,
    request_from_params: bool = False,
    pool: str = HEAVY_POOL,
    queue: str | None = None,
    prefix_group_id: bool = True,
    default_args: dict[str, Any] | None = None,
) -> TaskGroup:
    """Add the migration's tasks to the DAG being defined.

    :param group_id: the group's id (the prefix of its task ids, unless ``prefix_group_id`` is false).
    :param chroma_path: a Chroma PersistentClient store on the workers; ``None``: their ``CHROMA_DB_PATH``.
    :param chroma_conn_id: an Airflow connection of type ``chroma`` (a server), instead of a path or host.
    :param chroma_host: a Chroma server's host, instead of a path.
    :param chroma_port: that server's port.
    :param collections: ``name`` or ``tenant/database/name`` of each collection (a string: comma-separated);
        ``None``: every collection.
    :param target_schema: the PostgreSQL schema of the vector tables.
    :param reembed: ``never``, ``auto`` or ``always`` (docs/dags.md).
    :param previous_table: ``refuse``, ``keep`` or ``drop`` the collection's table in another schema.
    :param index: the index kind: ``hnsw``, ``ivfflat``, ``hnsw_halfvec`` or ``hnsw_bit_rerank`` (docs/dags.md).
    :param batch_size: records per fetch from Chroma; ``None``: ``VECTOROPS_FETCH_BATCH``.
    :param dry_run: log the plan and write nothing.
    :param request_from_params: read the request from the run's Params (named as in
        :data:`vectorops.migration.request.PARAMS`), as the ``chroma_to_pgvector`` DAG does; the request arguments
        above must then be left out.
    :param pool: the Airflow pool of the index build and promotion (``finalize_collection``).
    :param queue: the executor queue of the same task (Celery: a worker serving it); ``None``: the ``queue`` of
        the ``default_args`` (these, the DAG's or an enclosing group's) when one is set, so a deployment whose
        workers serve queues of its own keeps every task on them, else :data:`~vectorops.airflow.pools.HEAVY_QUEUE`.
        The other tasks, chunk loads among them, take the ``default_args``' queue, else Airflow's default one.
    :param prefix_group_id: prefix the task ids with ``group_id``.
    :param default_args: task arguments over vectorops' own (retries, the failure alert) and over those of the DAG
        and of an enclosing task group, which themselves win over vectorops' own.
    :raises ValueError: when ``request_from_params`` is set together with a request argument.
    """
    if collections is not None and not isinstance(collections, str):
        collections = list(collections)  # a list in the serialized DAG; a string is split by the request
    explicit: dict[str, Any] = {
        "chroma_path": chroma_path, "chroma_host": chroma_host, "chroma_port": chroma_port,
        "chroma_conn": chroma_conn_id, "collections": collections, "target_schema": target_schema,
        "reembed": reembed, "previous_table": previous_table, "batch_size": batch_size, "dry_run": dry_run,
        "index": index}
    given = sorted(name for name, value in explicit.items() if value != REQUEST_DEFAULTS[name])
    if request_from_params and given:
        raise ValueError(f"chroma_to_pgvector_group({group_id!r}): request_from_params=True reads the request from "
                         f"the run's Params; leave out {', '.join(given)}")
    if request_from_params:
        _check_declared_params(group_id)
    request = None if request_from_params else explicit
    task_args = {**vectorops_default_args(), **_enclosing_default_args(), **(default_args or {})}
    # mypy types the attrs field by its converter (copy.deepcopy), not as the dict it is
    with TaskGroup(group_id, prefix_group_id=prefix_group_id, tooltip="Chroma → pgvector migration",
                   default_args=task_args) as group:  # type: ignore[arg-type]
        _add_tasks(request, pool, queue or task_args.get("queue") or HEAVY_QUEUE)
    return group


def _check_declared_params(group_id: str) -> None:
    """With ``request_from_params``, the DAG must declare the request's Params (as ``chroma_to_pgvector`` does):
    without them a run would read defaults, i.e. every collection of the workers' store.

    :raises ValueError: naming the Params the DAG lacks.
    """
    from airflow.sdk.definitions._internal.contextmanager import DagContext

    dag = DagContext.get_current()
    declared = set(dag.params.keys()) if dag is not None else set()
    missing = [name for name in REQUEST_DEFAULTS if name not in declared and name not in OPTIONAL_PARAMS]
    if missing:
        raise ValueError(f"chroma_to_pgvector_group({group_id!r}): request_from_params=True needs the DAG to declare "
                         f"the Params {', '.join(missing)} (as dags/chroma_to_pgvector.py does); or pass the request "
                         "as arguments")


def _enclosing_default_args() -> dict[str, Any]:
    """The ``default_args`` of the DAG being defined and of the task group around this one: the user's wins over
    vectorops' own (a group's ``default_args`` would otherwise beat the DAG's)."""
    from airflow.sdk.definitions._internal.contextmanager import DagContext, TaskGroupContext

    dag = DagContext.get_current()
    parent = TaskGroupContext.get_current(dag)
    return {**dict(getattr(dag, "default_args", None) or {}), **dict(getattr(parent, "default_args", None) or {})}


def _add_tasks(request: dict[str, Any] | None, pool: str, queue: str) -> None:
    """The migration's tasks, in the group being defined; ``request`` ``None``: the run's Params."""

    @task
    def plan_request(request: dict[str, Any] | None) -> list[str]:
        """Validate the request and list the collections to migrate (empty on a dry run); a refusal fails here only."""
        from vectorops.airflow.tasks.migration import plan_request

        return plan_request(request)

    @task(map_index_template="{{ collection }}")
    def prepare_collection(collection: str, request: dict[str, Any] | None) -> dict[str, Any]:
        """Claim the collection, stage its ids and plan its chunks."""
        from vectorops.airflow.tasks.migration import prepare_collection

        return prepare_collection(collection, request)

    # runs when every collection is prepared or failed and at least one is ready: one collection's failure does not
    # stop the others; a rejected request (or a dry run) leaves it upstream_failed (skipped), never green
    @task(trigger_rule="all_done_min_one_success")
    def list_chunks(plans: Any) -> list[dict[str, Any]]:  # Any: an XComArg here, the list of plans at run time
        """One entry per chunk of every planned collection."""
        from vectorops.airflow.tasks.migration import list_chunks

        return list_chunks(plans[:])

    @task(map_index_template="{{ chunk_label }}")
    def load_chunk(chunk: dict[str, Any]) -> dict[str, Any]:
        """Fetch one id-range chunk from Chroma and COPY it into the shadow table."""
        from vectorops.airflow.tasks.migration import load_chunk

        return load_chunk(chunk)

    # the index build is the heavy part: the pool keeps it from running beside another build, a REINDEX or a probe
    @task(trigger_rule="all_done", map_index_template="{{ collection }}", outlets=[MIGRATED_TABLES], pool=pool,
          queue=queue)
    def finalize_collection(plan: dict[str, Any]) -> dict[str, Any]:
        """Check counts, validate, build the HNSW index and promote; an Asset event (and lineage) for the table."""
        from vectorops.airflow.tasks.migration import finalize_collection

        return finalize_collection(plan, MIGRATED_TABLES)

    # none_failed: after a rejected request or a failed collection it is upstream_failed, so the run fails on the
    # task that did, alerted once; it still runs when every collection failed before a finalize (to say which)
    @task(trigger_rule="none_failed", outlets=[MIGRATIONS])
    def summarize(collections: Any, summaries: Any) -> list[dict[str, Any]]:  # as list_chunks' plans
        """Log the per-collection summary, write it as the run note, and emit one event for the data-quality DAG."""
        from vectorops.airflow.tasks.migration import summarize

        return summarize(list(collections), summaries[:], MIGRATIONS)

    collections = plan_request(request)
    plans = prepare_collection.partial(request=request).expand(collection=collections)
    loaded = load_chunk.expand(chunk=list_chunks(plans))
    finals = finalize_collection.expand(plan=plans)
    loaded >> finals
    summarize(collections, finals)
