"""`finance-recon seed`: load a synthetic shop into the configured sources, or move it like live traffic."""

from __future__ import annotations

import argparse
import sys

from finance_recon.cli import arguments


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "seed",
        help="create the contract tables and bulk-load a synthetic shop into the source databases",
        description="Create the contract tables (contracts §1) where absent and bulk-load a deterministic shop "
        "into the orders and payments sources (MySQL/MariaDB, PostgreSQL or the embedded DuckDB files), "
        "replacing their content. With --mutate N, also (or only, with --orders 0) apply N live-looking "
        "changes: status moves, refunds, chargebacks, late payments and late commits.",
    )
    parser.add_argument(
        "--orders",
        type=arguments.non_negative_int,
        default=10_000,
        help="orders to generate (default 10000; 0: load nothing)",
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument(
        "--mutate",
        type=arguments.non_negative_int,
        default=0,
        metavar="N",
        help="apply N live-looking changes after loading",
    )
    parser.add_argument(
        "--orders-url",
        help="orders source URL (default: $FINANCE_RECON_ORDERS_URL or the embedded demo file)",
    )
    parser.add_argument(
        "--payments-url",
        help="payments source URL (default: $FINANCE_RECON_PAYMENTS_URL or the embedded demo file)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import time
    from datetime import UTC, datetime

    from finance_recon.demo.seed import mutate, seed_shop
    from finance_recon.settings import load_settings
    from finance_recon.sources.errors import SourceError
    from finance_recon.sources.urls import SourceUrl

    # The defaults are resolved here, not when the parser is built: `--help` reads no settings.
    settings = load_settings()
    args.orders_url = args.orders_url or settings.orders_url
    args.payments_url = args.payments_url or settings.payments_url

    try:
        orders_src, payments_src = SourceUrl.parse(args.orders_url), SourceUrl.parse(args.payments_url)
    except SourceError as exc:
        print(f"finance-recon seed: {exc}", file=sys.stderr)
        return 2
    try:
        if args.orders > 0:
            from finance_recon.demo.generator import generate_shop

            started = time.perf_counter()
            shop = generate_shop(args.orders, seed=args.seed)
            generated = time.perf_counter() - started
            seed_shop(shop, args.orders_url, args.payments_url, replace=True, progress=not args.no_progress)
            print(
                f"seeded {shop.orders.num_rows:,} orders into {orders_src.redacted} and "
                f"{shop.payments.num_rows:,} payments into {payments_src.redacted} "
                f"in {time.perf_counter() - started:.1f}s (generation {generated:.1f}s; anchor {shop.anchor.isoformat()})"
            )
        if args.mutate > 0:
            summary = mutate(
                args.orders_url, args.payments_url, n=args.mutate, seed=args.seed, now=datetime.now(UTC)
            )
            print("mutated: " + ", ".join(f"{k}={v}" for k, v in summary.as_dict().items()))
    except Exception as exc:  # driver errors: one line, no password (the URL is never part of them)
        from finance_recon.sources.errors import one_line

        print(f"finance-recon seed: failed: {one_line(exc)}", file=sys.stderr)
        return 1
    return 0
