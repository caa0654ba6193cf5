"""`python -m bench.extract` end to end on tiny data: every method runs and the ratios are printed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from finance_recon.settings import PROJECT_ROOT


@pytest.mark.slow
def test_bench_extract_runs_every_method(mysql_url, pg_url):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.extract",
            "--orders",
            "300",
            "--repeat",
            "1",
            "--orders-url",
            mysql_url,
            "--payments-url",
            pg_url,
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    for needle in (
        "platform_read",
        "platform_extract",
        "pandas_read_sql",
        "raw_copy",
        "raw_client",
        "raw_cursor",
    ):
        assert needle in text
    assert text.count("× pandas.read_sql") == 4  # platform read and extract, for each table
    assert "300 rows" in text
