"""Redaction of credentials from what an alert sends or logs: texts, JSON-like payloads and error messages.

Hides ``scheme://user:password@`` passwords, ``password=...`` pairs, values of keys that name a secret, and the
secret values known from the environment. Stdlib only at module level: :mod:`vectorops.alerts.send` imports this
module, and DAG files import that one at parse time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from vectorops.airflow.connections import parse_connection
from vectorops.db.roles import read_local_passwords

REDACTED = "***"
# The webhook URLs are secrets as a whole although their variables' names do not say so;
# vectorops.alerts.send reads the same variables.
WEBHOOK_ENV = "VECTOROPS_ALERT_WEBHOOK"
SLACK_WEBHOOK_ENV = "VECTOROPS_ALERT_SLACK_WEBHOOK"

_URL_CREDENTIALS = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@]*):[^\s@/]*@")
_KEY_VALUE = re.compile(
    r"""(?P<head>\b\w*(?:password|passwd|pwd|secret|token)["']?\s*[=:]\s*)(?:'[^']*'|"[^"]*"|[^\s&;,'"}]+)""",
    re.IGNORECASE)
_SECRET_KEY = re.compile(r"password|passwd|^pwd$|secret|(?:^|_)token$|api_?key|credential", re.IGNORECASE)
_SECRET_ENV_SUFFIXES = ("PASSWORD", "SECRET", "TOKEN", "KEY")
_NOT_SECRETS = {"true", "false", "none", "null", "yes", "no", "on", "off"}
DSN_ENV = "VECTOROPS_DSN"
# Secrets this process read from elsewhere (e.g. a role's password from a secrets backend): hidden like the others.
_REMEMBERED: set[str] = set()
_CONNINFO_PASSWORD = re.compile(r"(?:^|\s)password\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S+))")


def redact(value: Any, secrets: set[str] | None = None) -> Any:
    """``value`` with credentials replaced by ``***``, recursively through dicts, lists and tuples.

    Redacts ``scheme://user:password@`` passwords, ``password=...`` pairs, values of keys that name a
    secret, and the literal ``secrets`` (default: those known from the environment).

    :param value: a string or a JSON-like structure.
    :param secrets: literal values to hide.
    """
    if secrets is None:
        secrets = known_secrets()
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, Mapping):
        return {key: REDACTED if isinstance(key, str) and _SECRET_KEY.search(key) and isinstance(item, str) and item
                else redact(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item, secrets) for item in value]
    return value


def redact_text(text: str, secrets: set[str]) -> str:
    """``text`` with the literal ``secrets``, URL passwords and ``password=...`` values replaced by ``***``.

    :param text: any text, e.g. a log line or an error message.
    :param secrets: literal values to hide; longer ones are replaced first.
    """
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _URL_CREDENTIALS.sub(rf"\g<head>:{REDACTED}@", text)
    return _KEY_VALUE.sub(rf"\g<head>{REDACTED}", text)


def describe_error(exc: BaseException, secrets: set[str]) -> str:
    """``"<ExceptionType>: <message>"``, redacted: safe to log and to report.

    :param exc: the error.
    :param secrets: literal values to hide (see :func:`redact_text`).
    """
    return redact_text(f"{type(exc).__name__}: {exc}", secrets)


def known_secrets() -> set[str]:
    """Literal secret values in the environment, also percent-encoded as they appear inside URLs.

    They are the values of variables whose names end in ``PASSWORD``, ``SECRET``, ``TOKEN`` or ``KEY``, the
    webhook URLs, the passwords of the ``AIRFLOW_CONN_*`` connections and of ``VECTOROPS_DSN``, the database
    roles' local passwords (``VECTOROPS_HOME/secrets/db-roles.json``) and what :func:`remember_secret` was given;
    values shorter than four characters and flags such as ``true`` are left out.
    """
    values = {os.environ.get(name) for name in os.environ if name.upper().endswith(_SECRET_ENV_SUFFIXES)}
    values |= {os.environ.get(name) for name in (WEBHOOK_ENV, SLACK_WEBHOOK_ENV)}
    values.add(dsn_password(os.environ.get(DSN_ENV) or ""))
    values |= _REMEMBERED
    values |= set(read_local_passwords(Path(os.environ.get("VECTOROPS_HOME") or ".vectorops").expanduser()).values())
    for name, value in os.environ.items():
        if name.startswith("AIRFLOW_CONN_") and value.strip():
            try:
                conn = parse_connection(value.strip())
            except (ValueError, TypeError):
                continue
            values.add(conn.password)
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
