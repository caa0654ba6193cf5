"""Bad input as a user meets it: exit 2 before any work, one line on stderr naming the thing to fix."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from finance_recon.cli import arguments, main, preflight
from finance_recon.settings import SettingsError, load_settings

from .test_cli import _env

CLI = [sys.executable, "-m", "finance_recon"]


def _refused(args: list[str], home: Path, **env: str) -> str:
    """Run the CLI; assert it refused at once with exit 2 and one line; return that line."""
    result = subprocess.run(CLI + args, env=_env(home, **env), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    # Nothing was started: no run in the Dagster instance, no warehouse.
    assert not (home / "dagster").exists() and not (home / "warehouse.duckdb").exists()
    return lines[0]


@pytest.mark.parametrize(
    ("args", "names", "expected"),
    [
        (["run", "--grace-minutes", "-5"], "--grace-minutes", "integer ≥ 0"),
        (["run", "--grace-minutes", "1.5"], "--grace-minutes", "integer ≥ 0"),
        (["run", "--tolerance", "abc"], "--tolerance", "decimal ≥ 0"),
        (["run", "--tolerance", "-0.01"], "--tolerance", "decimal ≥ 0"),
        (["run", "--tolerance", "NaN"], "--tolerance", "decimal ≥ 0"),
        (["run", "--tolerance", "Infinity"], "--tolerance", "decimal ≥ 0"),
        (["run", "--tolerance", "0.001"], "--tolerance", "at most 2 decimal places"),
        (["run", "--tolerance", "1e17"], "--tolerance", "16 integer digits"),
        (["run", "--as-of", ""], "--as-of", "as_of is empty"),
        (["run", "--as-of", "yesterday"], "--as-of", "not ISO-8601"),
        (["run", "--as-of", "2026-11-28T10:00:00"], "--as-of", "no UTC offset"),
        (["run", "--as-of", "2999-01-01T00:00:00Z"], "--as-of", "in the future"),
        (["demo", "--orders", "0"], "--orders", "integer ≥ 1"),
        (["seed", "--mutate", "-1"], "--mutate", "integer ≥ 0"),
        (["diagnose", "--sla-minutes", "0"], "--sla-minutes", "integer ≥ 1"),
    ],
)
def test_a_bad_flag_exits_2_naming_the_flag_and_what_is_expected(args, names, expected, tmp_path):
    line = _refused(args, tmp_path)
    assert line.startswith(f"finance-recon {args[0]}: argument {names}"), line
    assert expected in line, line
    if args[-1]:
        assert repr(args[-1]) in line, line  # the value as given


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("FINANCE_RECON_TOLERANCE", "abc", "decimal ≥ 0"),
        ("FINANCE_RECON_TOLERANCE", "0.005", "at most 2 decimal places"),
        ("FINANCE_RECON_GRACE_MINUTES", "-5", "integer ≥ 0"),
        ("FINANCE_RECON_GRACE_MINUTES", "soon", "integer ≥ 0"),
        ("FINANCE_RECON_SLA_MINUTES", "0", "integer ≥ 1"),
        ("FINANCE_RECON_EXTRACT_BATCH_ROWS", "many", "integer ≥ 1"),
    ],
)
@pytest.mark.parametrize("command", ["run", "demo", "diagnose"])
def test_a_bad_setting_exits_2_naming_the_variable(command, variable, value, expected, tmp_path):
    line = _refused([command], tmp_path, **{variable: value})
    assert line == (
        f"finance-recon {command}: environment variable {variable}={value!r} is invalid: expected "
        + line.split("expected ", 1)[1]
    )
    assert expected in line


def test_settings_error_is_one_line_naming_the_variable(monkeypatch):
    monkeypatch.setenv("FINANCE_RECON_TOLERANCE", "abc")
    with pytest.raises(
        SettingsError, match=r"^environment variable FINANCE_RECON_TOLERANCE='abc' is invalid"
    ):
        load_settings()
    monkeypatch.setenv("FINANCE_RECON_TOLERANCE", " 1.50 ")  # spaces are forgiven, the value kept exact
    assert load_settings().tolerance == Decimal("1.50")
    monkeypatch.setenv("FINANCE_RECON_TOLERANCE", "")  # empty means the default
    assert load_settings().tolerance == Decimal("0.00")


def test_as_of_allows_a_small_clock_skew_but_not_more():
    now = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
    assert arguments.as_of("2026-11-28T18:04:59Z", now=now) == "2026-11-28T18:04:59Z"
    assert arguments.as_of("2026-11-28T20:00:00+02:00", now=now) == "2026-11-28T18:00:00Z"
    with pytest.raises(argparse.ArgumentTypeError, match="in the future"):
        arguments.as_of((now + timedelta(minutes=5, seconds=1)).isoformat(), now=now)


def test_a_fresh_home_without_sources_says_to_run_demo_or_seed(tmp_path):
    line = _refused(["run"], tmp_path)
    assert "no embedded sources" in line and "`finance-recon demo`" in line and "`finance-recon seed`" in line


def test_a_configured_duckdb_source_that_does_not_exist_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "oltp.duckdb"
    line = _refused(["run"], tmp_path, FINANCE_RECON_ORDERS_URL=f"duckdb:///{missing}")
    assert line.startswith("finance-recon run: FINANCE_RECON_ORDERS_URL names the DuckDB file")
    assert str(missing) in line


def test_a_missing_dbt_manifest_says_which_command_prepares_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FINANCE_RECON_HOME", str(tmp_path))
    monkeypatch.setattr(preflight, "MANIFEST_PATH", tmp_path / "target" / "manifest.json")
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "manifest.json does not exist: run `make prepare`" in err[0], err


def test_an_engine_that_is_not_installed_names_its_extra(tmp_path, monkeypatch, capsys):
    """PySpark and dbt-trino are extras: configured but absent, the run says which one to install."""
    monkeypatch.setenv("FINANCE_RECON_HOME", str(tmp_path))
    installed = preflight._installed
    monkeypatch.setattr(preflight, "_installed", lambda module: False)
    monkeypatch.setenv("FINANCE_RECON_LANDING_ENGINE", "spark")
    assert main(["run"]) == 2
    assert "FINANCE_RECON_LANDING_ENGINE=spark needs PySpark" in capsys.readouterr().err
    monkeypatch.delenv("FINANCE_RECON_LANDING_ENGINE")
    monkeypatch.setenv("FINANCE_RECON_WAREHOUSE_TARGET", "trino")
    assert main(["run"]) == 2
    assert "pip install -e '.[trino]'" in capsys.readouterr().err
    assert installed("dbt.adapters.duckdb") and not installed("no_such_package.sub")


# Issue 25 item 3: every setting a run uses is refused before any work, naming the variable.
SERVER_URLS = {
    "FINANCE_RECON_ORDERS_URL": "mysql+pymysql://root@127.0.0.1:3306/oltp",
    "FINANCE_RECON_PAYMENTS_URL": "postgresql://postgres@127.0.0.1:5432/payments",
}


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("FINANCE_RECON_ORDERS_URL", "not a url", "not a valid SQLAlchemy URL"),
        ("FINANCE_RECON_ORDERS_URL", "mysql+pymysql://root:s3cret@127.0.0.1:port/oltp", "not a valid"),
        (
            "FINANCE_RECON_PAYMENTS_URL",
            "postgresql://postgres:s3cret@127.0.0.1:99999999999/payments",
            "TCP port",
        ),
        ("FINANCE_RECON_PAYMENTS_URL", "snowflake://acct/db", "unsupported dialect"),
        ("FINANCE_RECON_ORDERS_URL", "mysql+pymysql://root@127.0.0.1:3306", "names no database"),
    ],
)
def test_a_malformed_source_url_exits_2_naming_the_variable_not_the_secret(
    variable, value, expected, tmp_path
):
    line = _refused(["run"], tmp_path, **{**SERVER_URLS, variable: value})
    assert line.startswith(f"finance-recon run: environment variable {variable} is invalid: "), line
    assert expected in line, line
    assert "s3cret" not in line


@pytest.mark.parametrize("command", ["run", "demo"])
def test_an_unknown_warehouse_target_exits_2_naming_the_allowed_ones(command, tmp_path):
    line = _refused([command], tmp_path, FINANCE_RECON_WAREHOUSE_TARGET="snowflake")
    assert line == (
        f"finance-recon {command}: environment variable FINANCE_RECON_WAREHOUSE_TARGET='snowflake' is "
        "invalid: expected one of duckdb, trino, spark (the targets of dbt_project/profiles.yml)"
    )


def test_an_unknown_landing_engine_exits_2_naming_the_variable(tmp_path):
    line = _refused(["run"], tmp_path, FINANCE_RECON_LANDING_ENGINE="flink", **SERVER_URLS)
    assert "FINANCE_RECON_LANDING_ENGINE='flink' is invalid: expected one of embedded, spark" in line


@pytest.mark.parametrize(
    ("variable", "value"),
    [("FINANCE_RECON_WAREHOUSE_TARGET", "trino"), ("FINANCE_RECON_LANDING_ENGINE", "spark")],
)
def test_the_prober_on_an_engine_it_cannot_probe_is_refused_not_ignored(variable, value, tmp_path):
    line = _refused(["run"], tmp_path, FINANCE_RECON_PROBE_ENABLED="true", **{variable: value}, **SERVER_URLS)
    assert line == (
        "finance-recon run: environment variable FINANCE_RECON_PROBE_ENABLED=true needs the embedded engine, "
        f"but {variable}={value}: the correctness prober runs on {variable}="
        f"{'duckdb' if value == 'trino' else 'embedded'} only (docs/operations.md); unset "
        "FINANCE_RECON_PROBE_ENABLED on this deployment"
    ), line


@pytest.mark.parametrize("command", ["run", "demo"])
def test_an_unwritable_report_store_is_refused_before_extraction(command, tmp_path):
    env = {"FINANCE_RECON_REPORTS_URI": "/proc/finance-reports"}
    line = _refused([command], tmp_path, **env, **(SERVER_URLS if command == "run" else {}))
    assert line.startswith(
        f"finance-recon {command}: environment variable FINANCE_RECON_REPORTS_URI='/proc/finance-reports' "
        "is not a writable folder"
    ), line


def test_the_report_store_check_leaves_nothing_behind(tmp_path):
    store = tmp_path / "reports"
    settings = load_settings().__class__(**{**load_settings().__dict__, "reports_uri": str(store)})
    preflight.check_report_store(settings)
    assert store.is_dir() and list(store.iterdir()) == []


def test_a_failed_extract_stage_names_the_source_that_failed():
    from finance_recon.cli.output import _detail, _Stage

    stage = _Stage("extract", {"orders_batch", "payments_batch"}, rows={"payments": 222}, failed=True)
    stage.failed_steps.append("orders_batch")
    assert _detail(stage) == "orders failed, payments 222 rows"
    # Every table's batch in one step (issue 27): the tables it did not materialize are the failed ones.
    stage = _Stage("extract", {"source_batches"}, rows={"payments": 222}, failed=True)
    stage.failed_steps.append("source_batches")
    assert _detail(stage) == "orders failed, payments 222 rows"
    stage = _Stage("extract", {"source_batches"}, failed=True)
    stage.failed_steps.append("source_batches")
    assert _detail(stage) == "orders failed, payments failed"


def test_a_retry_of_the_step_that_reads_every_table_prints_one_line_per_table():
    from types import SimpleNamespace

    from finance_recon.cli.output import _retry_texts, stage_of
    from finance_recon.names import SOURCE_BATCHES_NAME

    assert stage_of(SOURCE_BATCHES_NAME) == "extract"  # output.py spells it without importing Dagster
    cause = SimpleNamespace(
        cls_name="SourceUnavailableError",
        message="finance_recon.sources.errors.SourceUnavailableError: orders: connection refused — attempt 2 "
        "of 2 at 10:00:02Z (in 2 s; why): source x\npayments: connection refused — attempt 2 of 2 at "
        "10:00:02Z (in 2 s; why): source y\n",
        cause=None,
    )
    data = SimpleNamespace(
        error=SimpleNamespace(cls_name="RetryRequested", message="", cause=cause), seconds_to_wait=2
    )
    assert _retry_texts("source_batches", data) == [
        "orders: connection refused — attempt 2 of 2 at 10:00:02Z (in 2 s; why): source x",
        "payments: connection refused — attempt 2 of 2 at 10:00:02Z (in 2 s; why): source y",
    ]
    assert _retry_texts("orders_batch", SimpleNamespace(error=None, seconds_to_wait=5)) == [
        "orders_batch: retrying in 5 s"
    ]


def test_a_refused_source_is_retried_briefly_and_every_retry_is_on_the_terminal(tmp_path):
    """Issue 25 item 4: a closed port on 127.0.0.1 was retried silently for 67 s."""
    import time

    from tests.sources.test_assets import closed_port

    orders_port, payments_port = closed_port(), closed_port()
    env = _env(
        tmp_path,
        FINANCE_RECON_ORDERS_URL=f"mysql+pymysql://root@127.0.0.1:{orders_port}/oltp",
        FINANCE_RECON_PAYMENTS_URL=f"postgresql://postgres@127.0.0.1:{payments_port}/payments",
    )
    started = time.monotonic()
    result = subprocess.run(CLI + ["run"], env=env, capture_output=True, text=True, timeout=300)
    took = time.monotonic() - started
    assert result.returncode == 1, (result.stdout, result.stderr)
    retries = [line for line in result.stdout.splitlines() if line.startswith("extract    retry")]
    assert len(retries) == 2, result.stdout  # one per source: refused on loopback is retried once
    for line in retries:
        assert re.search(
            r"(orders|payments): connection refused — attempt 2 of 2 at \d\d:\d\d:\d\dZ \(in 2 s", line
        ), line
    assert "extract    FAILED  orders failed, payments failed" in result.stdout
    assert "connection refused, after 2 attempts" in result.stderr, result.stderr
    assert took < 40, took  # not ~67 s of silent retries
