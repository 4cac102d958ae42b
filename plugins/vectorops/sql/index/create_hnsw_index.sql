-- {index} on {table}: {expression} is embedding, or embedding::halfvec(d) above 2,000 dimensions.
CREATE INDEX {index} ON {table} USING hnsw ({expression} {opclass}) WITH (m = {m}, ef_construction = {ef_construction})
