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
from finance_recon.contracts import SOURCE_TABLES, source_table


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "accept",
        help="accept the failing rows of a quarantined batch (recorded, by key), so the next run lands them",
        description="Record the row versions of TABLE's quarantined batch that fail its contract check (or "
        "only those of --key) as accepted, with your name and REASON. The next run's contract check leaves "
        "exactly these versions out and lands them; rows that change again are checked again. A row dbt "
        "cannot reconcile (a NULL, a duplicate key, an unknown status, an amount out of range) is refused: "
        "fix the source.",
    )
    parser.add_argument("table", choices=[t.asset_name for t in SOURCE_TABLES], help="the source table")
    parser.add_argument("--reason", required=True, type=_reason, help="why these rows are right (recorded)")
    parser.add_argument(
        "--key",
        action="append",
        default=None,
        metavar="KEY",
        help="accept only this row (its order_id / payment_id; repeatable). Default: exactly the rows that "
        "fail the contract check now",
    )
    parser.add_argument(
        "--by", default=None, help="who accepts (default: $FINANCE_RECON_OPERATOR, else the login name)"
    )
    parser.set_defaults(handler=handle)


def _reason(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("must say why the rows are right (non-empty)")
    return value.strip()


def handle(args: argparse.Namespace) -> int:
    from finance_recon.quality.checks import quarantined_rows
    from finance_recon.resources import warehouse_resource
    from finance_recon.settings import load_settings

    settings = load_settings()
    table = source_table(args.table)
    who = args.by or settings.operator or _login_name()
    warehouse = warehouse_resource(settings)
    prog = "finance-recon accept"
    in_batch = warehouse.quarantined_keys(table)
    if in_batch is None:
        return arguments.fail(
            prog, f"{args.table}: no quarantined batch (nothing is pending for this table)", 1
        )
    outcome = quarantined_rows(table, warehouse)
    failing: dict[str, list] = {}  # key → the rules its row fails
    for rule in outcome.failed:
        if not rule.keys or rule.unexpected_count > len(rule.keys):
            return arguments.fail(
                prog,
                f"{args.table}: the batch fails '{rule.rule.label}' for rows that cannot all be named "
                f"({rule.unexpected_count} unexpected): fix the source (nothing was accepted)",
                1,
            )
        for key in rule.keys:
            failing.setdefault(str(key), []).append(rule.rule)
    if args.key:
        keys = {k.strip() for k in args.key}
        missing = sorted(keys - in_batch)
        if missing:
            return arguments.fail(
                prog,
                f"{args.table}: {table.primary_key} {', '.join(map(repr, missing))} not in the quarantined "
                "batch (nothing was accepted)",
                1,
            )
    else:
        keys = set(failing)
        if not keys:
            return arguments.fail(
                prog, f"{args.table}: every row of the quarantined batch passes its check now", 1
            )
    refused = [
        f"{table.primary_key} {key!r}: {_why(rule)}"
        for key in sorted(keys)
        for rule in failing.get(key, [])
        if not rule.acceptable
    ]
    if refused:
        return arguments.fail(
            prog,
            f"{args.table}: cannot accept {'; '.join(refused)} — dbt's own tests refuse such a row too; "
            "fix the source (nothing was accepted)",
            1,
        )
    accepted = warehouse.accept_rows(table, reason=args.reason, accepted_by=who, keys=keys)
    print(
        f"accepted {accepted} {args.table} row version{'s' if accepted != 1 else ''} "
        f"({table.primary_key} {', '.join(sorted(keys))}; by {who}: {args.reason}); the next run lands them"
    )
    return 0


def _why(rule) -> str:
    return f"{rule.column} is NULL" if rule.rule == "not null" else f"{rule.label}"


def _login_name() -> str:
    try:
        return getpass.getuser()
    except OSError:  # no login name in the environment or the password database (some containers)
        return "unknown"
