"""kill -9 of a running `finance-recon run` (once its run is STARTED, once while its `dbt build`
runs) and two simultaneous starts, on the real CLI: the next run recovers without a person,
publishes exactly what a clean run publishes, and a second start is refused in one line."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterRunStatus

from tests.faults.conftest import (
    Home,
    artifact_digests,
    latest_is_valid,
    make_home,
    one_line_failure,
    wait_for,
)


def _children(pid: int) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
            found.append((int(entry.name), cmdline))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _started_run(home: Home, pid: int):
    instance = home.instance()
    try:
        for run in instance.get_runs(limit=5):
            if run.status == DagsterRunStatus.STARTED and run.tags.get("finance_recon/pid") == str(pid):
                return run.run_id
    finally:
        instance.dispose()
    return None


def _failure_message(home: Home, run_id: str) -> str:
    instance = home.instance()
    try:
        assert instance.get_run_by_id(run_id).status == DagsterRunStatus.FAILURE
        [event] = instance.all_logs(run_id, of_type={DagsterEventType.RUN_FAILURE})
        return event.message
    finally:
        instance.dispose()


@dataclass
class Race:
    home: Home
    procs: list[subprocess.Popen]
    outcomes: list[tuple[int, str, str]]


@pytest.fixture(scope="module")
def race(tmp_path_factory) -> Race:
    """Two `finance-recon run` started together on a fresh home; the winner is also the clean
    reference run the kill test compares with."""
    home = make_home(tmp_path_factory.mktemp("race") / "home")
    procs = [home.start(), home.start()]  # started together, no delay
    outcomes = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    return Race(home, procs, outcomes)


def test_two_simultaneous_starts_give_exactly_one_run(race: Race):
    codes = sorted(code for code, _, _ in race.outcomes)
    assert codes == [0, 1], [err[-2000:] for _, _, err in race.outcomes]
    _, _, refused_err = next(o for o in race.outcomes if o[0] == 1)
    line = one_line_failure(refused_err)
    winner = next(p for p, o in zip(race.procs, race.outcomes, strict=True) if o[0] == 0)
    assert "another reconciliation is running: run " in line
    assert f"pid {winner.pid} on host " in line and "started at 20" in line

    instance = race.home.instance()
    try:
        runs = instance.get_runs()
        assert len(runs) == 1  # the refused start created no run
        assert runs[0].status == DagsterRunStatus.SUCCESS
    finally:
        instance.dispose()
    latest_is_valid(race.home.reports)


def test_kill_9_then_rerun_recovers_and_publishes_what_a_clean_run_publishes(tmp_path, race: Race):
    reference = artifact_digests(latest_is_valid(race.home.reports))

    home = make_home(tmp_path / "killed")
    home.create_instance()  # this test polls the instance while the run starts
    # 1. killed once its run is STARTED (extracting): the run would stay STARTED for ever.
    first = home.start()
    first_run = wait_for(lambda: _started_run(home, first.pid), 120, "the first run to start")
    os.kill(first.pid, signal.SIGKILL)
    first.wait()

    # 2. killed while its dbt build runs: the dbt child is orphaned, holding the warehouse.
    second = home.start()
    dbt = wait_for(
        lambda: next((p for p, cmd in _children(second.pid) if "dbt" in cmd and "build" in cmd), None),
        150,
        "the second run's dbt build",
        interval=0.02,
    )
    second_run = _started_run(home, second.pid)
    os.kill(second.pid, signal.SIGKILL)
    second.wait()
    assert _alive(dbt), "the orphaned dbt build outlived its run (the fault this test injects)"

    # 3. The next run needs no person: dead runs are marked failed, the orphan is stopped.
    rerun = home.run()
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert not _alive(dbt)
    assert _failure_message(home, first_run).startswith("process died (pid ")
    assert _failure_message(home, second_run).startswith("process died (pid ")
    manifest = latest_is_valid(home.reports)
    assert artifact_digests(manifest) == reference  # byte-identical to the clean run
    assert not [p for p in home.reports.rglob(".*")], "no temporary files left behind"
