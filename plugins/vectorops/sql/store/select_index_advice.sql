-- The search monitor's advice for a table's index knob (search_knob, value), when the operations tables exist (a
-- store on a database `vectorops db up` never prepared has none).
SELECT h.search_knob, h.advised_ef_search
FROM vectorops.index_health h
WHERE h.table_schema = %(schema)s AND h.table_name = %(table)s
  AND h.search_knob IS NOT NULL AND h.advised_ef_search IS NOT NULL
