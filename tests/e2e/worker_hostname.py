"""``[core] hostname_callable`` of the Celery test's workers: on one machine they would all record its name, so each
is given its own (``E2E_WORKER_HOSTNAME``), as each container of the compose deployment has its own."""

from __future__ import annotations

import os


def hostname() -> str:
    """The worker's hostname, recorded on each task instance it runs."""
    return os.environ["E2E_WORKER_HOSTNAME"]
