"""Fail points: named places in the code where a fault-injection test may SIGKILL the process.

``VECTOROPS_FAILPOINT=<name>`` kills the process the first time :func:`hit` is called with ``<name>``;
``<name>:<n>`` kills it on the n-th call (counted per process). Nothing else happens: no cleanup, no ``finally``
blocks, no flushed buffers; the database sees the client vanish, exactly as after an OOM kill or a lost worker.
When the variable is unset (always, outside the fault tests) :func:`hit` is one environment lookup.

The points (``tests/faults/chaos.py`` uses them):

- ``stage_ids``: after each page of source ids is copied into the staging table, before it commits;
- ``copy_batch``: after each fetched batch is written to a chunk's COPY (mid-COPY);
- ``chunk_commit``: a chunk's rows and its ledger row are written, its transaction not yet committed;
- ``index_build``: just before the HNSW ``CREATE INDEX`` of the shadow table;
- ``promote``: inside the promotion transaction, after the renames, before the registry update and commit;
- ``sync_apply``: inside a sync batch's transaction, its rows written, before the read point moves and it commits;
- ``sync_batch``: after a sync batch committed.
"""

from __future__ import annotations

import os
import signal

ENV = "VECTOROPS_FAILPOINT"
_hits: dict[str, int] = {}


def parse(spec: str) -> tuple[str, int]:
    """``"<name>"`` or ``"<name>:<n>"`` → ``(name, n)``; ``n`` is 1 when not given.

    :param spec: the value of ``VECTOROPS_FAILPOINT``.
    :raises ValueError: when ``n`` is not a positive integer.
    """
    name, _, count = spec.strip().partition(":")
    n = int(count) if count else 1
    if n < 1:
        raise ValueError(f"{ENV}={spec!r}: the hit count must be 1 or more")
    return name, n


#: where a hit is announced: the process's stderr, or the terminal's while a command sends fd 2 to its log file
_report_fd = 2


def report_to(fd: int) -> int:
    """Announce hits on ``fd`` from now on (the kill harness reads the announcement on the command's stderr).

    :param fd: an open file descriptor.
    :return: the descriptor used before, to put back.
    """
    global _report_fd
    previous, _report_fd = _report_fd, fd
    return previous


def hit(name: str) -> None:
    """SIGKILL this process if ``VECTOROPS_FAILPOINT`` names ``name`` and this is the hit it asks for.

    :param name: the fail point's name.
    """
    spec = os.environ.get(ENV)
    if not spec:
        return
    target, n = parse(spec)
    if target != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] == n:
        os.write(_report_fd, f"\nvectorops failpoint {name}:{n} hit in pid {os.getpid()}: SIGKILL\n".encode())
        os.kill(os.getpid(), signal.SIGKILL)
