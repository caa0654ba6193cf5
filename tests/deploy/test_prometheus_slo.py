"""The report-freshness SLO (issue 15): its rules' shape, and `promtool test rules` tests with teeth.

The scenarios themselves (a burst that pages, a slow leak that tickets, a healthy month that stays
silent) are in deploy/prometheus/tests/finance_reconciliation_slo*.test.yml and run in
test_prometheus.py::test_promtool_test_rules. Here each essential part of the rules is broken on
purpose in a copy, and the same tests must then fail: they really depend on the windows, the
factors, the objective and keep_firing_for.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from finance_recon.metrics.slo import DEFAULT_OBJECTIVE, rules_objective
from tests.deploy.deploy_helpers import DEPLOY, require_binary, run

PROM = DEPLOY / "prometheus"
SLO_RULES = PROM / "rules" / "finance_reconciliation_slo.rules.yml"
SLO_TEST = PROM / "tests" / "finance_reconciliation_slo.test.yml"  # the 1-minute scenarios (~2 s)
FAST = "FinanceReconciliationFreshnessBudgetBurnFast"
SLOW = "FinanceReconciliationFreshnessBudgetBurnSlow"


def slo_rules() -> dict[str, dict]:
    doc = yaml.safe_load(SLO_RULES.read_text())
    return {r.get("alert") or r["record"]: r for g in doc["groups"] for r in g["rules"]}


def test_slo_alerts_are_multi_window_multi_burn_rate():
    rules = slo_rules()
    fast, slow = rules[FAST]["expr"], rules[SLOW]["expr"]
    assert re.fullmatch(
        r"\s*finance_reconciliation:freshness_burn_rate:1h > 14\.4\s+and\s+"
        r"finance_reconciliation:freshness_burn_rate:5m > 14\.4\s*",
        fast,
    ), fast
    assert re.fullmatch(
        r"\s*finance_reconciliation:freshness_burn_rate:6h > 6\s+and\s+"
        r"finance_reconciliation:freshness_burn_rate:30m > 6\s*",
        slow,
    ), slow
    assert rules[FAST]["labels"]["severity"] == "critical" and rules[FAST]["labels"]["notify"] == "page"
    assert rules[SLOW]["labels"]["severity"] == "warning" and rules[SLOW]["labels"]["notify"] == "ticket"
    for window in ("5m", "30m", "1h", "6h", "28d"):
        expr = rules[f"finance_reconciliation:freshness_error:ratio_rate{window}"]["expr"]
        assert expr == f"avg_over_time(finance_reconciliation:freshness_bad:minute[{window}])"
    # One evaluation a minute: each sample of the SLI series is one minute.
    group = yaml.safe_load(SLO_RULES.read_text())["groups"][0]
    assert group["interval"] == "1m"
    # The same 30-minute boundary as FinanceReconciliationLagHigh.
    assert (
        'finance_reconciliation_age_minutes{job="finance_recon"} > bool 30'
        in rules["finance_reconciliation:freshness_bad:minute"]["expr"]
    )


def test_diagnose_uses_the_objective_the_rules_ship():
    assert rules_objective(SLO_RULES) == DEFAULT_OBJECTIVE == 0.99


def _broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of rules/ and tests/ where the SLO rules have `old` replaced by `new`."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    for path in (PROM / "rules").glob("*.rules.yml"):
        shutil.copy(path, tmp_path / "rules" / path.name)
    text = SLO_RULES.read_text()
    assert old in text, old
    (tmp_path / "rules" / SLO_RULES.name).write_text(text.replace(old, new))
    shutil.copy(SLO_TEST, tmp_path / "tests" / SLO_TEST.name)
    return tmp_path / "tests" / SLO_TEST.name


@pytest.mark.parametrize(
    ("old", "new", "fails"),
    [
        # A higher paging factor would page later than the test says.
        ("burn_rate:1h > 14.4", "burn_rate:1h > 16", FAST),
        # Without the short window the page would not reset 5 minutes after the recovery.
        ("and\n          finance_reconciliation:freshness_burn_rate:5m > 14.4", "", FAST),
        # A slow-burn factor of 7 would not ticket the 11.4x leak when the test says.
        ("burn_rate:6h > 6", "burn_rate:6h > 7", SLOW),
        # Without keep_firing_for the ticket would resolve in the gap between two late reports.
        ("keep_firing_for: 15m", "keep_firing_for: 0s", SLOW),
        # A stricter objective (budget 0.5%) changes every burn rate: the alerts fire earlier.
        ("vector(0.99)", "vector(0.995)", FAST),
    ],
    ids=["page-factor", "page-short-window", "ticket-factor", "ticket-keep-firing", "objective"],
)
def test_slo_rule_tests_have_teeth(tmp_path, old, new, fails):
    promtool = require_binary("promtool")
    test_file = _broken_copy(tmp_path, old, new)
    result = run([promtool, "test", "rules", str(test_file)])
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"alertname: {fails}" in output, output
