"""`finance-recon run`: materialize the whole graph in-process against the configured sources."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal

# `finance_recon.reconciliation.parameters` imports Dagster: it is imported where it is used, so
# that building the parser (`finance-recon --help`, `finance-recon run --help`) stays light.


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the reconciliation once (extract, check, reconcile, publish) and print the summary",
        description="Materialize orders → payments → dbt models → finance_reconciliation_report in-process. "
        "Exit 0 when the report was published (whatever its verdict), 1 with a one-line cause otherwise.",
    )
    parser.add_argument("--as-of", help="cut-off, ISO-8601 with offset (default: the run's start)")
    parser.add_argument(
        "--tolerance", type=_tolerance, help="τ, decimal (default FINANCE_RECON_TOLERANCE or 0.00)"
    )
    parser.add_argument(
        "--grace-minutes", type=int, help="G in minutes (default FINANCE_RECON_GRACE_MINUTES or 60)"
    )
    parser.add_argument("--full-refresh", action="store_true", help="re-read both sources entirely")
    parser.add_argument("--json", action="store_true", help="print the outcome and manifest as JSON")
    parser.set_defaults(handler=handle)


def _tolerance(text: str) -> Decimal:
    from finance_recon.reconciliation.parameters import ParameterError, parse_tolerance

    try:
        return parse_tolerance(text)
    except ParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def handle(args: argparse.Namespace) -> int:
    from finance_recon.cli.pipeline import RunRequestOptions, execute, format_summary
    from finance_recon.reconciliation.parameters import ParameterError, parse_as_of
    from finance_recon.settings import load_settings

    if args.as_of:
        try:
            parse_as_of(args.as_of)
        except ParameterError as exc:
            print(f"finance-recon run: {exc}", file=sys.stderr)
            return 2
    options = RunRequestOptions(
        as_of=args.as_of,
        tolerance=args.tolerance,
        grace_minutes=args.grace_minutes,
        full_refresh=args.full_refresh,
    )
    outcome = execute(options, load_settings())
    if args.json:
        print(outcome.as_json())
    elif outcome.success:
        print(format_summary(outcome.manifest))
        print(f"report           {outcome.report_url}")
    if not outcome.success:
        print(f"finance-recon run: FAILED ({outcome.run_id}): {outcome.cause}", file=sys.stderr)
        return 1
    return 0
