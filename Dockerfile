# The finance_recon image: Dagster user code (gRPC code server), webserver, daemon and the metrics
# exporter all run from it (see docker-compose.yml). Build: docker compose build
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/home \
    FINANCE_RECON_HOME=/var/lib/finance_recon \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    DBT_VERSION_CHECK=false

WORKDIR /opt/finance_recon

# Dependencies first (cached while only the code changes). Editable install: settings.PROJECT_ROOT
# and the dbt project are resolved relative to the source tree, not site-packages.
COPY pyproject.toml ./
RUN mkdir -p finance_recon && touch finance_recon/__init__.py README.md \
    && pip install -e . "dagster-postgres==0.29.27" \
    && rm -rf finance_recon README.md

COPY . .
RUN pip install --no-deps -e . \
    # dbt's manifest.json is read at import by @dbt_assets: build it into the image (no parse at start).
    && dagster-dbt project prepare-and-package --file finance_recon/reconciliation/project.py \
    && useradd --system --uid 10001 --home-dir /opt/dagster finance \
    && mkdir -p "$DAGSTER_HOME/storage" "$FINANCE_RECON_HOME" \
    && chown -R finance /opt/dagster "$FINANCE_RECON_HOME" /opt/finance_recon/dbt_project

USER finance
EXPOSE 4000 3000 9108
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "finance_recon.definitions"]
