"""Issue 27 item 2 on the real report asset: a run whose breaks equal the previous run's references
that run's breaks.csv/.parquet instead of writing them, on a folder store and on S3 (moto_server).

The report asset is materialized alone against the warehouse the shared deployment built (as in
test_publish_to_s3.py). The previous run is seeded in an empty store from a real publication of this
warehouse: its breaks are that publication's with the lifecycle a day later would give them
(`persisting`, `previous_category` = category), so the asset's staged breaks equal them row for row.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance, materialize

from finance_recon.engines.embedded import EmbeddedWarehouse
from finance_recon.reconciliation.parameters import parse_as_of
from finance_recon.report import render
from finance_recon.report.assets import finance_reconciliation_report
from finance_recon.report.breaks import BATCH_ROWS, BREAKS_SCHEMA
from finance_recon.report.history import REUSED_FROM, PublishedRun, latest_run
from finance_recon.report.publication_check import verify_publication
from finance_recon.report.publish import publish
from finance_recon.report.reader import find_run, read_breaks
from finance_recon.report.resources import ReportStoreResource
from finance_recon.report.store import LocalReportStore
from tests.pipeline.conftest import Deployment

SEED_RUN = "seed-run"


def _materialize(deployment: Deployment, resource: ReportStoreResource):
    result = materialize(
        [finance_reconciliation_report],
        resources={
            "warehouse": EmbeddedWarehouse(path=str(deployment.settings.warehouse_path)),
            "report_store": resource,
        },
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert result.success
    [event] = result.get_asset_materialization_events()
    return result.run_id, event.materialization.metadata


def _as_persisting(table: pa.Table) -> pa.Table:
    """The breaks as the next day's run would publish them if nothing changed."""
    table = table.set_column(
        table.schema.get_field_index("lifecycle"), "lifecycle", pa.array(["persisting"] * len(table))
    )
    return table.set_column(
        table.schema.get_field_index("previous_category"), "previous_category", table["category"]
    ).cast(BREAKS_SCHEMA)


def _seed_previous(first_store, store, first: PublishedRun, scratch: Path) -> PublishedRun:
    """A run in `store` one day before `first` (of `first_store`), whose breaks are `first`'s as
    persisting ones."""
    data = first_store.get(first.file_key("breaks.parquet"))
    table = _as_persisting(pq.read_table(pa.BufferReader(data)))
    files = render.write_breaks(table.to_batches(max_chunksize=BATCH_ROWS), BREAKS_SCHEMA, scratch)
    as_of = parse_as_of(first.manifest["as_of"]) - timedelta(days=1)
    open_breaks = int(first.manifest["breaks"])
    publication = publish(
        store,
        run_id=SEED_RUN,
        as_of=as_of,
        artifacts=[
            *files,
            render.Artifact("summary.json", b"{}\n", "application/json"),
            render.Artifact("summary.html", b"<p>seed</p>\n", "text/html"),
        ],
        manifest_fields={
            "verdict": first.manifest["verdict"],
            "counts": first.manifest["counts"],
            "breaks": open_breaks,
            "lifecycle": {"new": open_breaks, "persisting": 0, "resolved": 0},
            "continuity": {"previous_open": 0, "new": open_breaks, "resolved": 0, "open": open_breaks},
        },
        run_ended_at=as_of,
        previous=None,
    )
    return PublishedRun(publication.manifest_key, publication.manifest)


@pytest.fixture
def s3_resource(moto_reports_uri, moto_endpoint) -> ReportStoreResource:
    return ReportStoreResource(uri=moto_reports_uri, s3_endpoint_url=moto_endpoint)


