"""What maintenance does to a live table, and why: pure decisions over a :class:`~.catalog.TableState`.

Per table, in this order:

1. indexes left invalid by an interrupted build: ``_ccnew``/``_ccold`` leftovers of ``REINDEX CONCURRENTLY``
   are dropped, and so is an invalid index that duplicates a valid one of the table (a cancelled
   ``CREATE INDEX CONCURRENTLY`` of an index it already has: rebuilt, it would be a second copy, doubling the
   memory and write cost); any other invalid index is rebuilt (nothing is touched while a build runs on the table);
   on a ``__prev`` table (what the last promotion replaced, which keeps the leftovers it had) every invalid
   index is dropped and nothing else is done;
2. ``REINDEX INDEX CONCURRENTLY`` of the vector index (HNSW, on the vector, its halfvec or its binary quantisation,
   or IVFFlat) when the search monitor measured a recall drop that no value of the kind's search knob fixes, the
   table grew well beyond the rows the index was built on, many rows changed since the build, or a VACUUM is due
   for tuples that died after the build (pgvector advises rebuilding an HNSW index before vacuuming its table; an
   index built after the tuples died holds none of them). An IVFFlat index whose lists are more than 2x off what
   the table's rows now call for (:func:`vectorops.load.index_kinds.ivfflat_lists`) is rebuilt with those lists
   (``ALTER INDEX ... SET (lists = n)``, then the ``REINDEX``: the name, and so the registry, stay as they are);
   that needs the index's owner, so a session that is not it (``vectorops_maint``) only advises it in a note;
3. ``VACUUM (ANALYZE)`` when the dead-tuple count and ratio pass their thresholds, else ``ANALYZE`` when the
   statistics are missing or stale. ``VACUUM FULL`` is never planned: it locks the table for its whole run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from vectorops.config import MaintenanceSettings
from vectorops.load import index_kinds, indexing
from vectorops.maintenance.catalog import IVFFLAT_DEFAULT_LISTS, IndexState, TableState

DROP_INDEX = "drop_index"
REINDEX = "reindex"
VACUUM_ANALYZE = "vacuum_analyze"
ANALYZE = "analyze"
ANALYZE_CHANGE_RATIO = 0.1  # rows changed since the last ANALYZE, as a share of the table, that make it stale
DEFAULT_HNSW_M = 16
LISTS_DRIFT = 2.0  # an IVFFlat index whose lists are more than this factor off what its rows call for is rebuilt


@dataclass(frozen=True)
class Action:
    """One maintenance statement to run on one table.

    :param kind: ``drop_index`` | ``reindex`` | ``vacuum_analyze`` | ``analyze``.
    :param reason: why, with the numbers that decided it.
    :param maintenance_work_mem_mb: for a rebuild, the memory sized from the estimated graph.
    :param vector_index: the index is the table's vector index (its rebuild resets the baseline).
    :param lists: for the rebuild of an IVFFlat index, the lists to build it with (set on the index first).
    """

    kind: str
    collection: str
    schema: str
    table: str
    reason: str
    index: str | None = None
    maintenance_work_mem_mb: int | None = None
    estimated_graph_mb: int | None = None
    vector_index: bool = False
    lists: int | None = None


@dataclass(frozen=True)
class TablePlan:
    """The actions for one table, and notes on what was left alone.

    :param notes: what an operator should know (a build running, a missing index, advice not followed).
    :param info: what was noticed on a healthy table (the first look since the index build).
    :param reset_baseline: take the table's current change counter and dead tuples as the baseline: first look
        since the index build, or the statistics were reset.
    """

    state: TableState
    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reset_baseline: bool = False
    info: list[str] = field(default_factory=list)


def _pct(value: float) -> str:
    return f"{value:.0%}"


def _rebuild(state: TableState, index: IndexState, reason: str, mem_cap_mb: int, lists: int | None = None) -> Action:
    rows = max(state.live_rows, state.built_rows or 0)
    hnsw = index.method == "hnsw" and state.dimensions
    # a bit index's graph holds 1 bit a dimension: sized as load/indexing sizes its build
    dimensions = index_kinds.graph_dimensions("hnsw_bit_rerank" if index.bits else "hnsw", int(state.dimensions or 0))
    m = int(index.options.get("m", state.hnsw_m or DEFAULT_HNSW_M))
    estimate = indexing.estimate_hnsw_mb(rows, dimensions, m) if hnsw else None
    memory = indexing.maintenance_mem_mb(rows, dimensions, m, mem_cap_mb) if hnsw else None
    if index.method == "ivfflat":
        memory = indexing.ivfflat_mem_mb(rows, int(state.dimensions or 0), mem_cap_mb,
                                         halfvec="halfvec" in (index.expression or ""),
                                         lists=lists or index.lists or IVFFLAT_DEFAULT_LISTS)
    return Action(REINDEX, state.collection, state.schema, state.table, reason, index=index.name,
                  maintenance_work_mem_mb=memory, estimated_graph_mb=estimate,
                  vector_index=index.name == state.index_name, lists=lists)


def _method(state: TableState) -> str:
    vector = state.vector_index
    return "IVFFlat" if vector is not None and vector.method == "ivfflat" else "HNSW"


def lists_reason(state: TableState, index: IndexState) -> tuple[str, int] | None:
    """Why an IVFFlat index needs other lists, with the lists the table's rows call for; ``None`` when its lists
    are within :data:`LISTS_DRIFT` of them (or the index is not IVFFlat, or the table's rows are not counted yet).

    :param state: the table.
    :param index: its vector index.
    """
    if index.method != "ivfflat" or state.live_rows <= 0:
        return None
    built = index.lists or IVFFLAT_DEFAULT_LISTS
    wanted = index_kinds.ivfflat_lists(state.live_rows)
    if max(built, wanted) <= LISTS_DRIFT * min(built, wanted):
        return None
    return (f"the IVFFlat index has {built:,} lists and the table's {state.live_rows:,} rows call for {wanted:,} "
            f"(more than {LISTS_DRIFT:g}x off)", wanted)


def _quantisation_bound(state: TableState, min_recall: float) -> bool:
    """The monitor found no re-rank depth reaching the target on a binary-quantised index: the bits lose too much,
    and a rebuild of the same index would find the same."""
    return (state.search_knob == index_kinds.KNOBS["hnsw_bit_rerank"] and state.advised_recall is not None
            and state.advised_recall < min_recall)


def _tuned_away(state: TableState, min_recall: float) -> bool:
    """The monitor's latest advice reaches the recall target with the current index: a knob to raise (ef_search,
    probes, re-rank depth), not a rebuild."""
    return state.advised_recall is not None and state.advised_recall >= min_recall


def rebuild_reason(state: TableState, settings: MaintenanceSettings, min_recall: float = 0.95,
                   churn_known: bool = True) -> str | None:
    """Why the vector index needs a rebuild, or ``None``: a monitor request, growth, or churn since the build.

    :param min_recall: the monitor's recall target; a request is not honoured when its advised value of the
        search knob reaches it (raising ``hnsw.ef_search``, ``ivfflat.probes`` or the re-rank depth fixes that
        recall, a rebuild would not).
    :param churn_known: the change counter has a baseline since the build.
    """
    if state.rebuild_reason and not _tuned_away(state, min_recall) and not _quantisation_bound(state, min_recall):
        return f"the search monitor asked for a rebuild: {state.rebuild_reason}"
    built = state.built_rows
    if built is None:
        return None
    if state.live_rows > built * (1 + settings.reindex_growth_ratio):
        growth = (state.live_rows - built) / max(built, 1)
        return (f"the {_method(state)} index was built on {built:,} rows and the table now has {state.live_rows:,} "
                f"(+{_pct(growth)}, threshold {_pct(settings.reindex_growth_ratio)})")
    if not churn_known:
        return None
    churn = state.changes - (state.built_changes or 0)
    if churn > 0 and churn >= settings.reindex_churn_ratio * max(built, 1):
        return (f"{churn:,} rows inserted, updated or deleted since the index was built on {built:,} rows "
                f"({_pct(churn / max(built, 1))}, threshold {_pct(settings.reindex_churn_ratio)})")
    return None


def vacuum_reason(state: TableState, settings: MaintenanceSettings) -> str | None:
    """Why the table needs ``VACUUM (ANALYZE)``, from its dead tuples, or ``None``."""
    total = state.live_rows + state.dead_rows
    ratio = state.dead_rows / total if total else 0.0
    if state.dead_rows >= max(1, settings.vacuum_min_dead) and ratio >= settings.vacuum_dead_ratio:
        return (f"{state.dead_rows:,} dead tuples, {_pct(ratio)} of the table (thresholds: "
                f"{settings.vacuum_min_dead:,} tuples and {_pct(settings.vacuum_dead_ratio)})")
    return None


def analyze_reason(state: TableState, settings: MaintenanceSettings, now: datetime) -> str | None:
    """Why the table needs ``ANALYZE``: never analysed, many changes since, or stale with some changes."""
    if state.last_analyzed is None:
        return "the table has never been analysed"
    changed = state.mod_since_analyze
    if changed and changed >= ANALYZE_CHANGE_RATIO * max(state.live_rows, 1):
        return (f"{changed:,} rows changed since the last ANALYZE ({_pct(changed / max(state.live_rows, 1))} "
                f"of the table, threshold {_pct(ANALYZE_CHANGE_RATIO)})")
    age_h = (now - state.last_analyzed).total_seconds() / 3600
    if changed and age_h >= settings.analyze_max_age_h:
        return (f"last analysed {age_h:.0f} h ago (threshold {settings.analyze_max_age_h:g} h) and {changed:,} rows "
                "changed since")
    return None


def _plan_retired(state: TableState) -> TablePlan:
    """A ``__prev`` table: drop its invalid indexes (nothing queries it; a rebuild would be wasted)."""
    building = next((i.building_pid for i in state.indexes if i.building_pid), None)
    if building:
        return TablePlan(state, notes=[f"an index build is running on {state.qualified} (backend pid {building}); "
                                       "its indexes are left alone this run"])
    what = "the previous table, kept since the last promotion"
    return TablePlan(state, [Action(DROP_INDEX, state.collection, state.schema, state.table, index=index.name,
                                    reason=(f"invalid leftover of an interrupted REINDEX CONCURRENTLY, on {what}"
                                            if index.leftover else f"invalid index on {what}"))
                             for index in state.indexes if not index.valid])


def plan_table(state: TableState, settings: MaintenanceSettings, *, mem_cap_mb: int, min_recall: float = 0.95,
               now: datetime | None = None) -> TablePlan:
    """Decide the maintenance of one live table.

    :param state: the table as :func:`~vectorops.maintenance.catalog.live_tables` read it.
    :param settings: thresholds and timeouts.
    :param mem_cap_mb: the most ``maintenance_work_mem`` a rebuild may ask for.
    :param min_recall: the search monitor's recall target (see :func:`rebuild_reason`).
    :param now: the time stale statistics are measured against (default: now).
    """
    if not state.exists:
        return TablePlan(state, notes=[f"{state.qualified} is in the registry but does not exist; nothing to do"])
    if state.retired:
        return _plan_retired(state)
    now = now or datetime.now(UTC)
    actions: list[Action] = []
    notes: list[str] = []
    info: list[str] = []
    building = next((i.building_pid for i in state.indexes if i.building_pid), None)
    if building:
        notes.append(f"an index build is running on {state.qualified} (backend pid {building}); its indexes are "
                     "left alone this run")
    else:
        for index in state.indexes:
            if index.valid:
                continue
            if index.leftover:
                actions.append(Action(DROP_INDEX, state.collection, state.schema, state.table, index=index.name,
                                      reason="invalid leftover of an interrupted REINDEX CONCURRENTLY"))
            elif index.duplicate_of and index.name != state.index_name:
                actions.append(Action(DROP_INDEX, state.collection, state.schema, state.table, index=index.name,
                                      reason=f"invalid duplicate of the valid index {index.duplicate_of} (a cancelled "
                                             "CREATE INDEX CONCURRENTLY): rebuilt, it would be a second copy"))
            else:
                actions.append(_rebuild(state, index, "invalid index: a CREATE INDEX CONCURRENTLY or REINDEX did "
                                                      "not finish", mem_cap_mb))
    vector = state.vector_index
    first_look = state.built_changes is None
    reset = not first_look and state.changes < (state.built_changes or 0)
    if first_look:
        info.append("first look since the index build: churn and dead tuples are measured from now on")
    elif reset:
        notes.append("the table's statistics were reset since the index build; churn is measured from now on")
    due_vacuum = vacuum_reason(state, settings)
    if vector is not None and vector.valid and vector.vector and not building:
        reason = rebuild_reason(state, settings, min_recall, churn_known=not (first_look or reset))
        if state.rebuild_reason and _tuned_away(state, min_recall):
            knob = state.search_knob or "hnsw.ef_search"
            notes.append(f"the search monitor reported a recall drop ({state.rebuild_reason}), but {knob} "
                         f"{state.advised_ef_search} reaches recall@10 {state.advised_recall:.3f} on the current "
                         f"index: raise {knob}; no rebuild")
        elif state.rebuild_reason and _quantisation_bound(state, min_recall):
            notes.append(f"the search monitor reported a recall drop ({state.rebuild_reason}), and no re-rank depth "
                         f"reaches recall@10 {min_recall} on the binary-quantised index (best "
                         f"{state.advised_recall:.3f}): a rebuild would not change that; migrate the collection "
                         "again with --index hnsw_halfvec or hnsw (docs/search-indexes.md); no rebuild")
        died_since = state.dead_rows - (state.dead_rows if first_look or reset else state.built_dead_rows or 0)
        if reason is None and due_vacuum and vacuum_reason(replace(state, dead_rows=died_since), settings):
            reason = f"VACUUM is due ({due_vacuum}); " + (
                "pgvector advises REINDEX before VACUUM on HNSW tables" if vector.method == "hnsw"
                else "the index is rebuilt first, so that it holds none of the dead tuples")
        lists = None
        drift = lists_reason(state, vector)
        if drift and vector.owned:
            lists = drift[1]
            reason = "; ".join(r for r in (reason, f"{drift[0]}: rebuilt with lists = {lists}") if r)
        elif drift:
            notes.append(f"{drift[0]}: a rebuild with lists = {drift[1]} is advised, not planned: changing an "
                         "index's lists (ALTER INDEX ... SET) takes its owner, which this session is not; run "
                         "`vectorops maintain` as the table's owner, or migrate the collection again")
        if reason:
            actions.append(_rebuild(state, vector, reason, mem_cap_mb, lists))
    elif state.index_name and vector is None:
        notes.append(f"the registry names index {state.index_name!r}, which does not exist on {state.qualified}")
    if due_vacuum:
        actions.append(Action(VACUUM_ANALYZE, state.collection, state.schema, state.table, due_vacuum))
    else:
        stale = analyze_reason(state, settings, now)
        if stale:
            actions.append(Action(ANALYZE, state.collection, state.schema, state.table, stale))
    return TablePlan(state, actions, notes, first_look or reset, info)
