"""Running suite checks with Great Expectations: a file context per ``gx_root`` that processes share under a lock.

The GX project keeps suites, validation definitions, checkpoints and results on disk, so Data Docs
accumulate over runs. A shadow table (``<table>__shadow_<attempt>``) is validated under the GX objects
of its live table: the gate and the live checks of a collection share one suite history, and attempts
do not pile up assets in ``great_expectations.yml``, which GX parses on every run.

The connection string stored in ``great_expectations.yml`` is a ``${VAR}`` reference to this
process's environment: the password never lands on disk. The context is loaded afresh under the lock
on every run: caching it per process saved about 40 ms of a 500 ms run (Data Docs rendering dominates)
and would need invalidation whenever another process rewrites the project.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg import sql

from vectorops.errors import QualitySuiteError
from vectorops.quality import gx_import

SITE_NAME = "vectorops"
LOCK_FILE = ".vectorops-gx.lock"
BATCH_DEFINITION = "whole_table"
CHECK_KEY = "vectorops_check"
#: validation results the Data Docs index lists, newest first. GX reads every listed result from disk each time it
#: rebuilds the index, once per validation: unbounded, that grew with the installation's history (about 2.5 ms a
#: stored result). GX applies the same limit when it builds a new site directory's pages; pages already built stay.
#: The full history stays in ``vectorops.validation_results``.
INDEX_VALIDATIONS = 100
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_PLAIN_FILE_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,100}")
_SHADOW = re.compile(r"^(.+?)__shadow_.+$")  # naming.shadow_name; base names never contain "__"


@dataclass(frozen=True)
class Check:
    """One expectation of a suite, as data: its GX class, keyword arguments and how to sample bad rows.

    :param name: the stable name its outcome reports (:attr:`vectorops.quality.suites.ExpectationOutcome.expectation`).
    :param gx_type: class name in ``great_expectations.expectations``.
    :param kwargs: constructor arguments for that class.
    :param sample_query: a query with ``{batch}`` whose first column samples the offending rows, or ``None``.
    :param description: what Data Docs shows instead of the raw query.
    :param expected: the value the check compares against, when the outcome should report it.
    """

    name: str
    gx_type: str
    kwargs: dict[str, Any]
    sample_query: str | None = None
    description: str | None = None
    expected: Any = None


def sqlalchemy_url(dsn: str) -> str:
    """The SQLAlchemy URL (psycopg 3 driver) for a libpq DSN, password included.

    :param dsn: a libpq URI or key=value connection string.
    """
    from psycopg.conninfo import conninfo_to_dict
    from sqlalchemy.engine import URL

    params = {key: str(value) for key, value in conninfo_to_dict(dsn).items()}
    query = {k: v for k, v in params.items() if k not in {"user", "password", "host", "port", "dbname"}}
    query.setdefault("application_name", "vectorops_quality")
    query.setdefault("connect_timeout", "15")
    return URL.create("postgresql+psycopg", username=params.get("user"), password=params.get("password"),
                      host=params.get("host"), port=int(params["port"]) if "port" in params else None,
                      database=params.get("dbname"), query=query).render_as_string(hide_password=False)


def _data_source_name(dsn: str) -> tuple[str, str]:
    """GX data source name and the environment variable holding its URL; the password is not hashed."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    key = "\0".join(str(params.get(part, "")) for part in ("user", "host", "port", "dbname"))
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"vectorops_pg_{digest}", f"VECTOROPS_GX_DSN_{digest.upper()}"


def object_name(schema: str, table: str) -> str:
    """The name of the GX asset, suite, validation definition and checkpoint of a table (also a file name).

    :param schema: schema of the table.
    :param table: table name; a shadow table gets the name of its live table.
    """
    if shadow := _SHADOW.match(table):
        table = shadow.group(1)
    if _PLAIN_NAME.match(schema) and _PLAIN_NAME.match(table):
        return f"{schema}.{table}"
    raw = f"{schema}.{table}".encode("utf-8", "surrogatepass")
    folded = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{schema}.{table}")[:100]
    return f"{folded}_{hashlib.sha256(raw).hexdigest()[:8]}"


def file_name(text: str) -> str:
    """``text`` as one path component that GX may use for a run name, on any file system: as it is when it is
    plain (at most 100 of ``[A-Za-z0-9_.@-]``, not a dot name), else a folded prefix and 16 hex digits of its SHA-256.

    Collection keys reach GX in run names, and a key may be as long as Chroma allows (512 characters, more with
    its tenant and database), hold ``/``, ``..`` or any unicode.

    :param text: any text.
    """
    if _PLAIN_FILE_NAME.fullmatch(text) and text.strip(".") and ".." not in text:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    folded = re.sub(r"[^A-Za-z0-9_@-]+", "_", text)[:80].strip("_")
    return f"{folded}_{digest}" if folded else digest


@contextmanager
def _locked(gx_root: Path) -> Iterator[None]:
    gx_root.mkdir(parents=True, exist_ok=True)
    with open(gx_root / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _configure(context: Any, data_docs_dir: Path) -> None:
    from great_expectations.data_context.types.base import ProgressBarsConfig

    progress = context.variables.progress_bars  # a ProgressBarsConfig when set here, a dict when read from disk
    current = progress if isinstance(progress, dict) else vars(progress) if progress is not None else {}
    if current.get("globally") is not False or current.get("metric_calculations") is not False:
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        context.variables.save()
    site = {"class_name": "SiteBuilder", "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(data_docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder",
                                   "validation_results_limit": INDEX_VALIDATIONS}}
    sites = context.list_data_docs_sites()
    if SITE_NAME not in sites:
        context.add_data_docs_site(SITE_NAME, site)
    elif sites[SITE_NAME] != site:
        context.update_data_docs_site(SITE_NAME, site)


