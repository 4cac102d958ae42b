-- The lists storage option of an index (a qualified, quoted name): NULL when it has none (pgvector's default).
SELECT (SELECT o.option_value::integer FROM pg_options_to_table(c.reloptions) o WHERE o.option_name = 'lists')
FROM pg_class c WHERE c.oid = to_regclass(%s)
