"""deploy/dagster/dagster.postgres.yaml loads as a real Dagster instance on the local PostgreSQL."""

from __future__ import annotations

import os
import shutil
import socket
import uuid

import pytest

from tests.deploy.deploy_helpers import DEPLOY, on_ci

PG_HOST, PG_PORT = os.environ.get("FINANCE_RECON_TEST_PG_HOST", "127.0.0.1"), 5432

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _require(condition: bool, message: str) -> None:
    if condition:
        return
    if on_ci():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def pg_database():
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=3):
            up = True
    except OSError:
        up = False
    _require(up, f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT}")
    import psycopg2

    admin = psycopg2.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres")
    admin.autocommit = True
    suffix = uuid.uuid4().hex[:10]
    db, role, password = f"fr_dagster_{suffix}", f"fr_dagster_{suffix}", f"pw-{uuid.uuid4().hex}"
    with admin.cursor() as cur:
        cur.execute(f"CREATE ROLE {role} LOGIN PASSWORD %s", [password])
        cur.execute(f'CREATE DATABASE "{db}" OWNER {role}')
    try:
        yield db, role, password
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            cur.execute(f"DROP ROLE IF EXISTS {role}")
        admin.close()


def test_postgres_instance_config_creates_storage_and_keeps_the_concurrency_limit(
    tmp_path, monkeypatch, pg_database
):
    try:
        import dagster_postgres  # noqa: F401
    except ImportError:
        _require(False, "dagster-postgres is not installed (pip install 'dagster-postgres==0.29.27')")
    from dagster import DagsterInstance

    db, role, password = pg_database
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster" / "dagster.postgres.yaml", home / "dagster.yaml")
    for name, value in {
        "DAGSTER_PG_HOST": PG_HOST,
        "DAGSTER_PG_DB": db,
        "DAGSTER_PG_USERNAME": role,
        "DAGSTER_PG_PASSWORD": password,
    }.items():
        monkeypatch.setenv(name, value)

    instance = DagsterInstance.from_config(str(home))
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert instance.get_runs() == []  # the schema was created and is queryable
        coordinator = instance.run_coordinator
        assert type(coordinator).__name__ == "QueuedRunCoordinator"
        limits = coordinator.get_run_queue_config().tag_concurrency_limits
        assert {"key": "finance_recon/pipeline", "value": "reconciliation", "limit": 1} in limits
    finally:
        instance.dispose()
