"""`finance-recon close`: the daily close of one day, or a backfill of a range (one run per day, in order).

Each day is a run of the close job for that day's partition on this deployment's Dagster instance,
exactly as the UI launches it, recorded as a materialization of that partition of the
`finance_reconciliation_close` asset: the UI lists the closed days whichever way they were closed.
The job runs `finance-recon close --pipes --date D`, the worker that does the close
(report/close.py) and reports back through Dagster Pipes.
"""

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
    # The worker side of the close job (report/close_asset.py): run by Dagster Pipes, not by people.
    parser.add_argument("--pipes", action="store_true", help=argparse.SUPPRESS)
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
    from finance_recon.report.close import cutoff
    from finance_recon.settings import load_settings

    prog = "finance-recon close"
    wanted = days(args)
    if isinstance(wanted, str):
        return fail(prog, wanted, EXIT_USAGE)
    settings = load_settings()
    late = [d for d in wanted if cutoff(d, settings.close_timezone) > datetime.now(UTC)]
    if late:
        return fail(
            prog,
            f"--date {late[0]} is not over yet in {settings.close_timezone}: a close needs its cut-off passed",
            EXIT_USAGE,
        )
    early = [d for d in wanted if d < settings.close_start_date]
    if early:
        return fail(
            prog,
            f"--date {early[0]} is before FINANCE_RECON_CLOSE_START_DATE ({settings.close_start_date}), "
            "the first day the close asset has a partition for",
            EXIT_USAGE,
        )
    if args.pipes:
        return _pipes_worker(settings, wanted[0])

    results = run_closes(settings, wanted, json_mode=args.json)
    if args.json:
        print(json.dumps({"closes": results}, indent=2))
    else:
        for r in results:
            print("\n".join(describe(r)))
    return 0 if all(r["outcome"] == "published" for r in results) else 1


def describe(result: dict) -> list[str]:
    """What one day's close says on the terminal: its outcome, the counts it closed (per category,
    `*` a break, as `finance-recon report` marks them) and its money per currency, and the link to
    its summary page (or, failed, the cause in one line)."""
    from finance_recon.contracts import BREAK_CATEGORIES, CATEGORIES

    head = f"close {result['date']}  as_of {result.get('as_of', '')}  {result['outcome']}"
    if result["outcome"] != "published":
        return [f"{head}  {result.get('cause', '')}"]
    counts = result.get("counts") or {}
    lines = [
        f"{head}  verdict {result.get('verdict')}",
        f"  items    {sum(counts.values())}, breaks {result.get('breaks')}",
        "  counts   "
        + ", ".join(f"{c}{' *' if c in BREAK_CATEGORIES else ''} {counts.get(c, 0)}" for c in CATEGORIES),
    ]
    # One line per currency, never a sum across them.
    lines += [
        f"  {t['currency']:<8} expected {t['total_expected']}  net {t['total_net']}  "
        f"breaks {t['break_count']}  break amount {t['break_amount']}"
        for t in result.get("totals_by_currency") or []
    ]
    lines.append(f"  report   {result.get('report_url') or result.get('manifest_key')}")
    return lines


def run_closes(settings, wanted: list[date], json_mode: bool = True) -> list[dict]:
    """Materialize the close partition of each day, in order; stops at the first failed day (later
    days would close on a gap)."""
    from finance_recon.cli.output import run_with_output

    results = []
    for d in wanted:
        # Dagster's and dbt's output go to the log file, as for `finance-recon run`.
        result, _log = run_with_output(
            "close",
            settings,
            verbose=False,
            json_mode=json_mode,
            work=lambda _c, _r, d=d: _materialize(settings, d),
        )
        results.append(result)
        if result["outcome"] != "published":
            break
    return results


def _materialize(settings, d: date) -> dict:
    """One run of the close job for partition `d` on this deployment's instance."""
    from dagster import DagsterInstance

    from finance_recon.definitions import build_definitions
    from finance_recon.names import CLOSE_JOB_NAME
    from finance_recon.reconciliation.parameters import format_ts
    from finance_recon.report.close import cutoff
    from finance_recon.runs.facts import run_failure
    from finance_recon.settings import ensure_dagster_home

    ensure_dagster_home(settings)
    job = build_definitions(settings).resolve_job_def(CLOSE_JOB_NAME)
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, partition_key=d.isoformat(), raise_on_error=False)
    if result.success:
        events = result.get_asset_materialization_events()
        return {**events[-1].materialization.metadata["close"].value, "dagster_run_id": result.run_id}
    failure = run_failure(result.all_events)
    return {
        "date": d.isoformat(),
        "as_of": format_ts(cutoff(d, settings.close_timezone)),
        "outcome": "failed",
        "cause": failure.cause if failure else "the close run failed",
        "dagster_run_id": result.run_id,
    }


def _pipes_worker(settings, d: date) -> int:
    """The close of `d`, reported to the close job's step that started this process. Exits 0
    whenever it could report a result (the step turns a failed close into a Failure naming its
    cause)."""
    import os

    from dagster_pipes import open_dagster_pipes

    from finance_recon.cli.output import run_with_output
    from finance_recon.cli.pipeline import RunRequestOptions, execute
    from finance_recon.cli.report import open_store
    from finance_recon.names import CLOSE_KEY
    from finance_recon.report.close import CLOSE_PREFIX, close_day, one_close_at_a_time

    def runner(as_of: str, close_settings):
        # The close's own instance: its reconciliation run never counts as the rolling report's.
        os.environ["DAGSTER_HOME"] = str(close_settings.dagster_home)
        options = RunRequestOptions(as_of=as_of)
        outcome, _log = run_with_output(
            "close",
            close_settings,
            verbose=False,
            json_mode=False,
            work=lambda _console, reporter: execute(options, close_settings, on_event=reporter),
        )
        return outcome

    with open_dagster_pipes() as pipes, one_close_at_a_time(settings, on_wait=pipes.log.info):
        store = open_store(settings)
        result = close_day(settings, store, d, runner)
        pipes.report_custom_message(result)
        if result["outcome"] == "published":
            page = f"{CLOSE_PREFIX}dt={d.isoformat()}/summary.html"
            # Named: the close job's step is an op, which targets no asset of its own.
            pipes.report_asset_materialization(
                asset_key=CLOSE_KEY.to_user_string(),
                metadata={
                    "as_of": result["as_of"],
                    "verdict": result["verdict"] or "",
                    "breaks": result["breaks"] or 0,
                    "close_run_id": result["run_id"],
                    "manifest_key": result["manifest_key"],
                    "report": {"raw_value": store.url_for(page), "type": "url"},
                    "totals_by_currency": {"raw_value": result["totals_by_currency"], "type": "json"},
                    "close": {"raw_value": result, "type": "json"},
                },
            )
    return 0
