-- Which parts of the platform the store needs exist: the vector extension; the registry with owned_objects
-- (they came together) and its source_hnsw_* columns (the last it writes); the store tables.
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector'),
       to_regclass('vectorops.collection_registry') IS NOT NULL
           AND to_regclass('vectorops.owned_objects') IS NOT NULL
           AND EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('vectorops.collection_registry')
                       AND attname = 'source_hnsw_ef_construction' AND NOT attisdropped),
       to_regclass('vectorops.store_disagreements') IS NOT NULL
