"""The Vector Health page: an Airflow UI plugin (FastAPI app + external view) over the vectorops.* tables.

``app`` (routes and error pages), ``auth`` (the Airflow JWT), ``queries`` (the SQL in ``include/sql/web``),
``page`` (HTML) and ``charts`` (inline SVG). The plugin entry is ``plugins/vectorops_health_plugin.py``.
"""
