"""Airflow glue: hooks, notifiers, connections, task functions and the local Airflow environment."""
