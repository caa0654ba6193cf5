"""Source lag: PASS within the warn threshold, WARN between, ERROR beyond fail — never blocking."""

from datetime import UTC, datetime, timedelta

from dagster import AssetCheckSeverity

from finance_recon.quality.checks import source_lag_result

NOW = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
WARN, FAIL = timedelta(minutes=15), timedelta(minutes=30)


def test_fresh_source_passes():
    result = source_lag_result("orders", NOW - timedelta(minutes=3), NOW, WARN, FAIL)
    assert result.passed and result.metadata["lag_minutes"].value == 3.0


def test_lag_beyond_warn_is_a_warning():
    result = source_lag_result("payments", NOW - timedelta(minutes=20), NOW, WARN, FAIL)
    assert not result.passed and result.severity == AssetCheckSeverity.WARN
    assert "payments.updated_at" in result.description and "WARN threshold" in result.description


def test_lag_beyond_fail_is_an_error():
    result = source_lag_result("payments", NOW - timedelta(hours=2), NOW, WARN, FAIL)
    assert not result.passed and result.severity == AssetCheckSeverity.ERROR
    assert result.metadata["max_updated_at"].value == "2026-11-28T16:00:00+00:00"


def test_unknown_watermark_warns():
    result = source_lag_result("orders", None, NOW, WARN, FAIL)
    assert not result.passed and result.severity == AssetCheckSeverity.WARN
