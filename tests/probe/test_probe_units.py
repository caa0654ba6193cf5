"""The prober's pieces without a pipeline run: ids, the cycle plan, the register, the alert's wiring."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import yaml

from finance_recon.contracts import (
    PROBE_ORDER_ID_MIN,
    PROBE_PAYMENT_ID_PREFIX,
    is_synthetic_order_id,
    is_synthetic_payment_id,
)
from finance_recon.probe.control import claim_cycle, record_error
from finance_recon.probe.evaluate import probe_section
from finance_recon.probe.plan import plan_cycle
from finance_recon.report.store import LocalReportStore
from finance_recon.settings import SettingsError, load_settings
from tests.metrics.metrics_helpers import T0, publish_report

from .conftest import scrape

ROOT = Path(__file__).resolve().parents[2]


def test_the_dbt_macro_restates_the_reserved_ids_of_contracts():
    macro = (ROOT / "dbt_project" / "macros" / "synthetic.sql").read_text()
    assert f">= {PROBE_ORDER_ID_MIN}," in macro
    assert f"like '{PROBE_PAYMENT_ID_PREFIX}%'" in macro
    assert is_synthetic_order_id(PROBE_ORDER_ID_MIN) and not is_synthetic_order_id(PROBE_ORDER_ID_MIN - 1)
    assert not is_synthetic_order_id(None)
    assert is_synthetic_payment_id("probe-1-matched") and not is_synthetic_payment_id("pay_probe-1")


def test_every_nth_cycle_adds_an_underpaid_pair_that_beats_the_tolerance():
    assert [len(plan_cycle(c, unmatched_every=3, tolerance=Decimal("0"))) for c in (1, 2, 3, 4, 6)] == [
        1,
        1,
        2,
        1,
        2,
    ]
    tau = Decimal("0.05")
    matched, underpaid = plan_cycle(3, unmatched_every=3, tolerance=tau)
    assert matched.order_amount == matched.payment_amount == Decimal("10.00")
    assert matched.order_id == PROBE_ORDER_ID_MIN + 6 and matched.payment_id == "probe-3-matched"
    # contracts §2: underpaid when net < expected − τ; here by exactly one cent, whatever τ is
    assert underpaid.payment_amount == underpaid.order_amount - tau - Decimal("0.01")
    assert underpaid.order_id == PROBE_ORDER_ID_MIN + 7
    with pytest.raises(ValueError, match="cycle must be ≥ 1"):
        plan_cycle(0, unmatched_every=3, tolerance=tau)


def test_a_run_claims_one_cycle_and_gets_it_back_on_rerun(tmp_path):
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    first = claim_cycle(conn, "run-a", unmatched_every=2, tolerance=Decimal("0.00"))
    assert claim_cycle(conn, "run-a", unmatched_every=2, tolerance=Decimal("0.00")) == first  # retried step
    second = claim_cycle(conn, "run-b", unmatched_every=2, tolerance=Decimal("0.00"))
    assert [i.cycle for i in first] == [1] and [i.cycle for i in second] == [2, 2]
    # The report's evaluation over a stand-in of fct_reconciliation_items.
    conn.execute("create table items (item_key varchar, category varchar)")
    conn.execute(
        f"insert into items values ('order:{PROBE_ORDER_ID_MIN + 4}', 'matched'), "
        f"('order:{PROBE_ORDER_ID_MIN + 5}', 'overpaid')"
    )
    section = probe_section(conn, "run-b", "items")
    assert section["success"] is False  # the underpaid probe came out overpaid: the rules are wrong
    assert [(i["expected_category"], i["actual_category"], i["success"]) for i in section["items"]] == [
        ("matched", "matched", True),
        ("underpaid", "overpaid", False),
    ]
    record_error(conn, "run-a", "orders", "correctness probe: cannot write …")
    assert probe_section(conn, "run-a", "items")["success"] is False  # order missing, and an error
    assert probe_section(conn, "run-c", "items") is None  # no probe in that run: no section


def test_no_probe_section_means_no_probe_series(tmp_path):
    store = LocalReportStore(tmp_path / "reports")
    publish_report(store, "run-1", T0)
    samples = scrape(store)
    assert samples["finance_reconciliation_report_up"] == 1
    assert "finance_reconciliation_probe_success" not in samples
    assert "finance_reconciliation_probe_last_run_timestamp" not in samples


def test_probe_settings(monkeypatch):
    monkeypatch.delenv("FINANCE_RECON_PROBE_ENABLED", raising=False)
    monkeypatch.delenv("FINANCE_RECON_PROBE_UNMATCHED_EVERY", raising=False)
    assert (load_settings().probe_enabled, load_settings().probe_unmatched_every) == (False, 6)
    monkeypatch.setenv("FINANCE_RECON_PROBE_ENABLED", "true")
    monkeypatch.setenv("FINANCE_RECON_PROBE_UNMATCHED_EVERY", "2")
    assert (load_settings().probe_enabled, load_settings().probe_unmatched_every) == (True, 2)
    monkeypatch.setenv("FINANCE_RECON_PROBE_UNMATCHED_EVERY", "0")
    with pytest.raises(SettingsError, match="FINANCE_RECON_PROBE_UNMATCHED_EVERY='0' is invalid"):
        load_settings()


def test_the_alert_points_at_its_runbook_section():
    rules = yaml.safe_load(
        (ROOT / "deploy/prometheus/rules/finance_reconciliation_probe.rules.yml").read_text()
    )
    [rule] = rules["groups"][0]["rules"]
    assert rule["alert"] == "FinanceReconciliationProbeFailing"
    assert rule["expr"] == "finance_reconciliation_probe_success == 0"
    anchor = rule["annotations"]["runbook_url"].partition("#")[2]
    runbook = (ROOT / "docs/runbooks/finance-reconciliation-delay.md").read_text()
    headings = re.findall(r"^#+ (.+)$", runbook, flags=re.M)
    assert anchor in {re.sub(r"[^a-z0-9 _-]", "", h.strip().lower()).replace(" ", "-") for h in headings}
    tests = yaml.safe_load(
        (ROOT / "deploy/prometheus/tests/finance_reconciliation_probe.test.yml").read_text()
    )
    fired = [bool(c["exp_alerts"]) for t in tests["tests"] for c in t["alert_rule_test"]]
    assert True in fired and False in fired[fired.index(True) :]  # shown firing, then clearing
