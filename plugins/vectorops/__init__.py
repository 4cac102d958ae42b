"""vectorops: move vector data from ChromaDB into PostgreSQL + pgvector, and keep it healthy there."""

__version__ = "0.1.0"