def _batch_definition(context: Any, data_source: str, env_name: str, asset_name: str, query: str) -> Any:
    try:
        source = context.data_sources.get(data_source)
    except KeyError:
        source = context.data_sources.add_postgres(data_source, connection_string=f"${{{env_name}}}")
    try:
        asset = source.get_asset(asset_name)
    except LookupError:
        asset = None
    if asset is not None and asset.query != query:
        source.delete_asset(asset_name)
        asset = None
    if asset is None:
        asset = source.add_query_asset(asset_name, query=query)
    try:
        return asset.get_batch_definition(BATCH_DEFINITION)
    except KeyError:
        return asset.add_batch_definition_whole_table(BATCH_DEFINITION)


def _exception_message(info: Any) -> str | None:
    """The first line of an error GX caught while evaluating an expectation; GX reports those as failures."""
    if not isinstance(info, dict):
        return None
    found = [info] + [value for value in info.values() if isinstance(value, dict)]  # metric errors: keyed by metric
    for entry in found:
        if entry.get("raised_exception"):
            return (str(entry.get("exception_message")).strip().splitlines() or ["(no message)"])[0][:300]
    return None


def validate(dsn: str, schema: str, table: str, checks: list[Check], *, gx_root: Path, data_docs_dir: Path,
             run_name: str) -> dict[str, tuple[bool, dict[str, Any]]]:
    """Run ``checks`` on a table as one GX checkpoint and update the Data Docs site.

    :param dsn: libpq DSN of the database.
    :param schema: schema of the table.
    :param table: table name.
    :param checks: the suite, from :func:`vectorops.quality.suites.suite_checks`.
    :param gx_root: project directory of the GX file context.
    :param data_docs_dir: directory of the Data Docs site.
    :param run_name: run name of the stored validation result.
    :return: per check name, its success and GX ``result`` dict.
    :raises QualitySuiteError: when GX could not evaluate a check.
    """
    gx = gx_import.load()
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.exceptions import GreatExpectationsError

    gx_root, data_docs_dir = gx_root.resolve(), data_docs_dir.resolve()
    url = sqlalchemy_url(dsn)
    data_source, env_name = _data_source_name(dsn)
    os.environ[env_name] = url
    name = object_name(schema, table)
    query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema, table)).as_string()
    expectations = [getattr(gx.expectations, c.gx_type)(**c.kwargs, meta={CHECK_KEY: c.name},
                                                        description=c.description) for c in checks]
    with _locked(gx_root):
        fresh_docs = not (data_docs_dir / "index.html").exists()
        context = gx.get_context(mode="file", project_root_dir=gx_root)
        _configure(context, data_docs_dir)
        try:
            batch_definition = _batch_definition(context, data_source, env_name, name, query)
            try:
                definition = context.validation_definitions.add_or_update(gx.ValidationDefinition(
                    name=name, data=batch_definition, suite=gx.ExpectationSuite(name=name, expectations=expectations)))
                checkpoint = context.checkpoints.add_or_update(gx.Checkpoint(
                    name=name, validation_definitions=[definition], result_format="SUMMARY",
                    actions=[UpdateDataDocsAction(name="update_data_docs", site_names=[SITE_NAME])]))
                result = checkpoint.run(run_id=gx.RunIdentifier(run_name=file_name(run_name),
                                                                run_time=datetime.now(UTC)))
                if fresh_docs:  # a new site directory gets the newest INDEX_VALIDATIONS pages, not just this run
                    context.build_data_docs(site_names=[SITE_NAME])
            finally:
                batch_definition.data_asset.datasource.get_engine().dispose()
        except (GreatExpectationsError, ConnectionError) as exc:  # GX's TestConnectionError is a ConnectionError
            raise QualitySuiteError(f"Great Expectations could not validate {schema}.{table}: {exc}") from exc
    outcomes: dict[str, tuple[bool, dict[str, Any]]] = {}
    errors: dict[str, list[str]] = {}
    for suite_result in result.run_results.values():
        for item in suite_result.results:
            check = item.expectation_config.meta[CHECK_KEY]
            if (message := _exception_message(item.exception_info)) is not None:
                errors.setdefault(message, []).append(check)
            outcomes[check] = (bool(item.success), dict(item.result or {}))
    missing = [c.name for c in checks if c.name not in outcomes]
    if errors or missing:
        problems = [f"{', '.join(names)}: {message}" for message, names in errors.items()]
        problems += [f"{', '.join(missing)}: no result"] if missing else []
        raise QualitySuiteError(f"Great Expectations could not evaluate {schema}.{table}: " + "; ".join(problems))
    return outcomes


def sample_rows(dsn: str, schema: str, table: str, checks: list[Check], limit: int) -> dict[str, list[Any]]:
    """First columns of up to ``limit`` offending rows for each check's ``sample_query``.

    :param dsn: libpq DSN of the database.
    :param schema: schema of the table.
    :param table: table name.
    :param checks: checks that failed and have a sample query.
    :param limit: rows per check.
    """
    import psycopg

    from vectorops.db.connect import connect

    relation = sql.Identifier(schema, table).as_string()
    samples = {}
    try:
        with connect(dsn, application_name="vectorops_quality") as conn:
            for check in checks:
                assert check.sample_query is not None
                offending = sql.SQL(check.sample_query.format(batch=relation))
                rows = conn.execute(sql.SQL("SELECT * FROM ({}) AS offending LIMIT {}").format(
                    offending, sql.Literal(limit))).fetchall()
                samples[check.name] = [row[0] for row in rows]
    except psycopg.Error as exc:
        raise QualitySuiteError(f"could not sample offending rows of {schema}.{table}: {exc}") from exc
    return samples
