"""Shared by the runbook and UI tests: service readiness, free ports, the CLI in a subprocess, moto."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.services import free_port, port_open, require_server  # noqa: F401 (shared helpers)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MYSQL_HOST, MYSQL_PORT = os.environ.get("FINANCE_RECON_TEST_MYSQL_HOST", "127.0.0.1"), 3306
PG_HOST, PG_PORT = os.environ.get("FINANCE_RECON_TEST_PG_HOST", "127.0.0.1"), 5432

# Variables of the developer's shell that would leak into a test deployment.
LEAKY_ENV = (
    "DAGSTER_HOME",
    "FINANCE_RECON_HOME",
    "FINANCE_RECON_ORDERS_URL",
    "FINANCE_RECON_PAYMENTS_URL",
    "FINANCE_RECON_REPORTS_URI",
    "FINANCE_RECON_WAREHOUSE_PATH",
    "FINANCE_RECON_WAREHOUSE_TARGET",
    "FINANCE_RECON_S3_ENDPOINT_URL",
    "AWS_ENDPOINT_URL",
)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def wait_until(
    predicate: Callable[[], object], timeout: float, interval: float = 0.25, what: str = "condition"
):
    """Readiness polling: the predicate's first truthy value, or a TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def base_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LEAKY_ENV}
    env.update(
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DBT_VERSION_CHECK="false",
        AWS_EC2_METADATA_DISABLED="true",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    env.update(overrides)
    return env


def home_env(home: Path, **overrides: str) -> dict[str, str]:
    """A deployment rooted at `home` (its own Dagster instance, warehouse and local report store)."""
    return base_env(FINANCE_RECON_HOME=str(home), DAGSTER_HOME=str(home / "dagster"), **overrides)


def cli(
    args: list[str], env: dict[str, str], timeout: float = 600, log: Path | None = None
) -> subprocess.CompletedProcess:
    """`finance-recon …` in a subprocess (its own env, so settings resolve exactly as in production)."""
    proc = subprocess.run(
        [str(BIN / "finance-recon"), *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if log is not None:
        log.write_text(
            f"$ finance-recon {' '.join(args)}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}\n"
        )
    return proc


def copy_home(src: Path, dst: Path) -> Path:
    """A private copy of a deployment's state (instance, warehouse, report store) for one test."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.lock", "*.wal"))
    return dst


# ------------------------------------------------------------------------------------------- moto


@contextmanager
def moto_server() -> Iterator[tuple[object, str]]:
    """A real S3-API server (moto) on 127.0.0.1 and a free port: (server, endpoint). Stopped on exit."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            server.stop()
            stopped = True

    server.stop_once = stop  # type: ignore[attr-defined]
    try:
        wait_until(lambda: port_open(host, port), 10, what="moto server")
        yield server, endpoint
    finally:
        stop()


def s3_client(endpoint: str, key: str = "testing", secret: str = "testing"):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def upload_folder(client, folder: Path, bucket: str, prefix: str) -> int:
    n = 0
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            client.put_object(
                Bucket=bucket, Key=f"{prefix}/{path.relative_to(folder).as_posix()}", Body=path.read_bytes()
            )
            n += 1
    return n


def set_moto_auth(endpoint: str, initial_no_auth_actions: float) -> None:
    """moto's own switch: after this many unauthenticated requests, every request is checked against IAM
    (signature with a known access key, then the identity's policies). `inf` turns checking off."""
    import requests

    requests.post(
        f"{endpoint}/moto-api/reset-auth", data=str(initial_no_auth_actions).encode(), timeout=10
    ).raise_for_status()


# ------------------------------------------------------------------------------------ dagster dev

LOCATION = "finance_recon"

LOCATION_STATUS = """
query { workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def graphql(url: str, query: str, **variables) -> dict:
    import requests

    response = requests.post(url, json={"query": query, "variables": variables}, timeout=60)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


@contextmanager
def dagster_dev(
    env: dict[str, str], log_path: Path, startup_timeout_s: float, *, schedule_stopped: bool = False
) -> Iterator[str]:
    """`dagster dev` (webserver + daemon) on 127.0.0.1 and a free port, in its own process group;
    yields the base URL once the code location is loaded; stops the whole group on exit.

    `schedule_stopped`: the reconciliation schedule is stopped, and a run its tick launched before
    that has ended, before the URL is yielded (tests launching their own runs, whose "latest check
    execution" must be their run's, not a tick's that the run lock refused)."""
    import requests

    port = free_port()
    with open(log_path, "wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:

        def location_loaded():
            if proc.poll() is not None:
                raise RuntimeError(
                    f"dagster dev exited with {proc.returncode}: {log_path.read_text()[-3000:]}"
                )
            try:
                entries = graphql(f"{url}/graphql", LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
            except (requests.RequestException, AssertionError, KeyError, ValueError):
                return None
            entry = next((e for e in entries if e["name"] == LOCATION), None)
            if entry and entry["loadStatus"] == "LOADED":
                error = entry["locationOrLoadError"]
                assert error["__typename"] == "RepositoryLocation", error
                return True
            return None

        wait_until(location_loaded, startup_timeout_s, 1.0, "dagster dev to load the code location")
        if schedule_stopped:
            _stop_schedule(url)
        yield url
    finally:
        stop_process_group(proc)


IN_PROGRESS = """
query { runsOrError(filter: {statuses: [QUEUED, NOT_STARTED, STARTING, STARTED, CANCELING]}) {
  ... on Runs { results { runId } } } }
"""


def _stop_schedule(url: str) -> None:
    from finance_recon.names import SCHEDULE_NAME
    from finance_recon.runbook.drill.schedule import ScheduleHold

    ScheduleHold(url, SCHEDULE_NAME).stop()
    wait_until(
        lambda: not graphql(f"{url}/graphql", IN_PROGRESS)["runsOrError"]["results"] or None,
        600,
        2.0,
        "a run the schedule launched before it was stopped to end",
    )


def stop_process_group(proc: subprocess.Popen, grace_s: float = 60) -> None:
    """SIGTERM the whole group (webserver, daemon, code servers, run workers); SIGKILL after a bound."""
    import signal

    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        return
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    try:  # children that outlive the parent's shutdown
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            os.killpg(pgid, 0)
            time.sleep(0.5)
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)
