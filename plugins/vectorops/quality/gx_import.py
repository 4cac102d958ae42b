"""Great Expectations, imported once per process and only by the processes that validate.

``import great_expectations`` takes about 2.5 s of CPU here (scipy, altair, pandas and its own registries).
:func:`prefetch` starts it in a background thread where the caller is about to wait on the server anyway;
:func:`load` returns the module, waiting for a prefetch under way (Python's import lock).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any


def _quiet_gx_loggers() -> None:
    """Great Expectations' own loggers at WARNING, in task logs and in the CLI alike.

    At INFO they write hundreds of lines per validation (``_get_default_value called with key "row_condition"``,
    "Skipping registering function" while GX is imported, datasource configurations) around the one line that
    matters. Some GX modules set their own logger to INFO, so each one already created is set, not only the parent.
    """
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if (isinstance(logger, logging.Logger) and 0 < logger.level < logging.WARNING
                and name.startswith("great_expectations.")):
            logger.setLevel(logging.WARNING)


_prefetching: threading.Thread | None = None
_prefetch_lock = threading.Lock()


def prefetch() -> None:
    """Import Great Expectations in a background thread, once per process.

    A later :func:`load` (every validation calls it) waits for it. Nothing else imports GX: a process that never
    validates never pays for it.
    """
    global _prefetching
    with _prefetch_lock:
        if _prefetching is None and "great_expectations" not in sys.modules:
            _no_analytics()  # here, not in the thread: libpq reads the environment in this one meanwhile
            _prefetching = threading.Thread(target=_import_quietly, name="gx-import", daemon=True)
            _prefetching.start()


def _import_quietly() -> None:
    try:
        load()
    except Exception:  # validate() imports it again and reports what fails
        logging.getLogger(__name__).debug("prefetching Great Expectations failed", exc_info=True)


def _no_analytics() -> None:
    if os.environ.get("GX_ANALYTICS_ENABLED") != "False":
        os.environ["GX_ANALYTICS_ENABLED"] = "False"


def load() -> Any:
    """The ``great_expectations`` module, imported once per process with its loggers quiet and pgvector's
    SQLAlchemy type registered."""
    _no_analytics()
    _quiet_gx_loggers()  # before the import: GX logs while it registers its API
    import great_expectations as gx

    _quiet_gx_loggers()  # after it: the modules that set their own level have run

    # Registers the vector type with SQLAlchemy before GX touches a table. A table asset needs it (reflection
    # fails on `vector` and GX reports that as failed column expectations); our query asset reads types from the
    # cursor instead, but keeps working either way.
    import pgvector.sqlalchemy  # noqa: F401

    return gx
