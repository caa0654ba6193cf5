"""The local instance's event log (finance_recon/runs/event_log.py): a home the platform creates uses
it at the home's own folder, whoever opens the instance; what one process stored another reads."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from dagster import DagsterInstance, job, op

from finance_recon.runs.event_log import KEEP_ENGINES, PooledSqliteEventLogStorage
from finance_recon.settings import ensure_dagster_home, load_settings


@op
def _one():
    return 1


@job
def _tiny():
    _one()


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A home created the way the CLI creates one; DAGSTER_HOME is not left pointing at it."""
    monkeypatch.setenv("FINANCE_RECON_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    dagster_home = ensure_dagster_home(load_settings())
    monkeypatch.delenv("DAGSTER_HOME")
    return dagster_home


def test_a_created_home_names_the_pooled_event_log_with_its_absolute_folder(home):
    text = (home / "dagster.yaml").read_text()
    assert "class: PooledSqliteEventLogStorage" in text
    assert f'base_dir: "{home.resolve() / "history" / "runs"}"' in text
    # The rest of the shipped file is kept (the run queue's one-reconciliation limit, run monitoring).
    assert "tag_concurrency_limits" in text and "run_monitoring" in text


def test_events_stored_by_one_process_are_read_by_another_without_dagster_home(home):
    with DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        result = _tiny.execute_in_process(instance=instance)
        assert result.success
        stored = len(instance.all_logs(result.run_id))
    assert stored > 5
    assert (home / "history" / "runs" / f"{result.run_id}.db").exists()
    code = textwrap.dedent(
        f"""
        from dagster import DagsterInstance
        with DagsterInstance.from_config({str(home)!r}) as instance:
            print(type(instance.event_log_storage).__name__, len(instance.all_logs({result.run_id!r})))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env={})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["PooledSqliteEventLogStorage", str(stored)]


def test_connections_are_reused_commit_without_fsync_and_stay_bounded(home):
    with DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        run_ids = [_tiny.execute_in_process(instance=instance).run_id for _ in range(KEEP_ENGINES + 2)]
        assert len(storage._engines) <= KEEP_ENGINES  # older shards' engines are disposed
        with storage.run_connection(run_ids[-1]) as conn:
            (synchronous,) = conn.exec_driver_sql("PRAGMA synchronous").fetchone()
            (journal_mode,) = conn.exec_driver_sql("PRAGMA journal_mode").fetchone()
        assert synchronous == 1  # NORMAL: a commit does not wait for an fsync
        assert journal_mode == "wal"  # with which NORMAL never corrupts the file
        # Every run's events are still there, shards reopened on demand.
        assert all(instance.all_logs(run_id) for run_id in run_ids)
        storage.wipe()  # deletes the run shards' files: none of their connections may outlive them
        assert set(storage._engines) <= {"index"}
