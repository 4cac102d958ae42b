"""ef_search advice: the smallest ``hnsw.ef_search`` on a ladder whose recall@10 on the probe set reaches the target."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# starts above k + 1 = 11: a plain HNSW scan returns at most ef_search rows, and each probe drops itself
EF_LADDER = (16, 24, 40, 64, 100, 160, 250, 400, 640, 1000)


@dataclass(frozen=True)
class EfAdvice:
    """The advice and the recall measured at each rung tried.

    :param ef_search: the smallest rung reaching ``target``; when none does (``reached`` False), the rung with
        the best recall.
    :param recall: recall@10 at ``ef_search``.
    :param reached: whether ``recall`` reaches ``target``.
    :param ladder: recall@10 per rung tried, in order.
    """

    ef_search: int
    recall: float
    target: float
    reached: bool
    ladder: dict[int, float] = field(default_factory=dict)

    def describe(self) -> str:
        """One sentence for logs and rebuild reasons."""
        if self.reached:
            return f"the smallest ef_search reaching recall@10 {self.target} is {self.ef_search} ({self.recall:.3f})"
        return (f"no ef_search up to {self.ef_search} reaches recall@10 {self.target} (best {self.recall:.3f}); "
                "the index itself needs a rebuild, with larger m or ef_construction if it persists")


def advise_ef_search(recall_at: Callable[[int], float], target: float,
                     known: dict[int, float] | None = None, ladder: tuple[int, ...] = EF_LADDER) -> EfAdvice:
    """Walk ``ladder`` upwards until ``recall_at(ef)`` reaches ``target``.

    :param recall_at: recall@10 of the probe set at a given ef_search (the exact results are reused by the caller).
    :param target: the recall to reach (``settings.monitor.min_recall``).
    :param known: recalls already measured, by ef_search, so they are not measured again.
    :param ladder: ef_search values to try, ascending.
    """
    measured: dict[int, float] = {}
    for ef in ladder:
        value = known[ef] if known and ef in known else recall_at(ef)
        measured[ef] = value
        if value >= target:
            return EfAdvice(ef, value, target, True, measured)
    best = max(measured, key=lambda ef: (measured[ef], -ef))
    return EfAdvice(best, measured[best], target, False, measured)
