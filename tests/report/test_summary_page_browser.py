"""summary.html in a real browser: Debian's headless Chromium (driven by Playwright, no downloaded
browser) opens the page two real runs of a three-currency shop published, finds its sections and
figures, opens a break group, checks that nothing scrolls sideways in a 1000-px window and that the
page asks for nothing outside itself. A screenshot is kept in artifacts/summary-page.png."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from finance_recon.cli.pipeline import RunRequestOptions, execute
from finance_recon.contracts import BREAK_CATEGORIES, CATEGORIES
from finance_recon.demo.seed import seed_shop
from finance_recon.reconciliation.parameters import format_ts
from finance_recon.report import page as report_page
from finance_recon.report.store import LocalReportStore
from tests.services import missing
from tests.shops import ANCHOR, CURRENCIES, embedded_deployment, three_currency_shop

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[2] / "artifacts" / "summary-page.png"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Two published runs (as of ANCHOR − 2 h, then ANCHOR): the page of the second, its manifest."""
    home: Path = tmp_path_factory.mktemp("summary_page")
    with pytest.MonkeyPatch.context() as mp:
        settings = embedded_deployment(mp, home)
        seed_shop(three_currency_shop(), settings.orders_url, settings.payments_url)
        first = execute(
            RunRequestOptions(as_of=format_ts(ANCHOR - timedelta(hours=2)), full_refresh=True), settings
        )
        assert first.success, first.cause
        run = execute(RunRequestOptions(as_of=format_ts(ANCHOR)), settings)
        assert run.success, run.cause
        store = LocalReportStore(settings.reports_uri)
        key = next(f["key"] for f in run.manifest["files"] if f["name"] == "summary.html")
        summary = json.loads(
            store.get(next(f["key"] for f in run.manifest["files"] if f["name"] == "summary.json"))
        )
        yield store.root / key, run.manifest, summary


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} not found: run scripts/install-system-deps.sh (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def opened(browser, published):
    path, manifest, summary = published
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(path.as_uri())
    try:
        yield page, requested, path, manifest, summary
    finally:
        context.close()


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_the_page_shows_the_run_with_money_per_currency(opened):
    page, requested, path, manifest, summary = opened
    assert page.title() == f"Finance reconciliation — {manifest['as_of']}"
    assert page.locator("#verdict").inner_text() == manifest["verdict"]
    headings = page.locator("h2").all_inner_texts()
    assert headings == [
        "Overview",
        "Money per currency",
        "Trend of the last 2 runs",
        "Categories",
        "Open breaks",
    ]
    rows = page.locator("#money tbody tr")
    assert rows.count() == len(CURRENCIES)
    for i, totals in enumerate(manifest["totals_by_currency"]):
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert cells[0] == totals["currency"]
        assert [Decimal(c.replace(",", "")) for c in (cells[2], cells[3], cells[5])] == [
            Decimal(totals[k]) for k in ("total_expected", "total_net", "break_amount")
        ]
        assert int(cells[4].replace(",", "")) == totals["break_count"]
    assert requested == [path.as_uri()]  # one file: no script, stylesheet, font or image fetched


def test_every_category_is_explained(opened):
    page, *_ = opened
    rows = page.locator("#categories > table tbody tr")
    assert rows.count() == len(CATEGORIES)
    for i, category in enumerate(CATEGORIES):
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert cells[0] == category
        assert all(cell.strip() for cell in cells[2:5]), category


def test_the_trend_charts_the_last_runs(opened):
    page, _, _, manifest, _ = opened
    charts = page.locator("#trend svg")
    assert charts.count() == 1 + len(CURRENCIES)  # open breaks, then each currency on its own scale
    assert page.locator("#trend h3").all_inner_texts() == ["Open breaks"] + [
        f"Break amount, {c}" for c in sorted(CURRENCIES)
    ]
    bars = charts.nth(0).locator("rect")
    assert bars.count() == 2
    assert (
        charts.nth(0).locator("g").nth(1).locator("title").text_content().endswith(f"{manifest['breaks']:,}")
    )
    assert charts.nth(0).bounding_box()["width"] <= 1000


def test_breaks_are_grouped_and_open_on_click_without_sideways_scrolling(opened):
    page, _, _, _, summary = opened
    open_categories = [c for c in BREAK_CATEGORIES if summary["counts"][c]]
    groups = page.locator("#breaks details.break-group:not(#breaks-resolved)")
    assert [groups.nth(i).get_attribute("id") for i in range(groups.count())] == [
        f"breaks-{c}" for c in open_categories
    ]
    assert _fits(page)
    first = page.locator(f"#breaks-{open_categories[0]}")
    table = first.locator("table.breaks")
    assert not table.is_visible()  # collapsed until asked
    first.locator("summary").click()
    assert table.is_visible()
    expected_rows = min(summary["counts"][open_categories[0]], report_page.BREAKS_PER_CATEGORY)
    assert table.locator("tbody tr").count() == expected_rows
    # Every group open at once still fits the window.
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert _fits(page)
    shown = sum(page.locator(f"#breaks-{c} tbody tr").count() for c in open_categories)
    assert shown == sum(min(summary["counts"][c], report_page.BREAKS_PER_CATEGORY) for c in open_categories)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000


def test_a_full_trend_has_readable_axis_labels_and_a_calm_current_bar(browser, tmp_path):
    """Issue 25: with twelve runs minutes apart the axis labels overlapped and the outer ones were cut
    off at the chart's edge, and this run's bar was red (read as an alarm). Every label of a chart
    stays inside it and clear of its neighbours, in a narrow window too; this run's bar is not red."""
    from datetime import UTC, datetime

    from tests.report.test_page import _html

    start = datetime(2026, 12, 7, 2, 41, 11, tzinfo=UTC)
    trend = [
        report_page.TrendPoint(
            as_of=format_ts(start + timedelta(seconds=40 * i)),
            breaks=1000 + 37 * i,
            break_amount={"JPY": Decimal("1234567.00") + i, "USD": Decimal("98765.43") - i},
        )
        for i in range(report_page.TREND_RUNS)
    ]
    path = tmp_path / "summary.html"
    path.write_text(_html(trend=trend))
    for width in (1000, 640):
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        page.goto(path.as_uri())
        charts = page.locator("#trend svg")
        assert charts.count() == 3
        for i in range(charts.count()):
            boxes = charts.nth(i).evaluate(
                """svg => {
                    const frame = svg.getBoundingClientRect();
                    const box = t => { const r = t.getBoundingClientRect();
                                       return {left: r.left, right: r.right, top: r.top, bottom: r.bottom,
                                               text: t.textContent, y: t.getAttribute('y')}; };
                    return {frame: box(svg), texts: [...svg.querySelectorAll('text')].map(box)};
                }"""
            )
            frame, texts = boxes["frame"], boxes["texts"]
            assert len(texts) >= 2 * report_page.TREND_RUNS
            for t in texts:  # nothing cut off at the chart's edges
                assert frame["left"] <= t["left"] and t["right"] <= frame["right"], (width, t, frame)
                assert frame["top"] <= t["top"] and t["bottom"] <= frame["bottom"] + 0.5, (width, t, frame)
            rows: dict[str, list[dict]] = {}
            for t in texts:  # labels on one line (same y attribute) never overlap each other
                rows.setdefault(t["y"], []).append(t)
            for row in rows.values():
                row.sort(key=lambda t: t["left"])
                for a, b in zip(row, row[1:], strict=False):
                    assert a["right"] + 2 <= b["left"], (width, a, b)  # a visible gap
        fills = (
            page.locator("#trend svg")
            .first.locator("rect")
            .evaluate_all("rects => rects.map(r => getComputedStyle(r).fill)")
        )
        assert len(fills) == report_page.TREND_RUNS
        assert fills[-1] != fills[0]  # this run stands out …
        red, green, blue = (int(c) for c in fills[-1][4:-1].split(","))
        assert not (red > 150 and green < 100 and blue < 100), fills[-1]  # … but not in alarm red
        if width == 1000:
            page.locator("#trend").screenshot(path=str(SCREENSHOT.with_name("summary-trend.png")))
        context.close()
