"""`seed_shop` / `mutate` / `finance-recon seed`: real bulk loads, live-looking traffic, nothing missed."""

from __future__ import annotations

import argparse
from datetime import timedelta

import pytest

from finance_recon.contracts import ORDERS, PAYMENTS
from finance_recon.demo.generator import generate_shop
from finance_recon.demo.seed import connect, mutate, seed_shop
from finance_recon.sources.extract import extract_table
from finance_recon.warehouse import WarehouseResource


def source_totals(url: str, table: str, amount: str) -> tuple:
    with connect(url) as conn:
        cur = conn.cursor()
        cur.execute(f"SELECT count(*), sum({amount}) FROM {table}")
        return tuple(cur.fetchone())


def landing(warehouse, table) -> list:
    with warehouse.connection(read_only=True) as conn:
        return conn.execute(f"SELECT * FROM landing.{table.asset_name} ORDER BY 1").fetchall()


@pytest.mark.parametrize("layout", ["contract", "embedded"])
def test_seed_then_live_traffic_is_extracted_without_loss(layout, request, warehouse, tmp_path):
    if layout == "contract":  # orders in MariaDB, payments in PostgreSQL
        orders_url, payments_url = request.getfixturevalue("mysql_url"), request.getfixturevalue("pg_url")
    else:
        orders_url, payments_url = (
            f"duckdb:///{tmp_path}/oltp.duckdb",
            f"duckdb:///{tmp_path}/payments.duckdb",
        )
    shop = generate_shop(400, seed=3)
    seed_shop(shop, orders_url, payments_url)
    # Exact money: the source holds what the generator made, to the cent.
    expected_total = sum(shop.orders.column("total_amount").to_pylist())
    assert source_totals(orders_url, "orders", "total_amount") == (shop.orders.num_rows, expected_total)
    assert source_totals(payments_url, "payments", "amount")[0] == shop.payments.num_rows

    for table, url in ((ORDERS, orders_url), (PAYMENTS, payments_url)):
        extract_table(table, url, warehouse, promote_now=True)
    summary = mutate(orders_url, payments_url, n=60, seed=5, now=shop.anchor + timedelta(minutes=2))
    assert summary.status_moves and summary.refunds + summary.chargebacks and summary.late_commits
    assert summary.orders_updated and summary.payments_inserted
    for table, url in ((ORDERS, orders_url), (PAYMENTS, payments_url)):
        result = extract_table(table, url, warehouse, promote_now=True)
        assert result.mode == "incremental"

    fresh = WarehouseResource(path=str(tmp_path / "fresh.duckdb"))
    for table, url in ((ORDERS, orders_url), (PAYMENTS, payments_url)):
        extract_table(table, url, fresh, full_refresh=True, promote_now=True)
        assert landing(warehouse, table) == landing(fresh, table), (
            f"incremental missed a change in {table.table}"
        )


def test_seed_creates_the_mysql_database_and_replaces_content(mysql_admin):
    from .conftest import MYSQL_HOST, MYSQL_PORT, unique

    db = unique("fr_test_created")
    url = f"mysql+pymysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{db}"
    try:
        shop = generate_shop(50, seed=1)
        seed_shop(shop, url, url)
        seed_shop(shop, url, url, replace=True)  # a second seed replaces, it does not append
        assert source_totals(url, "orders", "total_amount")[0] == 50
        with connect(url) as conn:
            cur = conn.cursor()
            cur.execute("SHOW INDEX FROM orders WHERE Key_name = 'orders_updated_at_idx'")
            assert cur.fetchall(), "updated_at is indexed (contracts §1)"
            cur.execute(
                "SELECT column_name, column_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = 'orders'",
                [db],
            )
            types = dict(cur.fetchall())
        assert types["updated_at"] == "datetime(6)" and types["total_amount"] == "decimal(18,2)"
    finally:
        with mysql_admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{db}`")


def test_cli_seed_command(tmp_path, capsys):
    from finance_recon.cli import seed as seed_cli

    parser = argparse.ArgumentParser()
    seed_cli.add_parser(parser.add_subparsers(dest="command"))
    orders_url, payments_url = f"duckdb:///{tmp_path}/o.duckdb", f"duckdb:///{tmp_path}/p.duckdb"
    args = parser.parse_args(
        [
            "seed",
            "--orders",
            "200",
            "--mutate",
            "20",
            "--orders-url",
            orders_url,
            "--payments-url",
            payments_url,
            "--no-progress",
        ]
    )
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "seeded 200 orders" in out and "mutated: status_moves=" in out
    assert source_totals(orders_url, "orders", "total_amount")[0] == 200
