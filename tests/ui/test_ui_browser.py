"""Issue 25 item 5, the Dagster UI in a real browser: Debian's /usr/bin/chromium driven by Playwright
against `dagster dev` on 127.0.0.1 (a free port, a private DAGSTER_HOME, a 200-order demo shop).

1. the report asset's Checks tab lists its own check, `publication`, passed after a run (it said
   "No checks defined");
2. "Materialize all" in the global lineage launches the rolling reconciliation, one run that
   succeeds (it opened a partition dialog whose launch button stayed disabled: the daily-partitioned
   close shared the selection; the close is now an external asset its own job reports);
3. the global lineage opens with the asset names readable (it opened collapsed to group boxes: the
   platform had four groups; it has one).
Screenshots go to artifacts/ui-*.png.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.runbook.helpers import PROJECT_ROOT, cli, dagster_dev, home_env, wait_until
from tests.services import missing
from tests.ui.test_graphql import (
    LOCATION,
    REPOSITORY,
    STARTUP_TIMEOUT_S,
    GraphQL,
    _launch_and_wait,
    _wait_for_run,
)

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The community sign-up dialog dagster dev shows on localhost, dismissed as its "Skip" would.
NO_NUX = "window.localStorage.setItem('communityNux', '1')"
ASSET_NODES = "{ assetNodes { assetKey { path } isPartitioned } }"
RUNS = "{ runsOrError(limit: 50) { ... on Runs { results { runId assetSelection { path } tags { key } } } } }"


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} not found: run scripts/install-system-deps.sh (Debian package chromium)")
    tmp_path = tmp_path_factory.mktemp("ui_browser")
    home = tmp_path / "home"
    env = home_env(home)
    (home / "dagster").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "deploy" / "dagster" / "dagster.yaml", home / "dagster" / "dagster.yaml")
    seed = cli(["seed", "--orders", "200", "--seed", "3", "--no-progress"], env, timeout=300)
    assert seed.returncode == 0, seed.stderr[-2000:]
    from playwright.sync_api import sync_playwright

    with (
        dagster_dev(env, tmp_path / "dagster-dev.log", STARTUP_TIMEOUT_S, schedule_stopped=True) as url,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield url, GraphQL(f"{url}/graphql", home), browser
        finally:
            browser.close()


@pytest.fixture
def page(ui):
    _, _, browser = ui
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_init_script(NO_NUX)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_the_report_checks_tab_shows_its_own_check_passed(ui, page):
    url, gql, _ = ui
    rolling = [
        {"path": n["assetKey"]["path"]} for n in gql(ASSET_NODES)["assetNodes"] if not n["isPartitioned"]
    ]
    params = {
        "selector": {
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
            "jobName": "__ASSET_JOB",
            "assetSelection": rolling,
        },
        "runConfigData": {"execution": {"config": {"in_process": {}}}},
    }
    run_id, status = _launch_and_wait(gql, params)
    assert status == "SUCCESS", run_id

    page.goto(f"{url}/assets/finance_reconciliation_report?view=checks", wait_until="networkidle")
    # The tab renders its checks after its own queries answer (seconds on a loaded machine).
    page.get_by_text("publication").first.wait_for(timeout=60_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-report-checks.png"))
    body = page.locator("body").inner_text()
    assert "No checks defined" not in body, body[-1500:]
    assert "publication" in body and re.search(r"Passed|Succeeded", body), body[-1500:]


def test_materialize_all_in_the_global_lineage_can_launch(ui, page):
    url, gql, _ = ui
    rolling = sorted(
        tuple(n["assetKey"]["path"]) for n in gql(ASSET_NODES)["assetNodes"] if not n["isPartitioned"]
    )
    before = {r["runId"] for r in gql(RUNS)["runsOrError"]["results"]}
    page.goto(f"{url}/asset-groups", wait_until="networkidle")
    button = page.get_by_role("button", name=re.compile("Materialize all")).first
    button.wait_for(timeout=30_000)
    # A trailing "…" is the UI's sign that the selection is partitioned and a partition dialog opens.
    assert not button.inner_text().strip().endswith("…"), button.inner_text()
    button.click()

    def launched():  # the runs started since the click, but the schedule's (it runs under dagster dev)
        return [
            r
            for r in gql(RUNS)["runsOrError"]["results"]
            if r["runId"] not in before and "dagster/schedule_name" not in {t["key"] for t in r["tags"]}
        ] or None

    (run,) = wait_until(launched, 60, 1.0, "the run 'Materialize all' launches")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-materialize-all.png"))
    assert sorted(tuple(k["path"]) for k in run["assetSelection"]) == rolling, run
    assert _wait_for_run(gql, run["runId"]) == "SUCCESS", run["runId"]


def test_the_global_lineage_opens_with_asset_names_readable(ui, page):
    url, gql, _ = ui
    assets = len(gql(ASSET_NODES)["assetNodes"])
    page.goto(f"{url}/asset-groups", wait_until="networkidle")
    page.wait_for_timeout(3000)
    page.get_by_text("finance_reconciliation_report", exact=True).first.wait_for(timeout=5_000)
    # The graph draws one node per asset (a collapsed graph draws one box per group instead).
    nodes = page.locator("svg foreignObject")
    wait_until(lambda: nodes.count() == assets, 30, 0.5, f"the lineage to draw {assets} asset nodes")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-global-lineage.png"))
