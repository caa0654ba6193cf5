"""The Grafana "Finance" dashboard and its provisioning, validated without Grafana (not installable here)."""

from __future__ import annotations

import json
import re

import yaml

from finance_recon.metrics.collector import METRICS
from tests.deploy.deploy_helpers import DEPLOY, require_binary, run

GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "finance.json"
PROMETHEUS_BUILTINS = {"up"}
METRIC_NAME = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()")
PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
}


def recorded_series() -> set[str]:
    """Series the repo's own Prometheus recording rules produce (the freshness SLO)."""
    names = set()
    for path in (DEPLOY / "prometheus" / "rules").glob("*.rules.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            names |= {r["record"] for r in group["rules"] if "record" in r}
    return names


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def query_panels() -> list[dict]:
    return [p for p in dashboard()["panels"] if p.get("type") != "row"]


def metric_names(expr: str) -> set[str]:
    no_labels = re.sub(r"\{[^}]*\}", "", expr)
    no_strings = re.sub(r'"[^"]*"', "", no_labels)
    return {
        m
        for m in METRIC_NAME.findall(no_strings)
        if m not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhd]?", m)
    }


def test_dashboard_is_valid_json_with_unique_ids_and_a_layout():
    d = dashboard()
    assert d["title"] == "Finance"
    assert d["uid"] == "finance-recon"
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    for panel in d["panels"]:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24


def test_panels_query_only_metrics_the_exporter_exports():
    exported = set(METRICS) | PROMETHEUS_BUILTINS | recorded_series()
    used = set()
    for panel in query_panels():
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names, (panel["title"], target["expr"])
            assert names <= exported, (panel["title"], names - exported)
            used |= names
    assert {
        "finance_reconciliation_last_updated_timestamp",
        "finance_reconciliation_age_minutes",
        "finance_reconciliation_breaks",
        "finance_reconciliation_source_lag_seconds",
    } <= used


def test_panel_expressions_are_valid_promql(tmp_path):
    """promtool parses each panel query as a recording rule: a typo in PromQL fails here."""
    promtool = require_binary("promtool")
    rules = [
        {"record": f"dashboard:panel_{p['id']}_{t['refId']}", "expr": t["expr"]}
        for p in query_panels()
        for t in p["targets"]
    ]
    path = tmp_path / "panels.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "finance_dashboard", "rules": rules}]}))
    result = run([promtool, "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_runbook_panels_are_there():
    panels = {p["title"]: p for p in query_panels()}
    last = panels["Last report update"]
    assert "finance_reconciliation_last_updated_timestamp" in last["targets"][0]["expr"]
    age = panels["Report age vs the 30-minute SLA"]
    assert age["targets"][0]["expr"] == "finance_reconciliation_age_minutes"
    steps = age["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert {"color": "red", "value": 30} in steps
    assert age["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"].startswith("line")
    breaks = panels["Breaks by category (newest run)"]
    assert "finance_reconciliation_breaks" in breaks["targets"][0]["expr"]
    assert breaks["targets"][0]["legendFormat"] == "{{category}}"
    assert any(
        "source" in t["legendFormat"] for p in panels.values() for t in p["targets"] if "source_" in t["expr"]
    )


def test_the_slo_panels_are_there():
    """Issue 15: the SLI, the error budget left and the burn rates, each threshold as in the rules."""
    panels = {p["title"]: p for p in query_panels()}
    sli = panels["Freshness SLI (28 d)"]
    assert sli["targets"][0]["expr"] == "finance_reconciliation:freshness_sli:ratio_28d"
    assert {"color": "orange", "value": 0.99} in sli["fieldConfig"]["defaults"]["thresholds"]["steps"]
    budget = panels["Error budget left (28 d)"]
    assert budget["targets"][0]["expr"] == "finance_reconciliation:slo_error_budget_remaining:ratio"
    assert budget["fieldConfig"]["defaults"]["unit"] == "percentunit"
    over_time = panels["Error budget left over time"]
    assert over_time["targets"][0]["expr"] == budget["targets"][0]["expr"]
    burn = next(p for title, p in panels.items() if title.startswith("Error budget burn rate"))
    exprs = {t["legendFormat"]: t["expr"] for t in burn["targets"]}
    assert exprs == {w: f"finance_reconciliation:freshness_burn_rate:{w}" for w in ("1h", "5m", "6h", "30m")}
    steps = burn["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert {"color": "red", "value": 14.4} in steps and {"color": "orange", "value": 6} in steps
    assert burn["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"].startswith("line")
    # Every SLO panel reads a series the shipped rules really record.
    for panel in (sli, budget, over_time, burn):
        assert all(t["expr"] in recorded_series() for t in panel["targets"]), panel["title"]


def test_provisioning_points_at_the_dashboard_and_the_datasource():
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/finance.yml").read_text())[
        "datasources"
    ]
    by_uid = {d["uid"]: d for d in datasources}
    for panel in query_panels():
        for ref in [panel["datasource"]] + [t["datasource"] for t in panel["targets"]]:
            assert ref["uid"] in by_uid and by_uid[ref["uid"]]["type"] == ref["type"], panel["title"]
    assert by_uid["prometheus"]["url"] == "http://prometheus:9090"

    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/finance.yml").read_text())["providers"]
    assert providers[0]["type"] == "file"
    # docker-compose.yml mounts deploy/grafana/dashboards at this path (tests/deploy/test_compose.py).
    assert providers[0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert DASHBOARD.parent.is_dir() and list(DASHBOARD.parent.glob("*.json")) == [DASHBOARD]
