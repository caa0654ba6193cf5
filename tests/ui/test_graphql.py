"""The UI's use cases through Dagster's own GraphQL API, against a real `dagster dev`.

Starts `dagster dev -w workspace.yaml -h 127.0.0.1 -p <free port>` (webserver + daemon) on a private
FINANCE_RECON_HOME / DAGSTER_HOME whose embedded demo sources hold a small shop, then:
1. lineage: the asset graph has orders and payments upstream of the dbt models, upstream of
   `finance_reconciliation_report`; the checks and the freshness policy are attached when the build
   has them (the quality package);
2. materialize on demand: `launchRun` on `__ASSET_JOB` with an `assetSelection` of the whole rolling
   graph, polled until SUCCESS, and the report's newest materialization is that run's;
3. the daily close from the UI: one partition (yesterday) of the close job launched as the UI does
   (`dagster/partition` tag), while the rolling run lock is held — a close never takes it —
   published under close/dt=D/ and listed as that day's materialization of the close asset.
Every process is stopped through its process group, by PID, in `finally`.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from finance_recon.runs.lock import RunLock
from tests.runbook.helpers import PROJECT_ROOT, cli, dagster_dev, graphql, home_env, wait_until

pytestmark = pytest.mark.slow

REPORT = ["finance_reconciliation_report"]
CLOSE = ["finance_reconciliation_close"]
CLOSE_JOB = "finance_reconciliation_daily_close"
ASSET_GROUP = "finance_reconciliation"
LOCATION = "finance_recon"
REPOSITORY = "__repository__"
STARTUP_TIMEOUT_S = float(os.environ.get("FINANCE_RECON_TEST_DAGSTER_STARTUP_S", "420"))
RUN_TIMEOUT_S = float(os.environ.get("FINANCE_RECON_TEST_DAGSTER_RUN_S", "900"))

ASSET_GRAPH = """
query AssetGraph {
  assetNodes {
    assetKey { path }
    groupName
    isPartitioned
    isExecutable
    dependencyKeys { path }
    dependedByKeys { path }
    internalFreshnessPolicy { __typename ... on TimeWindowFreshnessPolicy { failWindowSeconds warnWindowSeconds } }
    assetChecksOrError { __typename ... on AssetChecks { checks { name blocking } } }
  }
}
"""

LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on UnauthorizedError { message }
  }
}
"""

RUN_STATUS = """
query Run($runId: ID!) {
  runOrError(runId: $runId) { __typename ... on Run { status } ... on PythonError { message } }
}
"""

MATERIALIZATIONS = """
query Materializations($key: AssetKeyInput!) {
  assetOrError(assetKey: $key) {
    __typename
    ... on Asset { assetMaterializations(limit: 5) { runId timestamp partition } }
  }
}
"""


class GraphQL:
    def __init__(self, url: str, home: Path):
        self.url = url
        self.home = home

    def __call__(self, query: str, **variables) -> dict:
        return graphql(self.url, query, **variables)


@pytest.fixture(scope="module")
def dagster_dev_ui(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("ui")
    if not (PROJECT_ROOT / "dbt_project" / "target" / "manifest.json").exists():
        pytest.fail("dbt_project/target/manifest.json is missing: run `make prepare` first")
    home = tmp_path / "home"
    env = home_env(home)
    (home / "dagster").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "deploy" / "dagster" / "dagster.yaml", home / "dagster" / "dagster.yaml")
    # A 200-order shop in the deployment's embedded DuckDB sources (the demo's own generator).
    seed = cli(["seed", "--orders", "200", "--seed", "3", "--no-progress"], env, timeout=300)
    assert seed.returncode == 0, seed.stderr[-2000:]
    log_path = tmp_path / "dagster-dev.log"
    with dagster_dev(env, log_path, STARTUP_TIMEOUT_S, schedule_stopped=True) as url:
        yield GraphQL(f"{url}/graphql", home), log_path


