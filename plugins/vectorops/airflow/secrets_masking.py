"""Airflow's secrets masker for :mod:`vectorops.redaction`: register secret values, redact texts and structures.

The masker hides every registered value (also in Airflow's own task logs: inside a task
``airflow.sdk.log.mask_secret`` tells the supervisor too) and the values of keys Airflow deems sensitive
(``password``, ``token``, ``dsn``, ``authorization``, ``webhook_url``, ``private_key``, ``connection_string``,
``[core] sensitive_var_conn_names``...). Airflow is imported only when a function is called: DAG files and the
CLI import :mod:`vectorops.redaction` at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any


def mask_values(values: Iterable[str]) -> None:
    """Hide ``values`` from now on in this process, and in the task's logs when it runs inside a task.

    :param values: secret values; Airflow skips those shorter than ``[logging] min_length_masked_secret`` (5).
    """
    from airflow.sdk._shared.secrets_masker import _secrets_masker
    from airflow.sdk.log import mask_secret

    masker = _secrets_masker()
    for value in values:
        # Inside a task each call is also a message to the supervisor: only the values it does not hold yet.
        if len(value) >= masker.min_length_to_mask and re.escape(value) not in masker.patterns:
            mask_secret(value)


def masked(value: Any) -> Any:
    """``value`` with every registered secret and every sensitive key's value replaced by ``***``.

    :param value: a string, or a JSON-like structure of dicts, lists and tuples.
    """
    from airflow.sdk._shared.secrets_masker import _secrets_masker

    masker = _secrets_masker()
    # The masker joins its patterns in set order, so a secret registered with a shorter prefix of itself would
    # leave its tail readable ("***gh"): longest first, as one alternation tries them left to right.
    ordered = "|".join(sorted(masker.patterns, key=len, reverse=True))
    if masker.patterns and (masker.replacer is None or masker.replacer.pattern != ordered):
        masker.replacer = re.compile(ordered)
    return masker.redact(value)


def connection_secrets(value: str, conn_id: str) -> set[str]:
    """The password and the sensitive extras of an ``AIRFLOW_CONN_*`` value, parsed by Airflow (URI or JSON).

    :param value: the variable's value.
    :param conn_id: the connection id, for Airflow's parser.
    :return: empty when Airflow cannot parse ``value`` (the connection's own user reports that).
    """
    from airflow.sdk._shared.secrets_masker import should_hide_value_for_key
    from airflow.sdk.definitions.connection import Connection

    try:
        conn = Connection.from_json(value, conn_id) if value.lstrip().startswith("{") else Connection.from_uri(
            value.strip(), conn_id)
        extra = conn.extra_dejson if conn.extra else {}
    except Exception:  # any malformed value: nothing to learn from it here
        return set()
    found = {conn.password} if conn.password else set()
    found |= {str(v) for k, v in extra.items() if v and isinstance(v, str | int)
              and should_hide_value_for_key(k)}  # type: ignore[no-untyped-call]
    return found
