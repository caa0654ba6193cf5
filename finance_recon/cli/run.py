"""`finance-recon run`: materialize the whole graph in-process against the configured sources."""

from __future__ import annotations

import argparse

from finance_recon.cli import arguments

# `finance_recon.reconciliation.parameters` imports Dagster: it is imported where it is used, so
# that building the parser (`finance-recon --help`, `finance-recon run --help`) stays light.


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the reconciliation once (extract, check, reconcile, publish) and print the summary",
        description="Materialize orders → payments → dbt models → finance_reconciliation_report in-process. "
        "Exit 0 when the report was published (whatever its verdict), 1 with a one-line cause when the run "
        "failed, 2 (before any work) on a bad flag, a bad setting or a missing prerequisite.",
    )
    parser.add_argument(
        "--as-of",
        type=arguments.as_of,
        help="cut-off, ISO-8601 with offset, not in the future (default: the run's start)",
    )
    parser.add_argument(
        "--tolerance",
        type=arguments.tolerance,
        help="τ, decimal ≥ 0 with at most 2 places (default FINANCE_RECON_TOLERANCE or 0.00)",
    )
    parser.add_argument(
        "--grace-minutes",
        type=arguments.grace_minutes,
        help="G, whole minutes ≥ 0 (default FINANCE_RECON_GRACE_MINUTES or 60)",
    )
    parser.add_argument("--full-refresh", action="store_true", help="re-read both sources entirely")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print only the outcome and manifest, as one JSON document on stdout (stage lines on stderr)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also show dbt's and Dagster's logs (on stderr)"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from finance_recon.cli.output import print_failure, print_outcome, run_with_output
    from finance_recon.cli.pipeline import RunRequestOptions, execute
    from finance_recon.cli.preflight import check_run
    from finance_recon.settings import load_settings

    settings = load_settings()
    check_run(settings)
    options = RunRequestOptions(
        as_of=args.as_of,
        tolerance=args.tolerance,
        grace_minutes=args.grace_minutes,
        full_refresh=args.full_refresh,
        # Dagster's own lines go to the log file (the terminal only with -v): INFO is worth keeping.
        log_level="DEBUG" if args.verbose else "INFO",
    )
    outcome, log_path = run_with_output(
        "run",
        settings,
        verbose=args.verbose,
        json_mode=args.json,
        work=lambda console, reporter: execute(options, settings, on_event=reporter),
    )
    outcome.log_file = str(log_path)
    if args.json:
        print(outcome.as_json())
    elif outcome.success:
        print_outcome(outcome)
    if not outcome.success:
        print_failure("run", outcome, log_path)
        return 1
    return 0