def _launch_and_wait(gql: GraphQL, params: dict) -> tuple[str, str]:
    """`launchRun` as the UI sends it, then poll until the run ends: (run id, final status)."""
    launched = gql(LAUNCH, params=params)["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    return run_id, _wait_for_run(gql, run_id)


def _wait_for_run(gql: GraphQL, run_id: str) -> str:
    """Poll a run until it ends: its final status."""

    def finished():
        status = gql(RUN_STATUS, runId=run_id)["runOrError"]["status"]
        return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

    return wait_until(finished, RUN_TIMEOUT_S, 2.0, f"run {run_id} to finish")


def test_lineage_and_on_demand_materialization(dagster_dev_ui):
    gql, log_path = dagster_dev_ui

    nodes = {tuple(n["assetKey"]["path"]): n for n in gql(ASSET_GRAPH)["assetNodes"]}
    report = nodes[tuple(REPORT)]
    upstream_of_report = {tuple(k["path"]) for k in report["dependencyKeys"]}
    dbt_models = {("fct_reconciliation_items",), ("rpt_reconciliation_summary",), ("rpt_category_summary",)}
    assert dbt_models <= upstream_of_report, upstream_of_report

    def ancestors(key: tuple) -> set[tuple]:
        seen: set[tuple] = set()
        stack = [key]
        while stack:
            for dep in nodes[stack.pop()]["dependencyKeys"]:
                dep_key = tuple(dep["path"])
                if dep_key not in seen:
                    seen.add(dep_key)
                    stack.append(dep_key)
        return seen

    for model in dbt_models:
        assert {("orders",), ("payments",)} <= ancestors(model), f"{model} does not descend from the sources"
    staging = {k for k in nodes if k[-1].startswith("stg_")}
    assert staging and all(
        {("orders",), ("payments",)} & {tuple(d["path"]) for d in nodes[k]["dependencyKeys"]} for k in staging
    )
    assert {("orders",), ("payments",)} <= ancestors(tuple(REPORT))

    # Checks: the dbt tests always; the quality package's checks and freshness policy when present.
    checks = {
        tuple(k): {c["name"]: c["blocking"] for c in n["assetChecksOrError"].get("checks", [])}
        for k, n in nodes.items()
    }
    assert any(checks[k] for k in dbt_models), "no dbt test is attached as an asset check"
    try:
        import finance_recon.quality.checks  # noqa: F401

        has_quality = True
    except ImportError:
        has_quality = False
    if has_quality:
        assert checks[("orders_batch",)].get("contract") is True
        assert checks[("payments_batch",)].get("contract") is True
        policy = report["internalFreshnessPolicy"]
        assert policy and policy["__typename"] == "TimeWindowFreshnessPolicy", policy
        assert policy["failWindowSeconds"] == 30 * 60

    # One group (the global lineage opens expanded). The daily close is the one partitioned asset,
    # outside the rolling graph, and external: its job runs it, never "Materialize all".
    assert {n["groupName"] for n in nodes.values()} == {ASSET_GROUP}
    close = nodes[("finance_reconciliation_close",)]
    assert close["isPartitioned"] and not close["isExecutable"] and not close["dependencyKeys"]
    assert [k for k, n in nodes.items() if n["isPartitioned"]] == [("finance_reconciliation_close",)]
    assert [k for k, n in nodes.items() if not n["isExecutable"]] == [("finance_reconciliation_close",)]

    # Materialize the whole rolling graph on demand, as the UI's "Materialize all" does.
    selection = [{"path": list(k)} for k, n in nodes.items() if not n["isPartitioned"]]
    params = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
            "jobName": "__ASSET_JOB",
            "assetSelection": selection,
        },
        # One process for the whole run. Under `dagster dev` every process that imports the dbt project
        # re-parses it into the shared dbt_project/target (DbtProject.prepare_if_dev); with the default
        # multiprocess executor each step subprocess does, and parallel parses race.
        "runConfigData": {"execution": {"config": {"in_process": {}}}},
        "executionMetadata": {"tags": [{"key": "finance_recon/test", "value": "ui"}]},
    }
    run_id, status = _launch_and_wait(gql, params)
    assert status == "SUCCESS", f"run {run_id} ended {status}; see {log_path}"

    asset = gql(MATERIALIZATIONS, key={"path": REPORT})["assetOrError"]
    assert asset["__typename"] == "Asset"
    assert run_id in [m["runId"] for m in asset["assetMaterializations"]], asset


def test_one_day_closes_from_the_ui_without_the_rolling_lock(dagster_dev_ui):
    gql, log_path = dagster_dev_ui
    day = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    params = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
            "jobName": CLOSE_JOB,
        },
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": day}]},
    }
    store = gql.home / "object-store" / "finance-reports"
    rolling = (store / "latest.json").read_bytes() if (store / "latest.json").exists() else None
    report_before = gql(MATERIALIZATIONS, key={"path": REPORT})["assetOrError"]
    lock = RunLock(gql.home).acquire("held-by-the-test")  # as if a rolling run were running
    try:
        run_id, status = _launch_and_wait(gql, params)
    finally:
        lock.release()
    assert status == "SUCCESS", f"close run {run_id} ended {status}; see {log_path}"
    asset = gql(MATERIALIZATIONS, key={"path": CLOSE})["assetOrError"]
    assert [(m["runId"], m["partition"]) for m in asset["assetMaterializations"]] == [(run_id, day)]
    manifest = json.loads((store / "close" / f"dt={day}" / "manifest.json").read_text())
    assert manifest["close"]["date"] == day
    assert json.loads((store / "close" / "latest.json").read_text())["date"] == day
    # The rolling report is untouched, and its asset gained no materialization: the close's own
    # reconciliation run lives in the close's Dagster instance.
    assert ((store / "latest.json").read_bytes() if (store / "latest.json").exists() else None) == rolling
    assert gql(MATERIALIZATIONS, key={"path": REPORT})["assetOrError"] == report_before
