"""The task functions of each DAG: context in, vectorops steps called, alerted failures out."""
