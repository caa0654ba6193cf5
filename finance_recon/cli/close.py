"""`finance-recon close`: the daily close of one day, or a backfill of a range (one run per day, in order)."""

from __future__ import annotations

import argparse
import json
from datetime import date, timedelta


def day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is invalid: expected a date YYYY-MM-DD") from None


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "close",
        help="publish the daily close of a day (--date) or backfill a range (--from/--to), under close/dt=D/",
        description="A close of day D reconciles with as_of = the end of D in FINANCE_RECON_CLOSE_TIMEZONE "
        "(default UTC), on its own warehouse file, and publishes under close/dt=D/ with close/latest.json. "
        "The rolling report and its latest.json are left alone.",
    )
    parser.add_argument("--date", type=day, metavar="D", help="the day to close, YYYY-MM-DD")
    parser.add_argument("--from", dest="start", type=day, metavar="D1", help="first day of a backfill")
    parser.add_argument("--to", dest="end", type=day, metavar="D2", help="last day of a backfill (inclusive)")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.set_defaults(handler=handle)


def days(args: argparse.Namespace) -> list[date] | str:
    if args.date and (args.start or args.end):
        return "--date cannot be combined with --from/--to"
    if args.date:
        return [args.date]
    if not (args.start and args.end):
        return "expected --date D, or both --from D1 and --to D2"
    if args.end < args.start:
        return f"--to {args.end} is before --from {args.start}"
    return [args.start + timedelta(days=i) for i in range((args.end - args.start).days + 1)]


def handle(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from finance_recon.cli.arguments import EXIT_USAGE, fail
    from finance_recon.settings import load_settings

    prog = "finance-recon close"
    wanted = days(args)
    if isinstance(wanted, str):
        return fail(prog, wanted, EXIT_USAGE)
    settings = load_settings()
    from finance_recon.report.close import cutoff

    late = [d for d in wanted if cutoff(d, settings.close_timezone) > datetime.now(UTC)]
    if late:
        return fail(
            prog,
            f"--date {late[0]} is not over yet in {settings.close_timezone}: a close needs its cut-off passed",
            EXIT_USAGE,
        )
    from finance_recon.cli.output import run_with_output
    from finance_recon.cli.pipeline import execute

    def runner(options, staged_settings):
        # dbt and Dagster write to descriptors 1/2: routed to the log file, as for `finance-recon run`.
        outcome, _log = run_with_output(
            "close",
            staged_settings,
            verbose=False,
            json_mode=args.json,
            work=lambda console, reporter: execute(options, staged_settings, on_event=reporter),
        )
        return outcome

    results = run_closes(settings, wanted, runner)
    if args.json:
        print(json.dumps({"closes": results}, indent=2))
    else:
        for r in results:
            print(
                f"close {r['date']}  as_of {r.get('as_of', '')}  {r['outcome']}  {r.get('manifest_key') or r.get('cause')}"
            )
    return 0 if all(r["outcome"] == "published" for r in results) else 1


def run_closes(settings, wanted: list[date], runner=None) -> list[dict]:
    """One run per day, in order; stops at the first failed day (later days would close on a gap)."""
    from finance_recon.cli.pipeline import RunRequestOptions, execute
    from finance_recon.cli.report import open_store
    from finance_recon.reconciliation.parameters import format_ts
    from finance_recon.report.close import close_settings, cutoff, publish_close
    from finance_recon.report.history import latest_run
    from finance_recon.report.store import LocalReportStore

    staged_settings = close_settings(settings)
    staging = LocalReportStore(staged_settings.reports_uri)
    store = open_store(settings)
    results = []
    for d in wanted:
        as_of = format_ts(cutoff(d, settings.close_timezone))
        options = RunRequestOptions(as_of=as_of)
        outcome = runner(options, staged_settings) if runner else execute(options, staged_settings)
        if not outcome.success:
            results.append(
                {"date": d.isoformat(), "as_of": as_of, "outcome": "failed", "cause": outcome.cause}
            )
            break
        staged = latest_run(staging)
        manifest = publish_close(store, staging, staged.manifest_key, d, settings.close_timezone)
        results.append(
            {
                "date": d.isoformat(),
                "as_of": manifest["as_of"],
                "outcome": "published",
                "run_id": manifest["run_id"],
                "manifest_key": f"close/dt={d.isoformat()}/manifest.json",
            }
        )
    return results
