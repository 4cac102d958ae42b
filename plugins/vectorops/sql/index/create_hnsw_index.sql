-- {index} on {table}: {expression} is embedding, embedding::halfvec(d) or binary_quantize(embedding)::bit(d).
CREATE INDEX {index} ON {table} USING hnsw ({expression} {opclass}) WITH (m = {m}, ef_construction = {ef_construction})
