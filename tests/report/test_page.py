"""summary.html from its inputs (no browser): sections, per-currency money, every open break grouped
with the rest left to breaks.csv, the trend over earlier published runs, escaping, byte-identical
reruns, and nothing outside the file. The real browser reads it in test_summary_page_browser.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import duckdb
import pyarrow as pa

from finance_recon.contracts import BREAK_CATEGORIES, CATEGORIES
from finance_recon.report import page, render
from finance_recon.report.breaks import BREAKS_SCHEMA, StagedBreaks
from finance_recon.report.guide import GUIDE
from finance_recon.report.history import earlier_runs, latest_run, previous_run
from finance_recon.report.publish import publish
from finance_recon.report.store import LocalReportStore

AS_OF = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


def _break(i: int, category: str, currency: str, difference: str, lifecycle: str = "new", key=None) -> dict:
    diff = Decimal(difference)
    return {
        "break_id": f"b{i:04d}",
        "item_key": key or f"order:{i}",
        "item_type": "order",
        "order_id": i,
        "payment_id": None,
        "customer_id": 100 + i,
        "order_status": "paid",
        "category": category,
        "previous_category": "underpaid" if lifecycle == "resolved" else None,
        "lifecycle": lifecycle,
        "first_seen_at": AS_OF - timedelta(days=1),
        "created_at": AS_OF - timedelta(days=1, minutes=i),
        "age_bucket": "0-1d",
        "currency": currency,
        "expected": Decimal("100.00"),
        "net": Decimal("100.00") + diff,
        "difference": diff,
        "captured": Decimal("100.00") + diff,
        "reversed": Decimal("0.00"),
        "n_charges": 2,
        "payment_ids": f"pay_{i}a;pay_{i}b",
        "payment_currencies": "EUR;USD" if category == "currency_mismatch" else currency,
        "providers": "adyen;stripe",
    }


def _breaks() -> pa.Table:
    rows = [_break(i, "duplicate_charge", "USD", f"{i}.00") for i in range(1, 31)]  # 30 > BREAKS_PER_CATEGORY
    rows += [_break(40, "missing_payment", "JPY", "-1200.00"), _break(41, "missing_payment", "EUR", "-5.50")]
    rows += [_break(50, "currency_mismatch", "USD", "-1.00", key="order:<script>alert(1)</script>")]
    rows += [_break(60, "matched", "USD", "0.00", lifecycle="resolved")]
    rows.sort(key=lambda r: (-abs(r["difference"]), r["break_id"]))  # the order breaks.py gives
    return pa.Table.from_pylist(rows, schema=BREAKS_SCHEMA)


def _document(breaks: pa.Table, as_of: datetime = AS_OF) -> dict:
    active = [r for r in breaks.to_pylist() if r["lifecycle"] != "resolved"]
    counts = {c: sum(r["category"] == c for r in active) for c in CATEGORIES} | {"matched": 500}
    totals = []
    for currency in ("EUR", "JPY", "USD"):
        mine = [r for r in active if r["currency"] == currency]
        totals.append(
            {
                "currency": currency,
                "item_count": len(mine) + 10,
                "order_count": len(mine) + 10,
                "break_count": len(mine),
                "total_expected": Decimal("1000.00"),
                "total_net": Decimal("1000.00") + sum((r["difference"] for r in mine), Decimal(0)),
                "break_amount": sum((abs(r["difference"]) for r in mine), Decimal(0)),
            }
        )
    categories = [
        {
            "category": c,
            "currency": "USD",
            "items": n,
            "expected": Decimal(0),
            "net": Decimal(0),
            "difference": Decimal(0),
        }
        for c, n in counts.items()
        if n
    ]
    return render.summary_document(
        as_of=as_of,
        tolerance=Decimal("0.00"),
        grace_minutes=60,
        summary={
            **{f"count_{c}": n for c, n in counts.items()},
            "verdict": "breaks",
            "orders_considered": 533,
            "payments_considered": 560,
            "breaks": len(active),
        },
        categories=categories,
        currencies=totals,
        lifecycle={"new": len(active), "persisting": 0, "resolved": 1},
        top_breaks=_staged(breaks).largest(render.TOP_BREAKS, "lifecycle <> 'resolved'"),
        watermarks={"orders_max_updated_at": as_of, "payments_max_updated_at": as_of},
    )


def _staged(breaks: pa.Table) -> StagedBreaks:
    """The breaks as the report asks for them: a relation on a DuckDB connection (breaks.py)."""
    conn = duckdb.connect()
    conn.register("breaks_under_test", breaks)
    return StagedBreaks(conn, "breaks_under_test")


def _html(breaks=None, trend=None) -> str:
    breaks = _breaks() if breaks is None else breaks
    document = _document(breaks)
    return page.summary_html(document, _staged(breaks), trend or page.trend_points(document, [])).decode()


def _section(html: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}">(.*?)</section>', html, re.S)
    assert match, section_id
    return match.group(1)


def test_every_category_is_explained_on_the_page():
    categories = _section(_html(), "categories")
    for category in CATEGORIES:
        row = re.search(rf'<tr id="category-{category}">(.*?)</tr>', categories, re.S)
        assert row, category
        for part in (GUIDE[category].happened, GUIDE[category].who_acts, GUIDE[category].to_do):
            assert part.replace("'", "&#39;") in row.group(1)


def test_money_is_one_row_per_currency():
    money = _section(_html(), "money")
    rows = re.findall(r"<tr><td>([A-Z]{3})</td>(.*?)</tr>", money, re.S)
    assert [c for c, _ in rows] == ["EUR", "JPY", "USD"]
    usd = dict(rows)["USD"]
    # USD break amount: 1 + 2 + … + 30 (duplicates) + 1.00 (mismatch) = 466.00, with a separator
    assert "466.00" in usd and "1,000.00" in usd


def test_open_breaks_are_grouped_by_category_with_the_largest_first_and_the_rest_in_the_csv():
    breaks = _section(_html(), "breaks")
    groups = re.findall(r'<details class="break-group" id="breaks-([a-z_]+)">(.*?)</details>', breaks, re.S)
    assert [g for g, _ in groups] == ["currency_mismatch", "missing_payment", "duplicate_charge", "resolved"]
    assert [g for g, _ in groups][:-1] == [c for c in BREAK_CATEGORIES if c in dict(groups)]
    duplicates = dict(groups)["duplicate_charge"]
    shown = re.findall(r'<td class="id">order:(\d+)', duplicates)
    assert len(shown) == page.BREAKS_PER_CATEGORY
    assert shown == [
        str(i) for i in range(30, 30 - page.BREAKS_PER_CATEGORY, -1)
    ]  # largest |difference| first
    assert "largest of 30" in duplicates and 'href="breaks.csv"' in duplicates
    assert "USD 465.00" in duplicates  # Σ|difference| of the 30 duplicate charges
    missing = dict(groups)["missing_payment"]
    assert "EUR 5.50" in missing and "JPY 1,200.00" in missing  # per currency, never summed
    assert "1,205.50" not in missing and "largest of" not in missing
    assert "payments</span> pay_40a; pay_40b" in missing and "customer</span> 140" in missing
    mismatch = dict(groups)["currency_mismatch"]
    assert "paid in</span> EUR; USD" in mismatch
    resolved = dict(groups)["resolved"]
    assert "was</span> underpaid" in resolved and "order:60" in resolved


def test_item_keys_are_escaped():
    html = _html()
    assert "<script>" not in html
    assert "order:&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_page_is_self_contained():
    html = _html()
    assert "<script" not in html and "<link" not in html and "@import" not in html and "url(" not in html
    assert not re.search(r"\ssrc=", html)
    links = set(re.findall(r'href="([^"]+)"', html))
    assert links == {"breaks.csv", "breaks.parquet", "summary.json", "manifest.json"}
    assert re.findall(r'xmlns="([^"]+)"', html) == ["http://www.w3.org/2000/svg"] * len(
        re.findall(r"<svg", html)
    )


def test_the_same_inputs_give_the_same_bytes():
    assert _html().encode() == _html().encode()


def test_no_breaks_says_so():
    empty = BREAKS_SCHEMA.empty_table()
    html = _html(breaks=empty)
    assert "No open breaks." in _section(html, "breaks")


def _publish(store: LocalReportStore, as_of: datetime, run_id: str, usd_breaks: int) -> None:
    breaks = pa.Table.from_pylist(
        [_break(i, "underpaid", "USD", "-2.00") for i in range(usd_breaks)], schema=BREAKS_SCHEMA
    )
    document = _document(breaks, as_of)
    previous = previous_run(store, as_of)
    publish(
        store,
        run_id=run_id,
        as_of=as_of,
        artifacts=[render.Artifact("summary.json", render.summary_json(document), "application/json")],
        manifest_fields={
            "breaks": document["breaks"],
            "totals_by_currency": document["totals_by_currency"],
            "verdict": "breaks",
        },
        run_ended_at=as_of + timedelta(minutes=1),
        previous=previous,
    )


def test_trend_has_one_point_per_earlier_as_of_then_this_run(tmp_path):
    store = LocalReportStore(tmp_path)
    for hour, run_id, n in ((14, "r1", 1), (15, "r2", 2), (15, "r2-rerun", 3), (16, "r3", 4)):
        _publish(store, AS_OF.replace(hour=hour), run_id, n)
    # This run (as of 18:00), rerun twice: each time the trend is the same three earlier points.
    pages = []
    for _ in range(2):
        previous = previous_run(store, AS_OF)
        earlier = earlier_runs(store, previous, page.TREND_RUNS - 1)
        assert [r.run_id for r in earlier] == ["r3", "r2-rerun", "r1"]  # newest publication per as_of
        breaks = _breaks()
        document = _document(breaks)
        points = page.trend_points(document, earlier)
        assert [p.as_of[11:16] for p in points] == ["14:00", "15:00", "16:00", "18:00"]
        assert [p.breaks for p in points] == [1, 3, 4, document["breaks"]]
        assert points[1].break_amount["USD"] == Decimal("6.00")
        pages.append(page.summary_html(document, _staged(breaks), points))
        _publish(store, AS_OF, "this-run", 5)
    assert pages[0] == pages[1]
    assert latest_run(store).run_id == "this-run"
    trend = _section(pages[0].decode(), "trend")
    assert trend.count("<svg") == 4  # open breaks, then EUR, JPY and USD on their own scales
    assert "Break amount, JPY" in trend and "Trend of the last 4 runs" in pages[0].decode()


def test_trend_keeps_at_most_twelve_runs(tmp_path):
    store = LocalReportStore(tmp_path)
    for i in range(15):
        _publish(store, AS_OF - timedelta(hours=20 - i), f"r{i}", 1)
    earlier = earlier_runs(store, previous_run(store, AS_OF), page.TREND_RUNS - 1)
    points = page.trend_points(_document(_breaks()), earlier)
    assert len(points) == page.TREND_RUNS
    assert points[0].as_of == render.iso(AS_OF - timedelta(hours=20 - 4))
