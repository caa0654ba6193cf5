"""`finance-recon demo`: generate a shop into the embedded sources, reconcile it, compare with the truth."""

from __future__ import annotations

import argparse
import sys

from finance_recon.cli import arguments


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="build a demo shop in the embedded databases, reconcile it and print the result",
        description="Generate a deterministic shop (with its ground truth) into the embedded DuckDB sources, "
        "run the whole graph with as_of = the shop's anchor, and compare every category count with the "
        "ground truth. Exit 1 if the run fails or any count differs, 2 on a bad flag, setting or missing prerequisite.",
    )
    parser.add_argument(
        "--orders", type=arguments.positive_int, default=10_000, help="number of orders ≥ 1 (default 10000)"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print only the outcome, as one JSON document on stdout (stage lines on stderr)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also show dbt's and Dagster's logs (on stderr)"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from finance_recon.cli.output import print_failure, print_outcome, run_with_output
    from finance_recon.cli.preflight import (
        check_extras,
        check_manifest,
        check_report_store,
        check_warehouse_target,
    )
    from finance_recon.settings import load_settings

    settings = load_settings()
    if not (settings.orders_url_is_default and settings.payments_url_is_default):
        print(
            "finance-recon demo: writes only to the embedded demo sources; unset FINANCE_RECON_ORDERS_URL "
            "and FINANCE_RECON_PAYMENTS_URL (use `finance-recon seed` for real servers)",
            file=sys.stderr,
        )
        return 2
    check_warehouse_target(settings)
    check_manifest()
    check_extras(settings)
    check_report_store(settings)
    (outcome, shop), log_path = run_with_output(
        "demo",
        settings,
        verbose=args.verbose,
        json_mode=args.json,
        work=lambda console, reporter: _seed_and_run(args, settings, console, reporter),
    )
    outcome.log_file = str(log_path)
    if not outcome.success:
        print_failure("demo", outcome, log_path)
        return 1
    expected = shop.expected_counts()
    matches = all(outcome.manifest["counts"].get(c, 0) == n for c, n in expected.items()) and all(
        expected.get(c, 0) == n for c, n in outcome.manifest["counts"].items()
    )
    if args.json:
        print(outcome.as_json(ground_truth_matches=matches))
    else:
        print_outcome(outcome, expected_counts=expected)
        print("ground truth     " + ("every category matches" if matches else "MISMATCH"))
    return 0 if matches else 1


def _seed_and_run(args: argparse.Namespace, settings, console, reporter):
    import pyarrow.parquet as pq

    from finance_recon.cli.pipeline import RunRequestOptions, execute
    from finance_recon.demo.generator import generate_shop
    from finance_recon.demo.seed import seed_shop
    from finance_recon.reconciliation.parameters import format_ts

    shop = generate_shop(args.orders, seed=args.seed)
    settings.demo_dir.mkdir(parents=True, exist_ok=True)
    seed_shop(shop, settings.orders_url, settings.payments_url, replace=True)
    pq.write_table(shop.ground_truth, settings.demo_dir / "ground_truth.parquet")
    console.print(
        f"demo shop: {shop.orders.num_rows:,} orders, {shop.payments.num_rows:,} payments "
        f"(seed {args.seed}, anchor {format_ts(shop.anchor)})"
    )
    options = RunRequestOptions(
        as_of=format_ts(shop.anchor), full_refresh=True, log_level="DEBUG" if args.verbose else "INFO"
    )
    return execute(options, settings, on_event=reporter), shop
