-- The vector comes first: its fixed-size field is encoded for a whole batch at once (see copy_encoder.py).
COPY {table} (embedding, id, document, metadata, uri) FROM STDIN WITH (FORMAT BINARY)
