"""A full or unwritable state folder is named in one line (FINANCE_RECON_HOME), whatever layer
reports it: a real ENOSPC from the kernel, SQLite's and DuckDB's own wording, wrapped or not."""

from __future__ import annotations

import sqlite3

import pytest

from finance_recon.runs.errors import state_folder_cause


def _real_enospc() -> OSError:
    try:
        with open("/dev/full", "wb") as fh:  # the kernel's always-full device
            fh.write(b"x")
    except OSError as exc:
        return exc
    raise AssertionError("/dev/full accepted a write")


def test_a_real_enospc_names_the_state_folder(tmp_path):
    cause = state_folder_cause(_real_enospc(), tmp_path)
    assert cause.startswith("the state folder (FINANCE_RECON_HOME) is full: ")
    assert "No space left on device" in cause and "\n" not in cause


@pytest.mark.parametrize(
    "error",
    [
        sqlite3.OperationalError("disk I/O error"),
        sqlite3.OperationalError("database or disk is full"),
        RuntimeError("IO Error: Could not write file: No space left on device"),
    ],
)
def test_sqlite_and_duckdb_wording_names_the_state_folder(tmp_path, error):
    try:
        try:
            raise error
        except Exception as inner:
            raise RuntimeError("(sqlite3.OperationalError) wrapped by SQLAlchemy") from inner
    except RuntimeError as wrapped:
        cause = state_folder_cause(wrapped, tmp_path)
    assert cause is not None and cause.startswith(
        "the state folder (FINANCE_RECON_HOME) is full or failing: "
    )
    assert str(tmp_path) in cause


def test_other_errors_are_not_blamed_on_the_state_folder(tmp_path):
    assert state_folder_cause(ValueError("tolerance must be finite"), tmp_path) is None
    assert state_folder_cause(FileNotFoundError(2, "No such file or directory", "/x"), tmp_path) is None


def test_a_step_failing_on_a_full_state_folder_is_said_so(tmp_path):
    from finance_recon.runs.errors import name_state_folder

    step = "step orders failed: IO Error: Could not write file: No space left on device"
    assert name_state_folder(step, tmp_path) == (
        f"the state folder (FINANCE_RECON_HOME) is full or failing: {tmp_path}: {step}"
    )
    store = "step finance_reconciliation_report failed: publishing the report failed: No space left on device"
    assert name_state_folder(store, tmp_path) == store
    assert name_state_folder("step payments failed: source … is unavailable", tmp_path).startswith("step")
