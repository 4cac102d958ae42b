"""The Vector Health page: an Airflow UI plugin (FastAPI app + external view) over the vectorops.* tables.

``app`` (routes and error pages), ``queries`` (the SQL in ``vectorops/sql/web``), ``page`` (the HTML documents),
``cells`` (one collection's table row), ``charts`` (inline SVG), ``recovery_status`` (the database's recovery drills
and WAL archiver) and ``recovery_panel`` (their section of the page). Airflow is reached through
``vectorops.airflow.web_auth`` (the Airflow JWT) and ``vectorops.airflow.dag_schedule`` (the monitor's schedule).
The plugin is :mod:`vectorops.airflow.plugin`, found through the ``airflow.plugins`` entry point.
"""
