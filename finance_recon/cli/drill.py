"""`finance-recon drill`: runbook §4 automated (see `finance_recon.runbook.drill`)."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "drill",
        help="synthetic SLA drill: hold the job, wait for the breach to be detected, rerun, wait for recovery",
        description="Runbook §4: start from a fresh report, hold the reconciliation (stop its schedule through "
        "the Dagster webserver when --dagster-url is given), wait until the breach is detected (exporter age over "
        "the SLA; the freshness policy FAIL when a FreshnessDaemon runs on this instance; the Prometheus alert "
        "when --prometheus-url is given), run the job, wait for every detector to clear, and print the timeline "
        "with time-to-detect and time-to-recover. Exit 0 when detected and recovered, 1 otherwise.",
    )
    parser.add_argument(
        "--sla-minutes",
        type=float,
        help="SLA for this drill (default FINANCE_RECON_SLA_MINUTES); e.g. 1 for a compressed drill",
    )
    parser.add_argument("--metrics-url", help="scrape the exporter here (e.g. http://127.0.0.1:9108/metrics)")
    parser.add_argument("--prometheus-url", help="wait for the FinanceReconciliationLagHigh alert here")
    parser.add_argument(
        "--dagster-url",
        help="Dagster webserver whose schedule to stop and restart (e.g. http://127.0.0.1:3000)",
    )
    parser.add_argument("--poll-seconds", type=float, default=2.0, help="polling interval (default 2)")
    parser.add_argument(
        "--detect-timeout",
        type=float,
        help="seconds past the SLA mark to wait for detection (default SLA + 600)",
    )
    parser.add_argument(
        "--recover-timeout", type=float, default=900.0, help="seconds after the restart to wait (default 900)"
    )
    parser.add_argument(
        "--cause",
        choices=(
            "source_lag",
            "schema_drift",
            "storage_full",
            "storage_unreachable",
            "credentials_rejected",
            "job_failure",
        ),
        help="instead of the SLA drill, provoke this runbook §5 cause for real (a copy of an embedded source, "
        "a loopback store endpoint answering 507/403 or refusing, a bad warehouse target), run the job, wait "
        "until diagnose names it first, remove it, rerun, wait for recovery; prints the timeline",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the result as JSON (the timeline is still streamed to stderr)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import os
    import sys

    from finance_recon.cli.pipeline import run_once
    from finance_recon.runbook.drill import DrillOptions, run_drill
    from finance_recon.settings import load_settings

    settings = load_settings()
    if args.cause:
        return _cause_drill(args, settings)
    options = DrillOptions(
        sla_minutes=args.sla_minutes if args.sla_minutes is not None else settings.sla_minutes,
        metrics_url=args.metrics_url,
        prometheus_url=args.prometheus_url,
        dagster_url=args.dagster_url,
        poll_seconds=args.poll_seconds,
        detect_timeout_s=args.detect_timeout,
        recover_timeout_s=args.recover_timeout,
    )
    if not args.json:
        result = run_drill(settings, options, run_job=run_once, echo=lambda line: print(line, flush=True))
        print("\n" + result.render(), flush=True)
        return 0 if result.ok else 1
    # JSON mode: stdout carries the JSON document only. The job's own output (dbt, Dagster logs —
    # some written straight to file descriptor 1 by subprocesses) goes to stderr with the timeline.
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        result = run_drill(
            settings, options, run_job=run_once, echo=lambda line: print(line, file=sys.stderr, flush=True)
        )
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    print(result.to_json(), flush=True)
    return 0 if result.ok else 1


def _cause_drill(args: argparse.Namespace, settings) -> int:
    import sys

    from finance_recon.cli.pipeline import run_once
    from finance_recon.runbook.cause_drill import run_cause_drill

    kwargs = {
        "run_job": run_once,
        "poll_seconds": args.poll_seconds,
        "recover_timeout_s": args.recover_timeout,
    }
    if args.detect_timeout is not None:
        kwargs["detect_timeout_s"] = args.detect_timeout
    if args.json:  # stdout carries the JSON only; the timeline and the job's output go to stderr
        import os

        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
        try:
            result = run_cause_drill(
                settings, args.cause, echo=lambda line: print(line, file=sys.stderr, flush=True), **kwargs
            )
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
        print(result.to_json(), flush=True)
    else:
        result = run_cause_drill(settings, args.cause, echo=lambda line: print(line, flush=True), **kwargs)
        print("\n" + result.render(), flush=True)
    return 0 if result.ok else 1
