"""The one freshness policy: built from settings, applied in one place, to exactly the keys asked."""

from datetime import timedelta

import pytest
from dagster import AssetKey, asset

from finance_recon.quality.freshness import apply_freshness, freshness_policy


@asset(name="orders")
def orders_stub() -> None: ...


@asset(name="intermediate")
def other_stub() -> None: ...


def test_policy_from_settings_values():
    policy = freshness_policy(30, 20)
    assert policy.fail_window.to_timedelta() == timedelta(minutes=30)
    assert policy.warn_window.to_timedelta() == timedelta(minutes=20)


@pytest.mark.parametrize("sla, warn", [(30, 30), (30, 45), (30, 0)])
def test_inconsistent_windows_are_refused(sla, warn):
    with pytest.raises(ValueError, match="warn"):
        freshness_policy(sla, warn)


def test_applied_only_to_the_named_assets():
    policy = freshness_policy(30, 20)
    mapped = apply_freshness([orders_stub, other_stub], policy, keys=[AssetKey("orders")])
    by_key = {spec.key: spec.freshness_policy for a in mapped for spec in a.specs}
    assert by_key == {AssetKey("orders"): policy, AssetKey("intermediate"): None}


def test_a_missing_target_is_an_error():
    with pytest.raises(ValueError, match="finance_reconciliation_report"):
        apply_freshness([orders_stub], freshness_policy(30, 20))
