"""The embedding model and the re-embedding policy."""
