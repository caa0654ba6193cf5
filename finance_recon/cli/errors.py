"""The CLI's own failures, each shown by `finance_recon.cli.main` as one line on stderr.

Light on purpose (no Dagster, no rich): `main` imports it only when a command raised.
"""

from __future__ import annotations


class RunCrashed(Exception):
    """The run raised instead of returning an outcome; `str(exc)` is the one line (exit 1)."""


class WarehouseUnavailable(Exception):
    """The warehouse engine (Trino, its catalog, its Iceberg catalog database) cannot serve the run,
    found before any work started; `str(exc)` is the one line naming it (exit 1: it may come back)."""
