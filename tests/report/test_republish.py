"""Republish cost follows change (issue 27 item 2): unchanged breaks are referenced, not rewritten.

Runs are published here the way the report asset does it (stage the breaks in DuckDB against the
previous run's breaks.parquet, decide reuse before rendering, render, publish), on a local folder
store and on S3 (moto_server on 127.0.0.1), then read back by everything that reads a run: the
publication check, `finance-recon report`/`breaks`, the metrics, the daily close, and the next run's
lifecycle.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pyarrow.parquet as pq
import pytest

from finance_recon.cli import main
from finance_recon.metrics.latest import LatestReader, parse_manifest
from finance_recon.report import render, reuse
from finance_recon.report.breaks import BREAKS_SCHEMA, StagedBreaks, stage_breaks
from finance_recon.report.close import publish_close
from finance_recon.report.history import (
    REUSED_FROM,
    InvalidReportError,
    PublishedRun,
    latest_run,
    previous_breaks_file,
    previous_run,
    read_run,
)
from finance_recon.report.publication_check import verify_publication
from finance_recon.report.publish import publish, run_prefix
from finance_recon.report.reader import find_run, links, read_breaks
from finance_recon.report.resources import ReportStoreResource
from finance_recon.report.store import LocalReportStore, StoreError

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BREAKS = ("breaks.csv", "breaks.parquet")

_ITEMS = """
create or replace table items as
select md5('order:' || i) as break_id, 'order:' || i as item_key, 'order' as item_type,
       i::bigint as order_id, 'pay_' || i as payment_id, (i % 7)::bigint as customer_id,
       'paid' as order_status,
       case when i % 3 = 0 then 'underpaid' else 'missing_payment' end as category,
       true as is_break, false as is_synthetic,
       timestamptz '2026-03-01 00:00:00+00' + i * interval 1 minute as created_at,
       '0-1d' as age_bucket, case when i % 2 = 0 then 'EUR' else 'USD' end as currency,
       (100 + i)::decimal(38,2) as expected, (90 + i)::decimal(38,2) as net,
       (10 + i / 100)::decimal(38,2) as difference, (90 + i)::decimal(38,2) as captured,
       0::decimal(38,2) as reversed, 1::bigint as n_charges, 'pay_' || i as payment_ids,
       'EUR' as payment_currencies, 'stripe' as providers
