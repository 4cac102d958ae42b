"""Redaction of credentials from what an alert, a run note, an error or a page shows, by Airflow's secrets masker.

The masker (:mod:`vectorops.airflow.secrets_masking`) hides the registered secret values and the values of the
keys Airflow deems sensitive. This module feeds it what a CLI process outside Airflow knows only from its
environment (:func:`known_secrets`), and adds the one thing the masker cannot do: credentials of unknown value
written into free text, ``scheme://user:password@`` and ``password=...``. Airflow is imported only when a
function is called: DAG files and the CLI import this module at start-up.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from vectorops.airflow import secrets_masking
from vectorops.db.roles import read_local_passwords

REDACTED = "***"
# Replaced by Airflow connections (docs/alerts.md); a value still set is a webhook URL, a secret as a whole.
_OLD_WEBHOOK_ENVS = ("VECTOROPS_ALERT_WEBHOOK", "VECTOROPS_ALERT_SLACK_WEBHOOK")
_URL_CREDENTIALS = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@]*):[^\s@/]*@")
_KEY_VALUE = re.compile(
    r"""(?P<head>\b\w*(?:password|passwd|pwd|secret|token)["']?\s*[=:]\s*)(?:'[^']*'|"[^"]*"|[^\s&;,'"}]+)""",
    re.IGNORECASE)
_SECRET_ENV_SUFFIXES = ("PASSWORD", "SECRET", "TOKEN", "KEY")
_NOT_SECRETS = {"true", "false", "none", "null", "yes", "no", "on", "off"}
DSN_ENV = "VECTOROPS_DSN"
# Secrets this process read from elsewhere (e.g. a role's password from a secrets backend): hidden like the others.
_REMEMBERED: set[str] = set()
_CONNINFO_PASSWORD = re.compile(r"(?:^|\s)password\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S+))")


def redact(value: Any, secrets: set[str] | None = None) -> Any:
    """``value`` with credentials replaced by ``***``, recursively through dicts, lists and tuples (as lists).

    :param value: a string or a JSON-like structure.
    :param secrets: literal values to hide, besides those the masker holds (default: :func:`known_secrets`).
    """
    secrets_masking.mask_values(known_secrets() if secrets is None else secrets)
    return _free_text(secrets_masking.masked(value))


def redact_text(text: str, secrets: set[str]) -> str:
    """``text`` with the literal ``secrets``, every secret the masker holds, URL passwords and ``password=...``
    values replaced by ``***``.

    :param text: any text, e.g. a log line or an error message.
    :param secrets: literal values to hide.
    """
    return str(redact(text, secrets))


def describe_error(exc: BaseException, secrets: set[str]) -> str:
    """``"<ExceptionType>: <message>"``, redacted: safe to log and to report.

    :param exc: the error.
    :param secrets: literal values to hide (see :func:`redact_text`).
    """
    return redact_text(f"{type(exc).__name__}: {exc}", secrets)


def error_line(exc: BaseException) -> str:
    """The first line of :func:`describe_error` with the environment's :func:`known_secrets` hidden: one line to
    print, store or alert.

    :param exc: the error.
    """
    return (describe_error(exc, known_secrets()).strip().splitlines() or [type(exc).__name__])[0]


def known_secrets() -> set[str]:
    """Literal secret values in the environment, also percent-encoded as they appear inside URLs.

    They are the values of variables whose names end in ``PASSWORD``, ``SECRET``, ``TOKEN`` or ``KEY``, the
    passwords and sensitive extras of the ``AIRFLOW_CONN_*`` connections (parsed by Airflow) and of
    ``VECTOROPS_DSN``, the database roles' local passwords (``VECTOROPS_HOME/secrets/db-roles.json``) and what
    :func:`remember_secret` was given; values shorter than four characters and flags such as ``true`` are left out.
    """
    values = {os.environ.get(name) for name in os.environ if name.upper().endswith(_SECRET_ENV_SUFFIXES)}
    values |= {os.environ.get(name) for name in _OLD_WEBHOOK_ENVS}
    values.add(dsn_password(os.environ.get(DSN_ENV) or ""))
    values |= _REMEMBERED
    values |= set(read_local_passwords(Path(os.environ.get("VECTOROPS_HOME") or ".vectorops").expanduser()).values())
    for name, value in os.environ.items():
        if name.startswith("AIRFLOW_CONN_") and value.strip():
            values |= secrets_masking.connection_secrets(value, name.removeprefix("AIRFLOW_CONN_").lower())
    # Very short values would blank out ordinary words; flags are not secrets.
    kept = {v for v in values if v and len(v) >= 4 and v.lower() not in _NOT_SECRETS}
    return kept | {quote(v, safe="") for v in kept}


def remember_secret(value: str | None) -> None:
    """Hide ``value`` too from now on in this process (see :func:`known_secrets`).

    :param value: a secret read from somewhere :func:`known_secrets` does not look, e.g. a secrets backend.
    """
    if value:
        _REMEMBERED.add(value)


def dsn_password(dsn: str) -> str | None:
    """The password in a libpq DSN (``postgresql://user:password@...`` or ``... password=...``), if any.

    :param dsn: a connection URI or key/value string.
    """
    if "://" in dsn:
        try:
            password = urlsplit(dsn.strip()).password
        except ValueError:
            return None
        return unquote(password) if password else None
    match = _CONNINFO_PASSWORD.search(dsn)
    if not match:
        return None
    return re.sub(r"\\(.)", r"\1", match[1]) if match[1] is not None else match[2]


def _free_text(value: Any) -> Any:
    """Credentials of unknown value written into the strings of ``value``: the masker knows only values and keys."""
    if isinstance(value, str):
        return _KEY_VALUE.sub(rf"\g<head>{REDACTED}", _URL_CREDENTIALS.sub(rf"\g<head>:{REDACTED}@", value))
    if isinstance(value, Mapping):
        return {key: _free_text(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_free_text(item) for item in value]
    return value
