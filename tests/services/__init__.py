"""What every server-backed test needs: readiness waits, free ports, and the CI rule.

A missing server or tool skips a test on a developer's machine but FAILS it under `CI=true`:
CI must never go green by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import time

import pytest


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(what: str) -> None:
    """Skip locally, fail under CI=true."""
    if on_ci():
        pytest.fail(f"{what} (CI=true: a missing prerequisite fails the test)")
    pytest.skip(what)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_server(name: str, host: str, port: int, timeout: float = 5.0) -> None:
    """Readiness wait: poll the port until it accepts connections or the timeout passes."""
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        if time.monotonic() > deadline:
            missing(f"{name} is not reachable on {host}:{port}")
        time.sleep(0.2)


def require_binary(name: str) -> str:
    """The tool's path on PATH (installed by scripts/install-system-deps.sh)."""
    path = shutil.which(name)
    if not path:
        missing(f"{name} not found on PATH: run scripts/install-system-deps.sh")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------------- Trino

TRINO_HOST = "127.0.0.1"
TRINO_PORT = int(os.environ.get("FINANCE_RECON_TRINO_PORT", "8080"))


def require_trino(timeout: float = 30.0) -> None:
    """Trino 476 on TRINO_PORT (`make services`), past its start (`/v1/info` says starting: false)."""
    import json
    import urllib.request

    require_server("Trino", TRINO_HOST, TRINO_PORT)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://{TRINO_HOST}:{TRINO_PORT}/v1/info", timeout=2) as resp:
                if not json.load(resp)["starting"]:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            missing(f"Trino on {TRINO_HOST}:{TRINO_PORT} is still starting after {timeout:.0f} s")
        time.sleep(0.5)


def trino_connect(port: int | None = None, **kwargs):
    import trino

    return trino.dbapi.connect(host=TRINO_HOST, port=port or TRINO_PORT, user="finance_recon", **kwargs)


def trino_query(conn, sql: str) -> list[list]:
    cur = conn.cursor()
    cur.execute(sql)
    return cur.fetchall()
