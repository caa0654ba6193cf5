"""`finance-recon report`: the latest (or a given) published run, read from the report store."""

from __future__ import annotations

import argparse
import json

from finance_recon.cli.arguments import positive_int


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="show the latest (or a given) published report, its links and the trend of the last runs",
        description="Reads the published report store (FINANCE_RECON_REPORTS_URI: a folder or s3://bucket/prefix), "
        "never the warehouse. Money is shown per currency; runs published before per-currency totals are shown "
        "as 'totals not split by currency'. On S3 the links are presigned HTTPS links valid "
        "FINANCE_RECON_REPORT_LINK_EXPIRY seconds (default and maximum 7 days).",
    )
    parser.add_argument("--run", metavar="ID", help="a published run id (default: the one latest.json names)")
    parser.add_argument(
        "--last",
        metavar="N",
        type=positive_int,
        default=5,
        help="runs in the trend, an integer ≥ 1 (default 5)",
    )
    parser.add_argument("--closes", action="store_true", help="list the published daily closes instead")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.set_defaults(handler=handle)


def open_store(settings):
    """The store named by the settings; S3 through dagster-aws (`ReportStoreResource`)."""
    from finance_recon.report.resources import ReportStoreResource

    return ReportStoreResource(uri=settings.reports_uri, s3_endpoint_url=settings.s3_endpoint_url).open()


def handle(args: argparse.Namespace) -> int:
    from finance_recon.cli.arguments import fail
    from finance_recon.report import reader
    from finance_recon.settings import load_settings

    settings = load_settings()
    store = open_store(settings)
    try:
        if args.closes:
            closes = reader.closes(store)
            if args.json:
                print(json.dumps({"closes": closes}, indent=2))
            else:
                print(_closes_text(closes, store.uri))
            return 0
        run = reader.find_run(store, args.run)
        document = reader.summary(store, run, args.last, settings.report_link_expiry_seconds)
    except reader.ReaderError as exc:
        return fail("finance-recon report", str(exc), 1)
    except reader.StoreError as exc:
        return fail("finance-recon report", f"report store unreadable: {exc}", 1)
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        print(summary_text(document))
    return 0


def _closes_text(closes: list[dict], uri: str) -> str:
    if not closes:
        return f"no daily close published in {uri}"
    lines = [f"{'date':<12}{'as_of':<22}{'verdict':<26}{'breaks':>7}  run"]
    for c in closes:
        lines.append(
            f"{c['date']:<12}{c['as_of'] or '':<22}{c['verdict'] or '':<26}{c['breaks'] or 0:>7}  {c['run_id']}"
        )
    return "\n".join(lines)


def summary_text(doc: dict) -> str:
    lines = [
        f"run {doc['run_id']}  as_of {doc['as_of']}  verdict {doc['verdict']}  breaks {doc['breaks']}",
    ]
    counts = {k: v for k, v in (doc.get("counts") or {}).items() if v}
    if counts:
        lines.append("counts: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if doc.get("totals_by_currency") is not None:
        lines.append(
            f"{'currency':<10}{'expected':>18}{'net':>18}{'break amount':>18}{'breaks':>8}{'items':>8}"
        )
        for t in doc["totals_by_currency"]:
            lines.append(
                f"{t['currency']:<10}{t['total_expected']:>18}{t['total_net']:>18}{t['break_amount']:>18}"
                f"{t['break_count']:>8}{t['item_count']:>8}"
            )
    else:
        lines.append(doc.get("totals_note", "totals not split by currency"))
    lines.append("trend (oldest first):")
    for r in doc["trend"]:
        amounts = (
            ", ".join(f"{c['currency']} {c['break_amount']} ({c['break_count']})" for c in r["by_currency"])
            if r["by_currency"] is not None
            else r.get("note", "")
        )
        lines.append(f"  {r['as_of']}  breaks {r['breaks']:>5}  {amounts}")
    expiry = doc.get("links_expire_at")
    lines.append("links" + (f" (valid until {expiry})" if expiry else "") + ":")
    for link in doc["links"]:
        lines.append(f"  {link['name']:<15} {link['link']}")
        if link["uri"] != link["link"]:
            lines.append(f"  {'':<15} {link['uri']}")
    return "\n".join(lines)
