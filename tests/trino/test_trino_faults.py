"""Bad settings and faults on the Trino path, found before any work: exit 1 within seconds, one line
naming the URL, the catalog or the variable, and the last published report untouched."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from finance_recon.cli import main
from tests.services import TRINO_PORT, free_port, require_trino

pytestmark = [pytest.mark.trino]


@pytest.fixture
def trino_env(monkeypatch, tmp_path) -> Path:
    """A Trino deployment whose sources are never reached (the checks stop it first), with a
    previously published report whose latest.json must survive every refusal."""
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "latest.json").write_text('{"run_id": "the-last-good-run"}')
    for name, value in {
        "FINANCE_RECON_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "home" / "dagster"),
        "FINANCE_RECON_WAREHOUSE_TARGET": "trino",
        "FINANCE_RECON_TRINO_PORT": str(TRINO_PORT),
        "FINANCE_RECON_TRINO_SCHEMA": "t_faults",
        "FINANCE_RECON_ORDERS_URL": "mysql+pymysql://root@127.0.0.1:3306/fr_never_read",
        "FINANCE_RECON_PAYMENTS_URL": "postgresql://postgres@127.0.0.1:5432/fr_never_read",
        "FINANCE_RECON_REPORTS_URI": str(reports),
    }.items():
        monkeypatch.setenv(name, value)
    return reports


def _run(capsys) -> tuple[int, str, float]:
    started = time.monotonic()
    code = main(["run"])
    return code, capsys.readouterr().err, time.monotonic() - started


def test_trino_down_is_retried_visibly_then_exit_1_naming_the_url(trino_env, monkeypatch, capsys):
    port = free_port()  # nothing listens there
    monkeypatch.setenv("FINANCE_RECON_TRINO_PORT", str(port))
    code, err, seconds = _run(capsys)
    assert code == 1
    assert err.count(f"Trino at http://127.0.0.1:{port} does not answer — attempt") == 2  # each retry shown
    last = err.strip().splitlines()[-1]
    assert last.startswith("finance-recon run: ") and f"http://127.0.0.1:{port}" in last
    assert "connection refused" in last
    assert seconds < 20
    assert (trino_env / "latest.json").read_text() == '{"run_id": "the-last-good-run"}'


def test_a_missing_catalog_is_named(trino_env, monkeypatch, capsys):
    require_trino()
    monkeypatch.setenv("FINANCE_RECON_TRINO_CATALOG", "no_such_catalog")
    code, err, seconds = _run(capsys)
    assert code == 1
    assert "no catalog 'no_such_catalog' (FINANCE_RECON_TRINO_CATALOG)" in err.strip().splitlines()[-1]
    assert seconds < 15
    assert (trino_env / "latest.json").read_text() == '{"run_id": "the-last-good-run"}'


def test_an_unreachable_iceberg_catalog_database_is_named(trino_env, monkeypatch, capsys):
    require_trino()
    monkeypatch.setenv(
        "FINANCE_RECON_ICEBERG_CATALOG_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/x"
    )
    code, err, seconds = _run(capsys)
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert "the Iceberg catalog database" in last and "FINANCE_RECON_ICEBERG_CATALOG_URL" in last
    assert seconds < 15
    assert (trino_env / "latest.json").read_text() == '{"run_id": "the-last-good-run"}'
