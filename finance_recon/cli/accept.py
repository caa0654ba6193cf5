"""`finance-recon accept`: let a quarantined batch through its contract check, on the record.

A batch whose blocking contract check failed is never landed (sources/landing.py, quarantine): every
later run reads and checks the same rows again until the source is fixed. When the rows are right
after all (a legitimate zero-amount payment, say), an operator accepts the versions now pending;
they are recorded with who, when and why in `landing._accepted_rows`, the contract check leaves
exactly those versions out, and the next run lands them. A row that changes again is a new version
and is checked again.
"""

from __future__ import annotations

import argparse
import getpass

from finance_recon.cli import arguments


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "accept",
        help="accept the quarantined rows of a source table (recorded), so the next run lands them",
        description="Record every row version of TABLE's quarantined batch (the batch whose contract check "
        "failed) as accepted, with your name and REASON. The next run's contract check leaves exactly these "
        "versions out and lands them; rows that change again are checked again.",
    )
    parser.add_argument("table", choices=("orders", "payments"), help="the source table")
    parser.add_argument("--reason", required=True, type=_reason, help="why these rows are right (recorded)")
    parser.add_argument(
        "--by", default=None, help="who accepts (default: $FINANCE_RECON_OPERATOR, else the login name)"
    )
    parser.set_defaults(handler=handle)


def _reason(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("must say why the rows are right (non-empty)")
    return value.strip()


def handle(args: argparse.Namespace) -> int:
    from finance_recon.contracts import SOURCE_TABLES
    from finance_recon.settings import load_settings
    from finance_recon.sources.landing import accept_pending, ensure_landing, warehouse_connection
    from finance_recon.warehouse import WarehouseResource

    settings = load_settings()
    table = next(t for t in SOURCE_TABLES if t.asset_name == args.table)
    who = args.by or settings.operator or _login_name()
    warehouse = WarehouseResource(path=str(settings.warehouse_path))
    with warehouse_connection(warehouse) as conn:
        ensure_landing(conn, table)
        accepted = accept_pending(conn, table, reason=args.reason, accepted_by=who)
    if not accepted:
        return arguments.fail(
            "finance-recon accept",
            f"{args.table}: no quarantined batch (nothing is pending for this table)",
            1,
        )
    print(f"accepted {accepted} {args.table} row versions (by {who}: {args.reason}); the next run lands them")
    return 0


def _login_name() -> str:
    try:
        return getpass.getuser()
    except OSError:  # no login name in the environment or the password database (some containers)
        return "unknown"
