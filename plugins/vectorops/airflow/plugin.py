"""Airflow plugin: the Vector Health page, listed in the Airflow UI's navigation.

Airflow's plugin manager finds it through the package's ``airflow.plugins`` entry point (``pyproject.toml``), in
every component where vectorops is installed; no file is copied into a plugins folder. The FastAPI app lives in
:mod:`vectorops.web.app`.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from vectorops.web.app import URL_PREFIX, create_app


class VectorHealthPlugin(AirflowPlugin):
    """Mounts the Vector Health app at ``/vector-health`` and links it from the navigation bar."""

    name = "vectorops_vector_health"
    fastapi_apps = [  # noqa: RUF012 (Airflow declares these as instance variables)
        {"app": create_app(), "url_prefix": URL_PREFIX, "name": "Vector Health"},
    ]
    external_views = [  # noqa: RUF012
        # url_route: the nav item opens the page inside the Airflow UI, at /plugin/vector-health
        {"name": "Vector Health", "href": f"{URL_PREFIX}/", "destination": "nav", "url_route": "vector-health"},
    ]
