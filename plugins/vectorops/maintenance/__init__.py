"""Scheduled maintenance of the live vector tables: index health and rebuilds, VACUUM and ANALYZE.

:mod:`~vectorops.maintenance.catalog` reads the state of each table from PostgreSQL's statistics,
:mod:`~vectorops.maintenance.planner` decides what to do and why (pure functions), and
:mod:`~vectorops.maintenance.executor` does it in sessions with ``lock_timeout`` and ``statement_timeout``,
recording each action in ``vectorops.maintenance_log``.
"""
