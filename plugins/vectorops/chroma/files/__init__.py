"""A local Chroma store read straight from its files, for every chromadb version from 0.4."""
