"""The local instance's event log is Dagster's default SQLite storage: a home the platform creates
gets the shipped dagster.yaml as it is, and a home an earlier version created (whose dagster.yaml
named the platform's own storage class, removed in issue 26) is upgraded in place, its history kept."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from dagster import DagsterInstance, job, op

from finance_recon.settings import PROJECT_ROOT, SettingsError, ensure_dagster_home, load_settings

TEMPLATE = PROJECT_ROOT / "deploy" / "dagster" / "dagster.yaml"


@op
def _one():
    return 1


@job
def _tiny():
    _one()


def _ensure(monkeypatch, state) -> object:
    """`ensure_dagster_home` as the CLI calls it; DAGSTER_HOME is not left pointing at the home."""
    monkeypatch.setenv("FINANCE_RECON_HOME", str(state))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    dagster_home = ensure_dagster_home(load_settings())
    monkeypatch.delenv("DAGSTER_HOME")
    return dagster_home


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A home created the way the CLI creates one."""
    return _ensure(monkeypatch, tmp_path / "state")


def _written_by_an_earlier_version(dagster_home) -> str:
    """What `ensure_dagster_home` wrote before issue 26: the template, then its own event log block."""
    return (
        TEMPLATE.read_text()
        + "event_log_storage:\n"
        + "  module: finance_recon.runs.event_log\n"
        + "  class: PooledSqliteEventLogStorage\n"
        + "  config:\n"
        + f'    base_dir: "{dagster_home.resolve() / "history" / "runs"}"\n'
    )


def test_a_created_home_gets_the_shipped_dagster_yaml_as_it_is(home):
    text = (home / "dagster.yaml").read_text()
    assert text == TEMPLATE.read_text()
    assert "event_log_storage" not in text.replace("# ", "")  # no storage block, only Dagster's default
    # The shipped file's run queue limit (one reconciliation) and run monitoring.
    assert "tag_concurrency_limits" in text and "run_monitoring" in text


def test_events_stored_by_one_process_are_read_by_another_without_dagster_home(home):
    with DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"
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
    assert out.stdout.split() == ["SqliteEventLogStorage", str(stored)]


def test_a_home_created_by_an_earlier_version_is_upgraded_and_keeps_its_history(tmp_path, monkeypatch):
    """Its events were written to history/runs by the removed class, a subclass of Dagster's SQLite
    storage changing only how it connected (the same files and schema): stored here by Dagster's
    default storage in that folder, then read after the upgrade."""
    dagster_home = tmp_path / "state" / "dagster"
    dagster_home.mkdir(parents=True)
    old = _written_by_an_earlier_version(dagster_home)
    (dagster_home / "dagster.yaml").write_text(TEMPLATE.read_text())
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        result = _tiny.execute_in_process(instance=instance)
        stored = len(instance.all_logs(result.run_id))
    (dagster_home / "dagster.yaml").write_text(old)  # as the earlier version left it

    assert _ensure(monkeypatch, tmp_path / "state") == dagster_home
    text = (dagster_home / "dagster.yaml").read_text()
    assert text == TEMPLATE.read_text()
    assert [p.name for p in dagster_home.iterdir() if "upgrading" in p.name] == []
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        assert type(instance.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert len(instance.all_logs(result.run_id)) == stored
        assert _tiny.execute_in_process(instance=instance).success
    _ensure(monkeypatch, tmp_path / "state")  # upgrading again changes nothing
    assert (dagster_home / "dagster.yaml").read_text() == text


def test_a_hand_edited_dagster_yaml_naming_the_removed_class_is_named_not_rewritten(tmp_path, monkeypatch):
    dagster_home = tmp_path / "state" / "dagster"
    dagster_home.mkdir(parents=True)
    edited = _written_by_an_earlier_version(dagster_home).replace("  config:\n", "  config:  # tuned\n")
    (dagster_home / "dagster.yaml").write_text(edited)
    with pytest.raises(SettingsError, match=r"PooledSqliteEventLogStorage, which no longer exists"):
        _ensure(monkeypatch, tmp_path / "state")
    assert (dagster_home / "dagster.yaml").read_text() == edited
