# Image for the scaled-out stack (docker-compose.yaml). The embedded PostgreSQL is not used here:
# the compose file runs a pgvector/pgvector server and points VECTOROPS_DSN at it.
FROM apache/airflow:3.3.2
USER root
COPY --chown=airflow:root requirements.txt /opt/vectorops/
USER airflow
# Install a CPU-only torch first, so sentence-transformers does not pull the CUDA wheels:
# pass the PyTorch CPU wheel index with --build-arg TORCH_INDEX_URL=...
ARG TORCH_INDEX_URL=""
RUN if [ -n "$TORCH_INDEX_URL" ]; then pip install --no-cache-dir torch==2.13.0 --index-url "$TORCH_INDEX_URL"; fi \
 && pip install --no-cache-dir -r /opt/vectorops/requirements.txt \
      apache-airflow-providers-celery==3.26.0 apache-airflow-providers-fab==3.10.2 \
      apache-airflow-providers-redis==4.7.1
