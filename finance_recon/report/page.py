"""summary.html: the page Finance reads, rendered with Jinja2 from `templates/summary.html.j2`.

One self-contained file (inline CSS and SVG, no script, no external asset; its only links are the
run's files: its siblings, or for breaks reused from an earlier run (`reuse.py`) that run's files,
by a relative path from the page's own key). It explains each category (`guide.py`), shows money per currency (never summed
across currencies), a trend of the last runs, and every open break grouped by category in collapsible
sections: the largest `BREAKS_PER_CATEGORY` of each, the rest in breaks.csv.

A pure function of the run's data and the runs published before it, like every artifact
(`render.py`): the same inputs give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from finance_recon.contracts import BREAK_CATEGORIES, CATEGORIES
from finance_recon.report.breaks import StagedBreaks
from finance_recon.report.guide import GUIDE
from finance_recon.report.history import PublishedRun

BREAKS_PER_CATEGORY = 25
TREND_RUNS = 12  # points on the trend: this run and up to 11 before it

_VERDICT_COLOURS = {"reconciled": "#1b7f3b", "reconciled_with_pending": "#975a16", "breaks": "#c53030"}

_environment = Environment(
    loader=PackageLoader("finance_recon.report", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def amount(value: Any) -> str:
    """A decimal with thousands separators, exact (never through a float); '' for none."""
    return "" if value is None else f"{Decimal(str(value)):,}"


_environment.filters["amount"] = amount


@dataclass(frozen=True)
class TrendPoint:
    as_of: str
    breaks: int
    break_amount: dict[str, Decimal] | None  # per currency; None for a run published before the split


def trend_points(document: dict[str, Any], earlier: list[PublishedRun]) -> list[TrendPoint]:
    """Oldest first: the runs published before this one (`history.earlier_runs`, at most
    `TREND_RUNS - 1`), then this run."""
    points = [
        TrendPoint(
            as_of=run.manifest["as_of"],
            breaks=int(run.manifest.get("breaks", 0)),
            break_amount=(
                {t["currency"]: Decimal(t["break_amount"]) for t in run.manifest["totals_by_currency"]}
                if "totals_by_currency" in run.manifest
                else None
            ),
        )
        for run in reversed(earlier)
    ]
    points.append(
        TrendPoint(
            as_of=document["as_of"],
            breaks=int(document["breaks"]),
            break_amount={t["currency"]: Decimal(t["break_amount"]) for t in document["totals_by_currency"]},
        )
    )
    return points


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    label: str  # the exact value, shown above the bar and in its tooltip
    label_y: int  # where the label sits: neighbours too wide for one row alternate between two
    tick: str  # the run's time (UTC), under the bar
    tick_date: str  # its date (MM-DD) on a second line: under the first bar and where the day changes
    title: str
    current: bool  # this run (the last bar): drawn in the accent colour, not in an alarm colour


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]
    width: int
    height: int
    baseline: int


# The plot area (_PLOT_W wide) sits between side margins, so a label wider than its bar's slot at
# either end is never cut off; the top holds two rows of value labels, the bottom two of time/date.
_PLOT_W, _SIDE, _CHART_H, _TOP, _BOTTOM = 900, 40, 170, 34, 40
_LABEL_PX = {10: 6.2}  # a generous width of one character (digits, ',', '.') at font-size 10
_VALUE_FONT = 10


def _text_width(text: str) -> float:
    return len(text) * _LABEL_PX[_VALUE_FONT]


def _chart(title: str, values: list[tuple[str, Decimal | None]], unit: str) -> Chart | None:
    """Bars of one quantity over the runs, scaled to its own maximum (SVG geometry only; the labels
    carry the exact values). Runs without a value (published before the quantity existed) get no bar."""
    if not any(v is not None for _, v in values):
        return None
    widest = max((v for _, v in values if v is not None), default=Decimal(0)) or Decimal(1)
    slot = _PLOT_W // max(len(values), 1)
    width = max(8, min(60, slot - 12))
    room = _CHART_H - _TOP - _BOTTOM
    labels = [
        "n/a" if value is None else (f"{value:,}" if unit == "count" else amount(value))
        for _, value in values
    ]
    # Labels that would touch their neighbours' (4 px apart at least) alternate between two rows.
    stagger = max(_text_width(label) for label in labels) + 4 > slot
    times = [as_of[11:16] for as_of, _ in values]  # HH:MM (UTC)
    if len(set(zip(times, (a[:10] for a, _ in values), strict=True))) < len(times):
        times = [as_of[11:19] for as_of, _ in values]  # runs minutes apart: to the second
    bars = []
    previous_date = None
    for i, ((as_of, value), label, tick) in enumerate(zip(values, labels, times, strict=True)):
        height = 0 if not value else max(1, int(room * value / widest))
        x = _SIDE + i * slot + (slot - width) // 2
        y = _TOP + room - height
        date = as_of[5:10]
        bars.append(
            Bar(
                x=x,
                y=y,
                width=width,
                height=height,
                label=label,
                label_y=y - 4 - (14 if stagger and (len(values) - 1 - i) % 2 else 0),
                tick=tick,
                tick_date=date if date != previous_date else "",
                title=f"{as_of}: {label}",
                current=i == len(values) - 1,
            )
        )
        previous_date = date
    return Chart(title, bars, _PLOT_W + 2 * _SIDE, _CHART_H, _TOP + room)


def trend_charts(points: list[TrendPoint]) -> list[Chart]:
    """Open breaks per run, then the break amount of each currency on its own scale."""
    charts = [_chart("Open breaks", [(p.as_of, Decimal(p.breaks)) for p in points], "count")]
    currencies = sorted({c for p in points if p.break_amount for c in p.break_amount})
    for currency in currencies:
        values = [
            (p.as_of, None if p.break_amount is None else p.break_amount.get(currency, Decimal(0)))
            for p in points
        ]
        charts.append(_chart(f"Break amount, {currency}", values, "amount"))
    return [c for c in charts if c is not None]


# The page's links to the breaks files when they are its siblings (written by this run).
SIBLING_LINKS = {"breaks.csv": "breaks.csv", "breaks.parquet": "breaks.parquet"}


def summary_html(
    document: dict[str, Any],
    breaks: StagedBreaks,
    trend: list[TrendPoint],
    file_links: dict[str, str] | None = None,
) -> bytes:
    """`file_links`: the href of breaks.csv and breaks.parquet relative to the page (`reuse.py`
    `relative_link`); by default the page's siblings."""
    groups, resolved = breaks.groups(BREAKS_PER_CATEGORY)
    rank = {c: i for i, c in enumerate(CATEGORIES)}
    categories = [
        (c, document["by_category"][c])
        for c in sorted(document["by_category"], key=lambda c: rank.get(c, len(rank)))
    ]
    page = _environment.get_template("summary.html.j2").render(
        doc=document,
        verdict_colour=_VERDICT_COLOURS.get(document["verdict"], "#4a5568"),
        guide=GUIDE,
        break_categories=BREAK_CATEGORIES,
        categories=categories,
        counts=[(c, document["counts"].get(c, 0)) for c in CATEGORIES],
        charts=trend_charts(trend),
        trend_runs=len(trend),
        groups=groups,
        resolved=resolved,
        file_links={**SIBLING_LINKS, **(file_links or {})},
    )
    return page.encode()
