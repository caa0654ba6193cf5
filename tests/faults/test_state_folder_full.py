"""FINANCE_RECON_HOME on a real, nearly full disk (a small tmpfs: needs permission to mount one):
`finance-recon run` fails with exactly one line naming FINANCE_RECON_HOME, exit 1, no traceback;
once space is freed the next run succeeds without a person and leaves no temporary files."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess

import pytest

from tests.faults.conftest import latest_is_valid, make_home, one_line_failure

SIZE = "48m"
LEFT_FREE = 256 * 1024  # enough for the lock file, not for the Dagster instance's storage


@pytest.fixture
def tiny_disk(tmp_path):
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(path, leave: int) -> None:
    """Write zeros until only `leave` bytes are free on the file system of `path`."""
    chunk = b"\0" * (1 << 20)
    with open(path, "wb") as fh:
        while True:
            stat = os.statvfs(path)
            free = stat.f_bavail * stat.f_frsize
            if free <= leave:
                return
            try:
                fh.write(chunk[: min(len(chunk), free - leave)])
                fh.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                return


def test_a_full_state_folder_is_one_line_and_the_next_run_recovers(tiny_disk):
    home = make_home(tiny_disk / "home")
    filler = tiny_disk / "filler"
    _fill(filler, LEFT_FREE)

    full = home.run()
    assert full.returncode == 1
    line = one_line_failure(full.stderr)
    assert "the state folder (FINANCE_RECON_HOME) " in line and str(home.path) in line

    with contextlib.suppress(FileNotFoundError):
        filler.unlink()
    again = home.run()
    assert again.returncode == 0, again.stderr[-3000:]
    latest_is_valid(home.reports)
    assert not list(home.reports.rglob(".*"))
