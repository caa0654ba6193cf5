"""`finance-recon diagnose`: runbook §3 in one read-only command (see `finance_recon.runbook.diagnose`)."""

from __future__ import annotations

import argparse

from finance_recon.cli import arguments


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "diagnose",
        help="why is the report late? latest run, source lag, store, checks, freshness, ranked likely cause",
        description="Read-only look at everything runbook §3 checks by hand: the latest reconciliation run "
        "(failing step and error), each source's newest updated_at and lag, the newest manifest and its age, "
        "store reachability and permission, the latest check results and freshness state, the orchestrator; "
        "then the likely cause ranked from runbook §5. Writes nothing except the store's write probe "
        "(_probe/diagnose.txt; --no-write-probe to skip). Exit 0 within the SLA, 1 when the newest report "
        "is older than the SLA (FINANCE_RECON_SLA_MINUTES), missing, or unreadable.",
    )
    parser.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    parser.add_argument(
        "--no-write-probe",
        action="store_true",
        help="do not write _probe/diagnose.txt (then a full store or a read-only credential goes unnoticed)",
    )
    parser.add_argument(
        "--sla-minutes", type=arguments.positive_int, help="override FINANCE_RECON_SLA_MINUTES for this check"
    )
    parser.add_argument(
        "--prometheus-url",
        help="read the freshness SLO's error budget from this Prometheus (default FINANCE_RECON_PROMETHEUS_URL; "
        "without one it is computed from the instance's publication history)",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:

    from finance_recon.runbook.diagnose import diagnose, render_table
    from finance_recon.settings import load_settings

    settings = load_settings()
    if args.sla_minutes is not None:
        settings = settings.model_copy(update={"sla_minutes": args.sla_minutes})
    if args.prometheus_url:
        settings = settings.model_copy(update={"prometheus_url": args.prometheus_url})
    result = diagnose(settings, write_probe=not args.no_write_probe)
    print(result.to_json() if args.json else render_table(result))
    return result.exit_code
