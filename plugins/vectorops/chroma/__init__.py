"""The Chroma source: read-only access to stores on disk and servers over HTTP."""
