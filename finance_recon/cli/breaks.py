"""`finance-recon breaks`: list or export a run's breaks, filtered, from its published breaks.parquet."""

from __future__ import annotations

import argparse
import csv
import io
import json

FORMATS = ("table", "csv", "json")
LIFECYCLES = ("new", "persisting", "resolved")
TABLE_COLUMNS = (
    "order_id",  # what a person looks up in the shop (break_id is an md5 of it)
    "payment_id",
    "category",
    "lifecycle",
    "currency",
    "expected",
    "net",
    "difference",
    "created_at",
    "break_id",  # stable across runs (md5 of the item key): what the lifecycle follows
)


def min_age(text: str) -> float:
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is invalid: expected a number of days ≥ 0, e.g. 3 or 0.5")
    return float(value)  # float ok: a duration in days, not money


def currency(text: str) -> str:
    value = text.strip().upper()
    if len(value) != 3 or not value.isalpha():
        raise argparse.ArgumentTypeError(f"{text!r} is invalid: expected an ISO-4217 code, e.g. EUR")
    return value


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "breaks",
        help="list or export the breaks of the latest (or a given) published run, filtered",
        description="Reads breaks.parquet of a published run from the report store (never the warehouse).",
    )
    parser.add_argument("--run", metavar="ID", help="a published run id (default: the one latest.json names)")
    parser.add_argument(
        "--category", metavar="C", help="a break category of contracts §2, e.g. duplicate_charge"
    )
    parser.add_argument(
        "--lifecycle", metavar="L", choices=LIFECYCLES, help="one of: " + ", ".join(LIFECYCLES)
    )
    parser.add_argument(
        "--min-age",
        metavar="D",
        type=min_age,
        help="only breaks at least D days old at the run's as_of (days, e.g. 3 or 0.5)",
    )
    parser.add_argument("--currency", metavar="X", type=currency, help="only this currency, e.g. EUR")
    parser.add_argument("--format", choices=FORMATS, default="table", help="table (default), csv or json")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from finance_recon.cli.arguments import EXIT_USAGE, fail
    from finance_recon.cli.report import open_store
    from finance_recon.contracts import CATEGORIES
    from finance_recon.reconciliation.parameters import parse_as_of
    from finance_recon.report import reader
    from finance_recon.settings import load_settings

    prog = "finance-recon breaks"
    if args.category is not None and args.category not in CATEGORIES:
        return fail(
            prog,
            f"--category {args.category!r} is invalid: expected one of {', '.join(CATEGORIES)}",
            EXIT_USAGE,
        )
    settings = load_settings()
    store = open_store(settings)
    try:
        run = reader.find_run(store, args.run)
        table = reader.read_breaks(store, run)
    except reader.ReaderError as exc:
        return fail(prog, str(exc), 1)
    except reader.StoreError as exc:
        return fail(prog, f"report store unreadable: {exc}", 1)
    rows = reader.filter_breaks(
        table,
        as_of=parse_as_of(run.as_of),
        category=args.category,
        lifecycle=args.lifecycle,
        min_age_days=args.min_age,
        currency=args.currency,
    )
    if args.format == "json":
        print(
            json.dumps(
                {"run_id": run.run_id, "as_of": run.as_of, "count": len(rows), "breaks": rows}, indent=2
            )
        )
    elif args.format == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=table.schema.names, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, list) else v for k, v in row.items()})
        print(out.getvalue(), end="")
    else:
        print(f"run {run.run_id}  as_of {run.as_of}  {len(rows)} break(s)")
        columns = [c for c in TABLE_COLUMNS if c in table.schema.names]
        widths = {c: max([len(c)] + [len(str(r.get(c) or "")) for r in rows]) for c in columns}
        print("  ".join(c.ljust(widths[c]) for c in columns))
        for r in rows:
            print("  ".join(str(r.get(c) or "").ljust(widths[c]) for c in columns))
    return 0
