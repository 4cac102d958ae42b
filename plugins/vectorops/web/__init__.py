"""The Vector Health page: an Airflow UI plugin (FastAPI app + external view) over the vectorops.* tables.

``app`` (routes and error pages), ``queries`` (the SQL in ``include/sql/web``), ``page`` (the HTML documents),
``cells`` (one collection's table row) and ``charts`` (inline SVG). Airflow is reached through
``vectorops.airflow.web_auth`` (the Airflow JWT) and ``vectorops.airflow.dag_schedule`` (the monitor's schedule).
The plugin entry is ``plugins/vectorops_health_plugin.py``.
"""
