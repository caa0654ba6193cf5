"""The local report store on real files: normal modes, no temporary file after a failed write
(a real full disk: a 64 KiB tmpfs when this machine lets us mount one), and leftovers of a writer
killed mid-write swept by the next publish."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap

import pytest

from finance_recon.report.store import LocalReportStore, StoreError


def _hidden(root) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob(".*"))


def test_published_files_get_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        store = LocalReportStore(tmp_path)
        store.put("dt=2026-12-02/run=r1/breaks.csv", b"a,b\n")
        store.put("latest.json", b"{}")
    finally:
        os.umask(old)
    for key in ("dt=2026-12-02/run=r1/breaks.csv", "latest.json"):
        assert stat.S_IMODE((tmp_path / key).stat().st_mode) == 0o644
    os.umask(0o027)
    try:
        LocalReportStore(tmp_path).put("latest.json", b"{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "latest.json").stat().st_mode) == 0o640  # the umask is respected


@pytest.fixture
def full_disk(tmp_path):
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_a_write_to_a_full_disk_leaves_no_temporary_file(full_disk):
    store = LocalReportStore(full_disk / "finance-reports")
    store.put("latest.json", b'{"run_id": "previous"}')
    with pytest.raises(StoreError) as failed:
        store.put("dt=2026-12-02/run=r2/breaks.parquet", os.urandom(256 * 1024))
    assert "No space left on device" in str(failed.value)
    assert _hidden(full_disk / "finance-reports") == []
    assert store.get("latest.json") == b'{"run_id": "previous"}'


KILLED_WRITER = textwrap.dedent(
    """
    import os, sys, tempfile
    from finance_recon.report import store
    real_replace = os.replace
    def stop_before_rename(src, dst):
        print(src, flush=True)
        os.kill(os.getpid(), 9)
    os.replace = stop_before_rename
    store.LocalReportStore(sys.argv[1]).put("latest.json", b'{"run_id": "killed"}')
    """
)


def test_leftovers_of_a_killed_writer_are_swept_by_the_next_publish(tmp_path):
    store = LocalReportStore(tmp_path)
    store.put("latest.json", b'{"run_id": "good"}')
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert killed.returncode == -signal.SIGKILL
    leftover = killed.stdout.strip()
    assert os.path.basename(leftover).startswith(f".latest.json.{socket.gethostname()}.")
    assert os.path.exists(leftover)
    assert store.get("latest.json") == b'{"run_id": "good"}'  # readers never saw the half write
    store.put("latest.json", b'{"run_id": "next"}')
    assert _hidden(tmp_path) == []
    assert store.list_keys() == ["latest.json"]
