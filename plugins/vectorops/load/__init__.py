"""The pgvector side of a migration: shadow tables, staging, binary COPY, quarantine and index builds."""
