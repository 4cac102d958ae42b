"""The ``vectorops`` command, one module per command group."""
