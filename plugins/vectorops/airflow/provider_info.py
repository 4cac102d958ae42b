"""vectorops as an Airflow provider: the ``chroma`` connection type and its form.

``pyproject.toml`` names :func:`get_provider_info` as the ``apache_airflow_provider`` entry point, which Airflow's
ProvidersManager reads in every component. Airflow 3.2+ builds the connection form from ``conn-fields`` and
``ui-field-behaviour`` here, without importing the hook; the hook's own ``get_connection_form_widgets`` and
``get_ui_field_behaviour`` serve older Airflow and are built from the same constants. Data only: no imports.
"""

from __future__ import annotations

from typing import Any

#: the extras of a ``chroma`` connection, as Airflow's ``conn-fields`` (JSON schema per field)
CHROMA_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "tenant": {"label": "Tenant", "schema": {"type": ["string", "null"]},
               "description": "Chroma tenant to read. Empty: default_tenant."},
    "database": {"label": "Database", "schema": {"type": ["string", "null"]},
                 "description": "The one database to read. Empty: every database of the tenant."},
    "https": {"label": "HTTPS", "schema": {"type": ["boolean", "null"], "default": False},
              "description": "The server speaks HTTPS (TLS)."},
    "ca_bundle": {"label": "CA bundle path", "schema": {"type": ["string", "null"]},
                  "description": "PEM file of the CA that signed the server's certificate, on the workers. Empty: "
                                 "the public CAs (certifi)."},
    "verify": {"label": "Verify the certificate", "schema": {"type": ["boolean", "null"], "default": True},
               "description": "Off only for a throw-away test server."},
    "auth_type": {"label": "Auth type",
                  "schema": {"type": ["string", "null"], "enum": ["x-chroma-token", "bearer", "basic", None]},
                  "description": "How the password is sent: x-chroma-token (X-Chroma-Token header), bearer "
                                 "(Authorization: Bearer), or basic (login and password). Empty: basic with a "
                                 "login, else bearer. No password: no auth."},
}

#: which standard fields the form shows, and how it labels them
CHROMA_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema"],
    "relabeling": {"login": "Login (basic auth only)", "password": "Password (token)"},
    "placeholders": {"host": "chroma.internal", "port": "8000"},
}


def get_provider_info() -> dict[str, Any]:
    """The provider info Airflow discovers through the ``apache_airflow_provider`` entry point."""
    return {
        "package-name": "vectorops",
        "name": "vectorops",
        "description": "Chroma to pgvector migrations and their upkeep; the Chroma server connection type.",
        "connection-types": [{
            "connection-type": "chroma",
            "hook-class-name": "vectorops.airflow.chroma_hook.ChromaHook",
            "hook-name": "Chroma",
            "conn-fields": CHROMA_CONN_FIELDS,
            "ui-field-behaviour": CHROMA_FIELD_BEHAVIOUR,
        }],
    }
