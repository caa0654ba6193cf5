"""The carry-forward decision's reasons from the last build's record alone (no warehouse): each
condition that must hold before the data is asked (finance_recon/reconciliation/carry_forward.py).
The data's conditions are exercised on both engines by the incremental-equals-full tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from finance_recon.reconciliation.carry_forward import LastBuild, project_fingerprint, why_not_without_data
from finance_recon.reconciliation.parameters import ReconciliationParameters
from finance_recon.reconciliation.project import DBT_PROJECT_DIR

AS_OF = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FINGERPRINT = project_fingerprint(DBT_PROJECT_DIR, "duckdb")
LAST = LastBuild(
    seq=3,
    run_id="run-3",
    as_of=AS_OF,
    consumed_change_batch=7,
    tolerance=Decimal("0.000000"),
    grace_minutes=60,
    verified=True,
    project_fingerprint=FINGERPRINT,
)
PARAMS = ReconciliationParameters(
    as_of=AS_OF + timedelta(minutes=5), tolerance=Decimal("0.00"), grace_minutes=60
)


def test_a_verified_build_of_this_project_with_the_same_parameters_leaves_the_data_to_decide() -> None:
    assert why_not_without_data(LAST, PARAMS, FINGERPRINT) is None
    assert why_not_without_data(LAST, replace(PARAMS, as_of=AS_OF), FINGERPRINT) is None  # a rerun


def test_each_recorded_condition_names_why_the_run_builds() -> None:
    cases = {
        "no build of the state is recorded": (None, PARAMS),
        "did not pass every data test": (replace(LAST, verified=False), PARAMS),
        "the dbt project or its target changed": (replace(LAST, project_fingerprint="other"), PARAMS),
        "is earlier than the last build's": (LAST, replace(PARAMS, as_of=AS_OF - timedelta(seconds=1))),
        "τ 0.01 differs": (LAST, replace(PARAMS, tolerance=Decimal("0.01"))),
        "G 30 min differs": (LAST, replace(PARAMS, grace_minutes=30)),
        "τ 0.00 differs from the last build's None": (replace(LAST, tolerance=None), PARAMS),
    }
    for expected, (last, params) in cases.items():
        reason = why_not_without_data(last, params, FINGERPRINT)
        assert reason is not None and expected in reason, (expected, reason)


def test_the_fingerprint_changes_with_the_target_and_is_stable_otherwise() -> None:
    assert project_fingerprint(DBT_PROJECT_DIR, "duckdb") == FINGERPRINT
    assert project_fingerprint(DBT_PROJECT_DIR, "trino") != FINGERPRINT
    assert len(FINGERPRINT) == 64
