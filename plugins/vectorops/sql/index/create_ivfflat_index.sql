-- {index} on {table}: {expression} is embedding, or embedding::halfvec(d) above 2,000 dimensions; {lists} from the rows.
CREATE INDEX {index} ON {table} USING ivfflat ({expression} {opclass}) WITH (lists = {lists})
