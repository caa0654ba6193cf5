"""A run that finds nothing dirty publishes what a rebuilt run publishes (issue 27).

One deployment on the embedded default, a 500-order generated shop, three real runs of the whole
graph: "first" builds; "quiet", five minutes later with nothing changed, carries the state forward
without running dbt's models (finance_recon/reconciliation/carry_forward.py); "rebuilt", at the
same as_of, is a full refresh that rebuilds everything. Both later runs compare with "first", so
their artifacts must be the same bytes; their manifests differ only in what names the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from dagster import DagsterEventType, DagsterInstance

from finance_recon.cli.pipeline import RunOutcome, RunRequestOptions, execute
from finance_recon.demo.generator import generate_shop
from finance_recon.demo.seed import seed_shop
from finance_recon.reconciliation.assets import build_reconciliation_dbt_models, dbt_model_count
from finance_recon.reconciliation.parameters import format_ts
from finance_recon.report.store import LocalReportStore
from finance_recon.settings import Settings
from tests.shops import embedded_deployment

pytestmark = pytest.mark.slow

ANCHOR = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
QUIET = ANCHOR + timedelta(minutes=5)
# What names a run rather than describes its reconciliation.
RUN_FIELDS = ("run_id", "run_started_at", "run_ended_at", "files")


@dataclass
class Runs:
    settings: Settings
    first: RunOutcome
    quiet: RunOutcome
    rebuilt: RunOutcome
    quiet_dbt_metadata: dict[str, dict]
    ages: dict[str, dict[str, int]]  # per run, the items' age_minutes as the warehouse shows them

    def artifact(self, run: RunOutcome, name: str) -> bytes:
        entry = next(f for f in run.manifest["files"] if f["name"] == name)
        return LocalReportStore(self.settings.reports_uri).get(entry["key"])


def _dbt_materializations(run_id: str) -> dict[str, dict]:
    """The dbt models this run materialized, with their metadata."""
    models = {key.to_user_string() for key in build_reconciliation_dbt_models(Settings.from_values()).keys}
    with DagsterInstance.get() as instance:
        records = instance.get_records_for_run(
            run_id, of_type={DagsterEventType.ASSET_MATERIALIZATION}
        ).records
    return {
        key: {name: getattr(value, "value", value) for name, value in materialization.metadata.items()}
        for materialization in (record.event_log_entry.asset_materialization for record in records)
        if (key := materialization.asset_key.to_user_string()) in models
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    home = tmp_path_factory.mktemp("carry_forward_home")
    with pytest.MonkeyPatch.context() as mp:
        settings = embedded_deployment(mp, home)
        seed_shop(generate_shop(500, seed=5, anchor=ANCHOR), settings.orders_url, settings.payments_url)
        first = execute(RunRequestOptions(as_of=format_ts(ANCHOR)), settings)
        ages = {"first": _ages(settings)}
        quiet = execute(RunRequestOptions(as_of=format_ts(QUIET)), settings)
        ages["quiet"] = _ages(settings)
        quiet_dbt = _dbt_materializations(quiet.run_id)
        rebuilt = execute(RunRequestOptions(as_of=format_ts(QUIET), full_refresh=True), settings)
        yield Runs(settings, first, quiet, rebuilt, quiet_dbt, ages)


def _ages(settings: Settings) -> dict[str, int]:
    import duckdb

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as conn:
        return dict(
            conn.execute("select item_key, age_minutes from main.fct_reconciliation_items").fetchall()
        )


def test_every_run_published(runs: Runs) -> None:
    for run in (runs.first, runs.quiet, runs.rebuilt):
        assert run.success, run.cause


def test_the_quiet_run_materializes_every_model_saying_why_it_was_not_rebuilt(runs: Runs) -> None:
    assert len(runs.quiet_dbt_metadata) == dbt_model_count()
    for key, metadata in runs.quiet_dbt_metadata.items():
        assert metadata["rebuilt"] is False, key
        assert metadata["why_not_rebuilt"].startswith("nothing is dirty since the last build"), key
        assert metadata["carried_from_run_id"] == runs.first.run_id
        assert metadata["as_of"] == format_ts(QUIET)


def test_the_quiet_run_carries_each_test_result_marked_not_evaluated(runs: Runs) -> None:
    with DagsterInstance.get() as instance:
        records = instance.get_records_for_run(
            runs.quiet.run_id, of_type={DagsterEventType.ASSET_CHECK_EVALUATION}
        ).records
    dbt_checks = [
        r.event_log_entry.dagster_event.event_specific_data
        for r in records
        if "evaluated" in r.event_log_entry.dagster_event.event_specific_data.metadata
    ]
    assert len(dbt_checks) >= 20
    for evaluation in dbt_checks:
        assert evaluation.passed and evaluation.metadata["evaluated"].value is False
        assert evaluation.metadata["carried_from_run_id"].value == runs.first.run_id
        assert evaluation.description.startswith("Not re-evaluated: nothing is dirty")


def test_the_rebuilt_run_ran_dbt(runs: Runs) -> None:
    rebuilt = _dbt_materializations(runs.rebuilt.run_id)
    assert len(rebuilt) == dbt_model_count()
    assert not any("rebuilt" in metadata for metadata in rebuilt.values())


@pytest.mark.parametrize("name", ["breaks.csv", "breaks.parquet", "summary.json"])
def test_a_carried_forward_run_publishes_the_bytes_a_rebuilt_run_does(runs: Runs, name: str) -> None:
    assert runs.artifact(runs.quiet, name) == runs.artifact(runs.rebuilt, name)


def test_the_summary_page_differs_only_in_the_run_it_names(runs: Runs) -> None:
    quiet = runs.artifact(runs.quiet, "summary.html").decode().replace(runs.quiet.run_id, "RUN")
    rebuilt = runs.artifact(runs.rebuilt, "summary.html").decode().replace(runs.rebuilt.run_id, "RUN")
    assert quiet == rebuilt


def test_the_manifests_differ_only_in_what_names_the_run(runs: Runs) -> None:
    quiet, rebuilt = (
        {k: v for k, v in run.manifest.items() if k not in RUN_FIELDS} for run in (runs.quiet, runs.rebuilt)
    )
    assert quiet == rebuilt
    assert quiet["as_of"] == format_ts(QUIET)
    assert quiet["previous_run_id"] == runs.first.run_id
    assert quiet["lifecycle"] == {"new": 0, "persisting": runs.first.manifest["breaks"], "resolved": 0}


def test_the_ages_moved_with_the_cut_off(runs: Runs) -> None:
    """What depends on as_of alone was recomputed without a build: the published summary says the new
    as_of, and every item is exactly five minutes older in the warehouse."""
    first = json.loads(runs.artifact(runs.first, "summary.json"))
    quiet = json.loads(runs.artifact(runs.quiet, "summary.json"))
    assert first["as_of"] == format_ts(ANCHOR) and quiet["as_of"] == format_ts(QUIET)
    assert first["counts"] == quiet["counts"]
    assert len(runs.ages["first"]) > 400
    assert runs.ages["quiet"] == {item: age + 5 for item, age in runs.ages["first"].items()}
