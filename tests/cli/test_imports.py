"""Nothing heavy is imported where it is not used: facts about `sys.modules` in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY_FOR_HELP = ("pyspark", "dagster_pyspark", "great_expectations", "dbt", "dagster_dbt")
SPARK = ("pyspark", "dagster_pyspark")


def _loaded_after(code: str, watched: tuple[str, ...], **env: str) -> list[str]:
    """Run `code` in a fresh interpreter; the top-level packages of `watched` it left in sys.modules."""
    script = (
        "import json, sys\n"
        f"{code}\n"
        f"watched = {watched!r}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(watched))))\n"
    )
    child_env = {k: v for k, v in os.environ.items() if k != "FINANCE_RECON_LANDING_ENGINE"}
    child_env.update(env)
    result = subprocess.run(
        [sys.executable, "-c", script], env=child_env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


_HELP = """
import contextlib, io
from finance_recon.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main({argv!r})
    except SystemExit:
        pass
"""


@pytest.mark.parametrize(
    "argv", [["--help"], ["run", "--help"], ["metrics", "--help"], ["seed", "--help"], ["demo", "--help"]]
)
def test_help_imports_neither_spark_nor_great_expectations_nor_dbt(argv):
    assert _loaded_after(_HELP.format(argv=argv), HEAVY_FOR_HELP) == []


def test_top_level_help_does_not_import_dagster():
    assert _loaded_after(_HELP.format(argv=["--help"]), ("dagster",)) == []


@pytest.mark.parametrize("engine", [None, "embedded"])
def test_embedded_definitions_do_not_import_pyspark(engine):
    env = {"FINANCE_RECON_LANDING_ENGINE": engine} if engine else {}
    assert _loaded_after("import finance_recon.definitions", SPARK, **env) == []
