"""Fault injection, bounded and loopback only: small generated shops (500 orders), the real
`finance-recon run` in a subprocess, real MariaDB/PostgreSQL behind a TCP proxy we cut, moto
behind an HTTP proxy that answers 403 or goes away."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finance_recon.demo.generator import generate_shop
from finance_recon.demo.seed import seed_shop
from finance_recon.reconciliation.parameters import format_ts
from finance_recon.settings import default_orders_url, default_payments_url

ANCHOR = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
AS_OF = format_ts(ANCHOR)
ORDERS = 500
CLI = [sys.executable, "-m", "finance_recon"]
ARTIFACTS = ("breaks.csv", "breaks.parquet", "summary.json", "summary.html")


@dataclass
class Home:
    """A FINANCE_RECON_HOME with an embedded 500-order shop, and the environment to run the CLI in."""

    path: Path

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("FINANCE_RECON_") and k not in ("DAGSTER_HOME",)
        }
        env["FINANCE_RECON_HOME"] = str(self.path)
        return env

    @property
    def reports(self) -> Path:
        return self.path / "object-store" / "finance-reports"

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [*CLI, "run", "--as-of", AS_OF, *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*CLI, "run", "--as-of", AS_OF, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def create_instance(self) -> None:
        """Create the instance's storages now, as the CLI does (under no run), for a test that
        polls the instance while a run starts: two first openers of Dagster's SQLite storages can
        both stamp its schema version, which leaves two heads (the CLI opens it under its run lock)."""
        script = (
            "from dagster import DagsterInstance\n"
            "from finance_recon.settings import ensure_dagster_home, load_settings\n"
            "ensure_dagster_home(load_settings())\n"
            "DagsterInstance.get().dispose()\n"
        )
        subprocess.run([sys.executable, "-c", script], env=self.env, check=True, timeout=120)

    def instance(self):
        from dagster import DagsterInstance

        return DagsterInstance.from_config(str(self.path / "dagster"))


def make_home(path: Path, seed: int = 5) -> Home:
    path.mkdir(parents=True, exist_ok=True)
    (path / "demo").mkdir(exist_ok=True)
    seed_shop(
        generate_shop(ORDERS, seed=seed, anchor=ANCHOR), default_orders_url(path), default_payments_url(path)
    )
    return Home(path)


@pytest.fixture
def home(tmp_path) -> Home:
    return make_home(tmp_path / "home")


def latest_is_valid(reports: Path) -> dict:
    """`latest.json` names a complete run: its manifest exists and every file matches its sha256.
    Returns that manifest."""
    latest = json.loads((reports / "latest.json").read_text())
    manifest = json.loads((reports / latest["manifest_key"]).read_text())
    assert manifest["run_id"] == latest["run_id"]
    assert [f["name"] for f in manifest["files"]] == list(ARTIFACTS)
    for entry in manifest["files"]:
        data = (reports / entry["key"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]
    return manifest


def artifact_digests(manifest: dict) -> dict[str, str]:
    return {f["name"]: f["sha256"] for f in manifest["files"]}


def one_line_failure(stderr: str) -> str:
    """The CLI's failure line: exactly one line on stderr, no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr[-3000:]
    failures = [line for line in lines if line.startswith("finance-recon run: FAILED")]
    assert len(failures) == 1, stderr[-3000:]
    return failures[0]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