from range({n}) t(i)
"""


class Shop:
    """A DuckDB connection holding `items`, the shape of fct_reconciliation_items the report reads."""

    def __init__(self, breaks: int):
        self.conn = duckdb.connect()
        self.conn.execute("set TimeZone = 'UTC'")
        self.set_breaks(breaks)

    def set_breaks(self, breaks: int) -> None:
        self.conn.execute(_ITEMS.format(n=breaks))


def publish_run(store, shop: Shop, run_id: str, as_of: datetime, scratch: Path):
    """One publication as the report asset makes it (report/assets.py), summary files simplified."""
    folder = scratch / run_id
    folder.mkdir()
    previous = previous_run(store, as_of)
    before = previous_breaks_file(store, previous, folder)
    breaks = stage_breaks(shop.conn, "items", before, as_of)
    reused = reuse.decide(store, previous, before, breaks)
    files = [] if reused.reused else list(render.write_breaks(breaks.batches(), BREAKS_SCHEMA, folder))
    lifecycle = breaks.lifecycle_counts()
    previous_open = int(previous.manifest["breaks"]) if previous else 0
    open_now = lifecycle["new"] + lifecycle["persisting"]
    links_from_page = {
        n: reuse.relative_link(run_prefix(as_of, run_id), k)
        for n, k in reused.keys(run_prefix(as_of, run_id)).items()
    }
    artifacts = [
        *files,
        render.Artifact(
            "summary.json", json.dumps({"as_of": as_of.isoformat()}).encode(), "application/json"
        ),
        render.Artifact("summary.html", json.dumps(links_from_page).encode(), "text/html"),
    ]
    continuity = {
        "previous_open": previous_open,
        "new": lifecycle["new"],
        "resolved": lifecycle["resolved"],
        "open": open_now,
        "holds": True,
    }
    publication = publish(
        store,
        run_id=run_id,
        as_of=as_of,
        artifacts=artifacts,
        manifest_fields={
            "verdict": "breaks",
            "counts": {"missing_payment": open_now},
            "breaks": open_now,
            "lifecycle": lifecycle,
            "continuity": continuity,
        },
        run_ended_at=as_of + timedelta(minutes=1),
        previous=previous,
        reused=reused.entries,
    )
    return publication, reused


def _entries(publication) -> dict[str, dict]:
    return {f["name"]: f for f in publication.manifest["files"]}


def _prefix(publication) -> str:
    return publication.manifest_key.rsplit("/", 1)[0] + "/"


@pytest.fixture
def folder_store(tmp_path, monkeypatch):
    root = tmp_path / "finance-reports"
    monkeypatch.setenv("FINANCE_RECON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FINANCE_RECON_REPORTS_URI", str(root))
    for name in ("FINANCE_RECON_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    return LocalReportStore(root)


@pytest.fixture
def s3_store(tmp_path, monkeypatch, moto_endpoint, moto_reports_uri):
    monkeypatch.setenv("FINANCE_RECON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FINANCE_RECON_REPORTS_URI", moto_reports_uri)
    monkeypatch.setenv("FINANCE_RECON_S3_ENDPOINT_URL", moto_endpoint)
    return ReportStoreResource(uri=moto_reports_uri, s3_endpoint_url=moto_endpoint).open()


@pytest.fixture(params=["folder", "s3"])
def store(request):
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture
def chain(store, tmp_path):
    """Five runs an hour apart: new, persisting (rewritten), unchanged twice (reused), one changed."""
    shop = Shop(breaks=300)
    runs = {}
    for n, label in enumerate(("first", "second", "third", "fourth"), start=1):
        runs[label] = publish_run(store, shop, f"run-{n}", T0 + timedelta(hours=n), tmp_path)
    return store, shop, runs


def test_the_first_unchanged_run_rewrites_the_next_ones_reuse(chain):
    store, _, runs = chain
    first, second, third, fourth = (runs[k] for k in ("first", "second", "third", "fourth"))
    # first → second: every break went new → persisting, so the rows changed and are written.
    assert not first[1].reused and not second[1].reused
    assert {n: e["sha256"] for n, e in _entries(first[0]).items() if n in BREAKS} != {
        n: e["sha256"] for n, e in _entries(second[0]).items() if n in BREAKS
    }
    # third: nothing changed since second. No breaks object under its prefix, only its own three.
    assert third[1].reused and third[1].describe() == "reused from run run-2"
    assert store.list_keys(_prefix(third[0])) == sorted(
        _prefix(third[0]) + n for n in ("manifest.json", "summary.html", "summary.json")
    )
    for name in BREAKS:
        original, reused_entry = _entries(second[0])[name], _entries(third[0])[name]
        assert reused_entry == {**original, REUSED_FROM: "run-2"}
        assert reused_entry["key"].startswith(_prefix(second[0]))
    # fourth reuses too, and still names run-2's objects (never third's manifest).
    for name in BREAKS:
        assert _entries(fourth[0])[name] == _entries(third[0])[name]
    assert not [k for k in store.list_keys(_prefix(fourth[0])) if k.rsplit("/", 1)[1] in BREAKS]


def test_a_change_after_reuse_writes_new_files(chain, tmp_path):
    store, shop, runs = chain
    shop.set_breaks(299)  # one break resolved
    fifth, reused = publish_run(store, shop, "run-5", T0 + timedelta(hours=5), tmp_path)
    assert not reused.reused and reused.describe() == "rewritten"
    entries = _entries(fifth)
    for name in BREAKS:
        assert entries[name]["key"] == _prefix(fifth) + name and REUSED_FROM not in entries[name]
        assert entries[name]["sha256"] != _entries(runs["fourth"][0])[name]["sha256"]
    # Its lifecycle was computed from the reused file of run-4 (found by key under run-2).
    assert fifth.manifest["lifecycle"] == {"new": 0, "persisting": 299, "resolved": 1}
    assert verify_publication(store, "run-5", fifth.manifest_key).passed


def test_the_publication_check_verifies_a_reused_file_where_it_lies(chain):
    store, _, runs = chain
    fourth = runs["fourth"][0]
    result = verify_publication(store, "run-4", fourth.manifest_key)
    assert result.passed, result.description
    assert result.metadata["files_verified"].text == "breaks.csv, breaks.parquet, summary.html, summary.json"


def test_the_publication_check_fails_a_reused_file_changed_or_misplaced(folder_store, tmp_path):
    store, shop = folder_store, Shop(breaks=50)
    for n in (1, 2, 3):
        third, _ = publish_run(store, shop, f"run-{n}", T0 + timedelta(hours=n), tmp_path)
    csv_key = _entries(third)["breaks.csv"]["key"]
    store.put(csv_key, store.get(csv_key) + b"x\n")
    result = verify_publication(store, "run-3", third.manifest_key)
    assert not result.passed and "breaks.csv differs from its manifest entry" in result.description

    manifest = dict(third.manifest)
    manifest["files"] = [
        {**f, REUSED_FROM: "run-1"} if f["name"] == "breaks.parquet" else f for f in manifest["files"]
    ]
    store.put(third.manifest_key, json.dumps(manifest).encode())
    result = verify_publication(store, "run-3", third.manifest_key)
    assert "breaks.parquet is reused from run run-1 but stored at dt=2026-03-02/run=run-2/breaks.parquet" in (
        result.description
    )


def test_reader_cli_and_links_read_the_reused_breaks(chain, capsys):
    store, _, runs = chain
    third = find_run(store, "run-3")
    assert read_breaks(store, third).equals(read_breaks(store, find_run(store, "run-2")))
    by_name = {link["name"]: {**link, "uri": unquote(link["uri"])} for link in links(store, third, 3600)}
    assert by_name["breaks.csv"]["uri"].endswith("dt=2026-03-02/run=run-2/breaks.csv")
    assert by_name["summary.html"]["uri"].endswith("dt=2026-03-02/run=run-3/summary.html")

    assert main(["breaks", "--run", "run-3", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["run_id"] == "run-3" and document["count"] == 300
    assert {b["lifecycle"] for b in document["breaks"]} == {"persisting"}
    assert main(["report", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["run_id"] == "run-4"
    assert {link["name"]: unquote(link["uri"]) for link in report["links"]}["breaks.parquet"].endswith(
        "run=run-2/breaks.parquet"
    )


def test_the_page_links_the_reused_files_relatively(chain):
    store, _, runs = chain
    fourth = runs["fourth"][0]
    page_links = json.loads(store.get(_entries(fourth)["summary.html"]["key"]))
    # From dt=2026-03-02/run=run-4/ to dt=2026-03-02/run=run-2/: the same day, a sibling run folder.
    assert page_links == {
        "breaks.csv": "../run=run-2/breaks.csv",
        "breaks.parquet": "../run=run-2/breaks.parquet",
    }
    assert reuse.relative_link("dt=2026-03-03/run=b/", "dt=2026-03-02/run=a/breaks.csv") == (
        "../../dt=2026-03-02/run=a/breaks.csv"
    )
    assert reuse.relative_link("dt=2026-03-03/run=b/", "dt=2026-03-03/run=b/breaks.csv") == "breaks.csv"


def test_metrics_read_a_reusing_run(chain):
    store, _, runs = chain
    latest = LatestReader(store).read()
    assert latest.run_id == "run-4" and latest.counts == {"missing_payment": 300}
    assert {f["name"]: f["key"] for f in latest.files}["breaks.csv"].endswith("run=run-2/breaks.csv")


def test_the_close_copies_reused_breaks_as_its_own_files(folder_store, tmp_path):
    staging, shop = folder_store, Shop(breaks=40)
    for n in (1, 2, 3):
        third, reused = publish_run(staging, shop, f"run-{n}", T0 + timedelta(hours=n), tmp_path)
    assert reused.reused
    target = LocalReportStore(tmp_path / "closes")
    close = publish_close(target, staging, third.manifest_key, date(2026, 3, 2), "UTC")
    for name in BREAKS:
        entry = next(f for f in close["files"] if f["name"] == name)
        assert entry["key"] == f"close/dt=2026-03-02/{name}" and REUSED_FROM not in entry
        assert hashlib.sha256(target.get(entry["key"])).hexdigest() == _entries(third)[name]["sha256"]


def test_rendering_the_same_staged_rows_twice_gives_the_same_bytes(tmp_path):
    """Why a reference is as good as a rewrite: same rows, same bytes (render.py, BATCH_ROWS)."""
    shop = Shop(breaks=70_000)  # more than one batch of 65,536 rows: two Parquet row groups
    breaks = stage_breaks(shop.conn, "items", None, T0)
    digests = []
    for attempt in ("a", "b"):
        (tmp_path / attempt).mkdir()
        files = render.write_breaks(breaks.batches(), BREAKS_SCHEMA, tmp_path / attempt)
        digests.append([hashlib.sha256(f.path.read_bytes()).hexdigest() for f in files])
    assert digests[0] == digests[1]
    assert pq.ParquetFile(tmp_path / "a" / "breaks.parquet").metadata.num_row_groups == 2


def test_rows_equal_is_decided_in_duckdb_over_every_column(tmp_path):
    shop = Shop(breaks=20)
    staged = stage_breaks(shop.conn, "items", None, T0)
    files = render.write_breaks(staged.batches(), BREAKS_SCHEMA, tmp_path)
    now_persisting = stage_breaks(shop.conn, "items", files[1].path, T0)  # new → persisting: differs
    assert not now_persisting.same_as_previous()
    shop.conn.execute(
        f"create or replace table persisting as select {', '.join(BREAKS_SCHEMA.names)} from report_breaks"
    )
    (tmp_path / "p").mkdir()
    persisting = render.write_breaks(
        StagedBreaks(shop.conn, "persisting").batches(), BREAKS_SCHEMA, tmp_path / "p"
    )
    assert stage_breaks(shop.conn, "items", persisting[1].path, T0 + timedelta(hours=1)).same_as_previous()
    # The same count with a break twice in place of another is not the same breaks.
    shop.conn.execute(
        "create or replace temp view previous_breaks as select * from persisting where order_id <> 3 "
        "union all select * from persisting where order_id = 4"
    )
    assert not StagedBreaks(shop.conn, "persisting").same_as_previous()
    shop.conn.execute("update items set net = net + 0.01 where order_id = 7")  # one cent on one break
    assert not stage_breaks(
        shop.conn, "items", persisting[1].path, T0 + timedelta(hours=1)
    ).same_as_previous()


def test_a_previous_file_not_the_one_recorded_is_not_reused(folder_store, tmp_path):
    store, shop = folder_store, Shop(breaks=30)
    for n in (1, 2):
        second, _ = publish_run(store, shop, f"run-{n}", T0 + timedelta(hours=n), tmp_path)
    csv_key = _entries(second)["breaks.csv"]["key"]
    store.delete(csv_key)  # e.g. removed by hand: the next run must write its own
    third, reused = publish_run(store, shop, "run-3", T0 + timedelta(hours=3), tmp_path)
    assert not reused.reused and _entries(third)["breaks.csv"]["key"].startswith(_prefix(third))


def test_a_manifest_of_an_unknown_schema_version_is_refused_by_name(folder_store, tmp_path):
    store = folder_store
    first, _ = publish_run(store, Shop(breaks=3), "run-1", T0, tmp_path)
    assert first.manifest["schema_version"] == 2
    store.put(first.manifest_key, json.dumps({**first.manifest, "schema_version": 3}).encode())
    with pytest.raises(
        InvalidReportError, match=r"schema_version 3 is not one this finance_recon reads \(1, 2\)"
    ):
        read_run(store, first.manifest_key)
    with pytest.raises(InvalidReportError, match="schema_version 3"):
        parse_manifest(json.loads(store.get(first.manifest_key)), first.manifest_key)
    # A schema 1 manifest (every file under its run's prefix) still reads.
    store.put(first.manifest_key, json.dumps({**first.manifest, "schema_version": 1}).encode())
    assert latest_run(store).file_key("breaks.csv") == run_prefix(T0, "run-1") + "breaks.csv"
    assert isinstance(latest_run(store), PublishedRun)


class _ManifestRefused(LocalReportStore):
    """A folder store that fails the manifest write, as a store gone mid-publish would."""

    def put(self, key, data, content_type="application/octet-stream"):
        if key.endswith("/manifest.json"):
            raise StoreError(f"cannot write {key}: refused by the test")
        super().put(key, data, content_type)


def test_a_reusing_run_that_fails_before_its_manifest_leaves_latest_on_the_previous_run(
    folder_store, tmp_path
):
    store, shop = folder_store, Shop(breaks=30)
    for n in (1, 2):
        second, _ = publish_run(store, shop, f"run-{n}", T0 + timedelta(hours=n), tmp_path)
    latest_before = store.get("latest.json")
    with pytest.raises(StoreError, match="refused by the test"):
        publish_run(_ManifestRefused(store.root), shop, "run-3", T0 + timedelta(hours=3), tmp_path)
    assert store.get("latest.json") == latest_before
    # Only its summary files were written, under its own prefix; the reused objects are untouched.
    assert [k.rsplit("/", 1)[1] for k in store.list_keys(run_prefix(T0 + timedelta(hours=3), "run-3"))] == [
        "summary.html",
        "summary.json",
    ]
    assert verify_publication(store, "run-2", second.manifest_key).passed


def test_the_daily_close_never_reuses():
    from finance_recon.report.close import close_settings
    from finance_recon.settings import Settings

    settings = Settings.from_values(home="/srv/recon")
    assert settings.reuse_unchanged_breaks is True
    assert close_settings(settings).reuse_unchanged_breaks is False
