"""Search knob advice: the smallest value of the index kind's knob on its ladder whose recall@10 on the probe set
reaches the target: ``hnsw.ef_search`` for the HNSW kinds, ``ivfflat.probes`` for IVFFlat, the re-rank depth for
``hnsw_bit_rerank``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from vectorops.load import index_kinds

# starts above k + 1 = 11: a plain HNSW scan returns at most ef_search rows, and each probe drops itself
EF_LADDER = (16, 24, 40, 64, 100, 160, 250, 400, 640, 1000)
EF_SEARCH = "hnsw.ef_search"
# what a knob that reaches no target says about the index
_REBUILD_HINTS = {
    "ivfflat.probes": "the index itself needs a rebuild (its lists were trained on other data)",
    "re-rank depth": "the binary quantisation loses too much for this data: a halfvec or full-vector HNSW index "
                     "would keep it",
}


@dataclass(frozen=True)
class EfAdvice:
    """The advice and the recall measured at each rung tried.

    :param ef_search: the knob's value: the smallest rung reaching ``target``; when none does (``reached`` False),
        the rung with the best recall.
    :param recall: recall@10 at ``ef_search``.
    :param reached: whether ``recall`` reaches ``target``.
    :param ladder: recall@10 per rung tried, in order.
    :param knob: what the value is of (``hnsw.ef_search``, ``ivfflat.probes``, ``re-rank depth``).
    """

    ef_search: int
    recall: float
    target: float
    reached: bool
    ladder: dict[int, float] = field(default_factory=dict)
    knob: str = EF_SEARCH

    def describe(self) -> str:
        """One sentence for logs and rebuild reasons."""
        if self.reached:
            return f"the smallest {self.knob} reaching recall@10 {self.target} is {self.ef_search} ({self.recall:.3f})"
        hint = _REBUILD_HINTS.get(self.knob, "the index itself needs a rebuild, with larger m or ef_construction "
                                             "if it persists")
        return (f"no {self.knob} on the ladder reaches recall@10 {self.target} (best {self.recall:.3f} at "
                f"{self.ef_search}); "
                f"{hint}")


def knob_ladder(kind: str, lists: int | None = None) -> tuple[int, ...]:
    """The values of ``kind``'s knob the monitor tries, ascending.

    :param kind: the index's kind.
    :param lists: an IVFFlat index's lists.
    """
    if kind == "ivfflat":
        return index_kinds.probe_ladder(lists or 1)
    if kind == "hnsw_bit_rerank":
        return index_kinds.RERANK_LADDER
    return EF_LADDER


def advise_ef_search(recall_at: Callable[[int], float], target: float,
                     known: dict[int, float] | None = None, ladder: tuple[int, ...] = EF_LADDER,
                     knob: str = EF_SEARCH) -> EfAdvice:
    """Walk ``ladder`` upwards until ``recall_at(value)`` reaches ``target``.

    :param recall_at: recall@10 of the probe set at a value of the knob (the exact results are reused by the
        caller).
    :param target: the recall to reach (``settings.monitor.min_recall``).
    :param known: recalls already measured, by value, so they are not measured again.
    :param ladder: values to try, ascending (:func:`knob_ladder`).
    :param knob: the knob the values are of.
    """
    measured: dict[int, float] = {}
    for ef in ladder:
        value = known[ef] if known and ef in known else recall_at(ef)
        measured[ef] = value
        if value >= target:
            return EfAdvice(ef, value, target, True, measured, knob)
    best = max(measured, key=lambda ef: (measured[ef], -ef))
    return EfAdvice(best, measured[best], target, False, measured, knob)
