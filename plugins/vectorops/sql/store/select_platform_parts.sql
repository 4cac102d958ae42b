-- Which parts of the platform the store needs exist: the vector extension; the registry with owned_objects
-- (they came together); the store tables.
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector'),
       to_regclass('vectorops.collection_registry') IS NOT NULL
           AND to_regclass('vectorops.owned_objects') IS NOT NULL,
       to_regclass('vectorops.store_disagreements') IS NOT NULL
