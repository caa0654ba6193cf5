"""The run lock between real processes: the second start is refused at once naming the holder;
a holder killed with SIGKILL releases it (the kernel does), and its record says who held it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from finance_recon.runs.errors import RunLockHeldError, StateFolderError
from finance_recon.runs.lock import RunLock, read_holder

HOLD = textwrap.dedent(
    """
    import sys, time
    from finance_recon.runs.lock import RunLock
    lock = RunLock(sys.argv[1]).acquire("run-held-by-child")
    print("locked", flush=True)
    time.sleep(60)
    """
)


@pytest.fixture
def holder_process(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_second_start_is_refused_naming_the_holder(tmp_path, holder_process):
    started = time.monotonic()
    with pytest.raises(RunLockHeldError) as refused:
        RunLock(tmp_path).acquire("second")
    assert time.monotonic() - started < 1.0  # at once, no waiting
    message = str(refused.value)
    assert "\n" not in message
    assert "run run-held-by-child" in message
    assert f"pid {holder_process.pid}" in message
    assert "started at 20" in message
    assert refused.value.retryable is True


def test_a_killed_holder_releases_the_lock(tmp_path, holder_process):
    os.kill(holder_process.pid, signal.SIGKILL)
    holder_process.wait()
    last = read_holder(RunLock(tmp_path).path)
    assert last is not None and last.run_id == "run-held-by-child" and last.pid == holder_process.pid
    with RunLock(tmp_path).acquire("next") as lock:
        assert lock.holder.run_id == "next"
        assert read_holder(lock.path).pid == os.getpid()


def test_release_lets_the_next_run_in(tmp_path):
    RunLock(tmp_path).acquire("first").release()
    with RunLock(tmp_path).acquire("second"), pytest.raises(RunLockHeldError):
        RunLock(tmp_path).acquire("third")


def test_an_unwritable_state_folder_is_named(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "locks").write_text("a file where the folder should be")
    with pytest.raises(StateFolderError) as failed:
        RunLock(home).acquire("x")
    assert "FINANCE_RECON_HOME" in str(failed.value) and "\n" not in str(failed.value)


def test_busy_names_the_holder_without_taking_the_lock(tmp_path, holder_process):
    assert "run run-held-by-child" in RunLock(tmp_path).busy()
    os.kill(holder_process.pid, signal.SIGKILL)
    holder_process.wait()
    assert RunLock(tmp_path).busy() is None
    with RunLock(tmp_path).acquire("next"):  # the probe kept nothing
        assert "run next" in RunLock(tmp_path).busy()


def test_busy_in_a_home_that_never_ran_creates_nothing(tmp_path):
    assert RunLock(tmp_path / "home").busy() is None
    assert not (tmp_path / "home").exists()
