COPY {table} (id, embedding, document, metadata, uri) FROM STDIN WITH (FORMAT BINARY)
