-- dual mode: one sampled query whose Chroma top-k differed from pgvector's (or failed on Chroma).
INSERT INTO vectorops.store_disagreements (
    service, collection, n_results, where_filter, where_document, query_sha256, postgres_ids, chroma_ids, overlap,
    postgres_ms, chroma_ms, error)
VALUES (
    %(service)s, %(collection)s, %(n_results)s, %(where_filter)s, %(where_document)s, %(query_sha256)s,
    %(postgres_ids)s, %(chroma_ids)s, %(overlap)s, %(postgres_ms)s, %(chroma_ms)s, %(error)s)