@pytest.fixture(params=["folder", "s3"])
def resources(request, tmp_path) -> tuple[ReportStoreResource, ReportStoreResource]:
    """Two empty stores of one kind: one for the real first publication, one for the reuse."""
    if request.param == "folder":
        return tuple(ReportStoreResource(uri=str(tmp_path / name)) for name in ("first", "second"))
    first = request.getfixturevalue("s3_resource")
    # A new resource, not `model_copy`: a Dagster resource runs with the config it was built with.
    return first, ReportStoreResource(uri=first.uri + "-reuse", s3_endpoint_url=first.s3_endpoint_url)


def test_the_report_asset_references_unchanged_breaks(deployment: Deployment, resources, tmp_path):
    first_resource, resource = resources
    first_run_id, first_metadata = _materialize(deployment, first_resource)
    assert first_metadata["breaks_files"].value == "rewritten"
    first_store = first_resource.open()
    seed = _seed_previous(first_store, resource.open(), latest_run(first_store), tmp_path)
    store = resource.open()

    run_id, metadata = _materialize(deployment, resource)
    assert metadata["breaks_files"].value == f"reused from run {SEED_RUN}"
    run = latest_run(store)
    assert run.run_id == run_id
    prefix = run.manifest_key.rsplit("/", 1)[0] + "/"
    # Nothing of the breaks under the new run's prefix; the manifest names the seed's objects.
    assert sorted(k.rsplit("/", 1)[1] for k in store.list_keys(prefix)) == [
        "manifest.json",
        "summary.html",
        "summary.json",
    ]
    for name in ("breaks.csv", "breaks.parquet"):
        assert run.file_entry(name) == {**seed.file_entry(name), REUSED_FROM: SEED_RUN}
    assert run.manifest["lifecycle"]["persisting"] == run.manifest["breaks"] > 0
    # The publication check, the reader and the page all follow the keys.
    check = verify_publication(store, run_id, run.manifest_key)
    assert check.passed, check.description
    assert read_breaks(store, find_run(store, run_id)).equals(read_breaks(store, find_run(store, SEED_RUN)))
    page = store.get(run.file_key("summary.html")).decode()
    seed_folder = seed.manifest_key.rsplit("/", 2)[-3:-1]
    assert f'href="../../{"/".join(seed_folder)}/breaks.csv"' in page
    assert 'href="breaks.csv"' not in page
    # The breaks link in the run's metadata (and so in the Finance notice) opens the seed's CSV.
    csv_link = metadata["breaks_csv_link"].url
    if csv_link.startswith("http"):
        with urllib.request.urlopen(csv_link, timeout=10) as response:
            assert response.read() == store.get(seed.file_key("breaks.csv"))
    else:
        assert csv_link == store.url_for(seed.file_key("breaks.csv"))

    # A rerun of the same as_of compares with the same previous run: the same reuse, the same page.
    rerun_id, rerun_metadata = _materialize(deployment, resource)
    rerun = latest_run(store)
    assert rerun_metadata["breaks_files"].value == f"reused from run {SEED_RUN}"
    assert rerun.manifest["files"][:2] == run.manifest["files"][:2]
    assert store.get(rerun.file_key("summary.html")) == store.get(run.file_key("summary.html"))
    assert json.loads(store.get("latest.json"))["run_id"] == rerun_id


def test_reuse_can_be_turned_off(deployment: Deployment, tmp_path):
    first, resource = (ReportStoreResource(uri=str(tmp_path / name)) for name in ("first", "second"))
    _materialize(deployment, first)
    _seed_previous(first.open(), resource.open(), latest_run(first.open()), tmp_path)
    off = ReportStoreResource(uri=resource.uri, reuse_unchanged_breaks=False)
    run_id, metadata = _materialize(deployment, off)
    assert metadata["breaks_files"].value == "rewritten"
    store = LocalReportStore(tmp_path / "second")
    run = latest_run(store)
    assert run.file_key("breaks.csv") == run.manifest_key.replace("manifest.json", "breaks.csv")
    lifecycle = read_breaks(store, find_run(store, run_id))["lifecycle"]
    assert pc.all(pc.equal(lifecycle, "persisting")).as_py()
