"""The dbt project (dbt_project/) builds on DuckDB and implements contracts §2.

Two real `dbt build`s, each once per module: on an empty landing (every model, data test and YAML
unit test must pass, and the unit tests must actually run), and on a small hand-built landing whose
every row exists for one reason, with the resulting items and summary asserted to the cent.
Each build uses its own warehouse file and target path, so dbt_project/target is left alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
AS_OF = "2026-11-28T18:00:00+00:00"
AS_OF_ZULU = "2026-11-28T18:00:00Z"  # the spelling the Dagster assets pass (parameters.format_ts)

LANDING_DDL = """
create schema if not exists landing;
create table landing.orders (
    order_id BIGINT, customer_id BIGINT, status VARCHAR, currency VARCHAR,
    total_amount DECIMAL(18,2), created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ
);
create table landing.payments (
    payment_id VARCHAR, order_id BIGINT NULL, provider VARCHAR, kind VARCHAR, status VARCHAR,
    currency VARCHAR, amount DECIMAL(18,2), created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ
);
"""


@dataclass
class DbtBuild:
    warehouse: Path
    returncode: int
    output: str
    results: list[dict]

    def count(self, resource_type: str, status: str | None = None) -> int:
        return sum(
            1
            for r in self.results
            if r["unique_id"].split(".")[0] == resource_type and (status is None or r["status"] == status)
        )


def dbt_executable() -> str:
    beside_python = Path(sys.executable).with_name("dbt")
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


def run_dbt_build(work_dir: Path, warehouse: Path, *extra: str, as_of: str | None = AS_OF) -> DbtBuild:
    """`dbt build` in a subprocess (dbt keeps global state in-process) against `warehouse`."""
    env = {
        **os.environ,
        "FINANCE_RECON_WAREHOUSE_PATH": str(warehouse),
        "FINANCE_RECON_WAREHOUSE_TARGET": "duckdb",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_VERSION_CHECK": "false",
    }
    target_path = work_dir / "target"
    cmd = [
        dbt_executable(),
        "build",
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target", "duckdb",
        "--target-path", str(target_path),
        "--log-path", str(work_dir / "logs"),
        *(["--vars", json.dumps({"as_of": as_of})] if as_of is not None else []),
        *extra,
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    run_results = target_path / "run_results.json"
    results = json.loads(run_results.read_text())["results"] if run_results.exists() else []
    return DbtBuild(warehouse, proc.returncode, proc.stdout + proc.stderr, results)


def make_warehouse(path: Path) -> Path:
    conn = duckdb.connect(str(path))
    try:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute(LANDING_DDL)
    finally:
        conn.close()
    return path


def query(warehouse: Path, sql: str) -> list[dict]:
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        cursor = conn.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        conn.close()


# ---- an empty landing ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def empty_build(tmp_path_factory: pytest.TempPathFactory) -> DbtBuild:
    work_dir = tmp_path_factory.mktemp("dbt_empty")
    return run_dbt_build(work_dir, make_warehouse(work_dir / "warehouse.duckdb"))


def test_build_on_empty_landing_succeeds_and_runs_the_unit_tests(empty_build: DbtBuild) -> None:
    assert empty_build.returncode == 0, empty_build.output[-5000:]
    assert empty_build.count("unit_test") >= 20
    assert empty_build.count("unit_test", "pass") == empty_build.count("unit_test")
    assert empty_build.count("test") >= 40
    assert empty_build.count("test", "pass") == empty_build.count("test")
    # staging 2, intermediate 2 (the items, kept incrementally, and their one-pass sums), marts 4
    assert empty_build.count("model", "success") == 8


def test_empty_landing_gives_one_reconciled_summary_row(empty_build: DbtBuild) -> None:
    (summary,) = query(empty_build.warehouse, "select * from main.rpt_reconciliation_summary")
    assert summary["as_of"] == datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
    assert summary["verdict"] == "reconciled"
    assert summary["orders_considered"] == summary["payments_considered"] == summary["breaks"] == 0
    assert all(summary[k] == 0 for k in summary if k.startswith("count_"))
    assert len([k for k in summary if k.startswith("count_")]) == 12
    assert not any(
        k in summary for k in ("total_expected", "total_net", "break_amount")
    )  # money is per currency
    assert query(empty_build.warehouse, "select * from main.fct_reconciliation_items") == []
    assert query(empty_build.warehouse, "select * from main.rpt_category_summary") == []
    assert query(empty_build.warehouse, "select * from main.rpt_currency_totals") == []


def test_build_without_as_of_on_a_warehouse_never_run_uses_the_invocation_start(tmp_path: Path) -> None:
    """A plain `dbt build` where the platform never wrote run parameters: as_of is the invocation's
    start (to the second, contracts §2's default) and τ, G the contract's defaults
    (dbt_project/macros/run_parameters.sql)."""
    before = datetime.now(UTC).replace(microsecond=0)
    build = run_dbt_build(tmp_path, make_warehouse(tmp_path / "warehouse.duckdb"), as_of=None)
    after = datetime.now(UTC)
    assert build.returncode == 0, build.output[-5000:]
    (summary,) = query(build.warehouse, "select * from main.rpt_reconciliation_summary")
    assert before <= summary["as_of"] <= after
    assert (summary["tolerance"], summary["grace_minutes"]) == (Decimal("0.00"), 60)


# ---- a hand-built landing: one row (or a few) per category ----------------------------------------
# Cut-off 2026-11-28 18:00 UTC, G = 60 minutes, τ = 0.00 (the defaults).
# fmt: off
ORDERS = [
    # (order_id, status, currency, total_amount, created_at)
    (1, "paid", "EUR", "0.30", "2026-11-27 10:00:00"),  # matched: paid by 0.10 + 0.20 (no float drift)
    (2, "pending", "EUR", "15.00", "2026-11-20 10:00:00"),  # open: only a *pending* charge exists
    (3, "paid", "EUR", "40.00", "2026-11-28 17:00:00"),  # in_flight: nothing captured, age = G exactly
    (4, "paid", "EUR", "40.00", "2026-11-28 16:59:00"),  # missing_payment: age = G + 1 min; its charge failed
    (5, "paid", "EUR", "20.00", "2026-11-28 09:00:00"),  # currency_mismatch: paid in full, plus a USD charge
    (6, "pending", "EUR", "12.00", "2026-11-28 12:00:00"),  # order_status_lag: charged, never advanced
    (7, "shipped", "EUR", "100.00", "2026-11-25 10:00:00"),  # underpaid: one cent short at τ = 0
    (8, "delivered", "EUR", "50.00", "2026-11-10 10:00:00"),  # overpaid: one charge of 55.00
    (9, "paid", "EUR", "25.00", "2026-11-28 08:00:00"),  # duplicate_charge: charged twice
    (10, "cancelled", "EUR", "60.00", "2026-11-26 10:00:00"),  # refund_due: money kept on a cancelled order
    (11, "refunded", "EUR", "30.00", "2026-11-26 10:00:00"),  # over_refunded: refunded and charged back
    (12, "delivered", "EUR", "9999999999999999.99", "2026-11-01 00:00:00"),  # matched: largest amount survives
    (13, "paid", "EUR", "10.00", "2026-11-28 18:00:01"),  # created after the cut-off: not considered
]

PAYMENTS = [
    # (payment_id, order_id, kind, status, currency, amount, created_at)
    ("p1a", 1, "charge", "succeeded", "EUR", "0.10", "2026-11-27 10:01:00"),
    ("p1b", 1, "charge", "succeeded", "EUR", "0.20", "2026-11-27 10:02:00"),
    ("p1_late", 1, "charge", "succeeded", "EUR", "5.00", "2026-11-28 18:30:00"),  # after the cut-off: ignored
    ("p2_pending", 2, "charge", "pending", "EUR", "15.00", "2026-11-20 10:05:00"),  # pending: ignored
    ("p4_failed", 4, "charge", "failed", "EUR", "40.00", "2026-11-28 17:00:00"),  # failed: ignored
    ("p5", 5, "charge", "succeeded", "EUR", "20.00", "2026-11-28 09:01:00"),
    ("p5_usd", 5, "charge", "succeeded", "USD", "1.00", "2026-11-28 09:02:00"),  # wrong currency wins
    ("p6", 6, "charge", "succeeded", "EUR", "12.00", "2026-11-28 12:01:00"),
    ("p7", 7, "charge", "succeeded", "EUR", "99.99", "2026-11-25 10:01:00"),
    ("p8", 8, "charge", "succeeded", "EUR", "55.00", "2026-11-10 10:01:00"),
    ("p9a", 9, "charge", "succeeded", "EUR", "25.00", "2026-11-28 08:01:00"),
    ("p9b", 9, "charge", "succeeded", "EUR", "25.00", "2026-11-28 08:01:30"),
    ("p10", 10, "charge", "succeeded", "EUR", "60.00", "2026-11-26 10:01:00"),
    ("p11", 11, "charge", "succeeded", "EUR", "30.00", "2026-11-26 10:01:00"),
    ("p11_refund", 11, "refund", "succeeded", "EUR", "30.00", "2026-11-27 10:00:00"),
    ("p11_chargeback", 11, "chargeback", "succeeded", "EUR", "30.00", "2026-11-27 11:00:00"),
    ("p12", 12, "charge", "succeeded", "EUR", "9999999999999999.99", "2026-11-01 00:01:00"),
    ("p13", 13, "charge", "succeeded", "EUR", "10.00", "2026-11-28 17:30:00"),  # its order is after the cut-off: in_flight
    ("p_orphan", None, "charge", "succeeded", "GBP", "8.00", "2026-11-28 09:00:00"),  # no order, old: orphan_payment
    ("p_unknown", 424242, "charge", "succeeded", "EUR", "3.00", "2026-10-01 00:00:00"),  # unknown order: orphan, >30d
]

# item_key: (category, currency, expected, captured, reversed, net, n_charges, age_bucket)
EXPECTED_ITEMS = {
    "order:1": ("matched", "EUR", "0.30", "0.30", "0.00", "0.30", 2, "0-1d"),
    "order:2": ("open", "EUR", "0.00", "0.00", "0.00", "0.00", 0, "8-30d"),
    "order:3": ("in_flight", "EUR", "40.00", "0.00", "0.00", "0.00", 0, "0-1d"),
    "order:4": ("missing_payment", "EUR", "40.00", "0.00", "0.00", "0.00", 0, "0-1d"),
    "order:5": ("currency_mismatch", "EUR", "20.00", "20.00", "0.00", "20.00", 2, "0-1d"),
    "order:6": ("order_status_lag", "EUR", "0.00", "12.00", "0.00", "12.00", 1, "0-1d"),
    "order:7": ("underpaid", "EUR", "100.00", "99.99", "0.00", "99.99", 1, "2-7d"),
    "order:8": ("overpaid", "EUR", "50.00", "55.00", "0.00", "55.00", 1, "8-30d"),
    "order:9": ("duplicate_charge", "EUR", "25.00", "50.00", "0.00", "50.00", 2, "0-1d"),
    "order:10": ("refund_due", "EUR", "0.00", "60.00", "0.00", "60.00", 1, "2-7d"),
    "order:11": ("over_refunded", "EUR", "0.00", "30.00", "60.00", "-30.00", 1, "2-7d"),
    "order:12": ("matched", "EUR", "9999999999999999.99", "9999999999999999.99", "0.00", "9999999999999999.99", 1, "8-30d"),
    "payment:p13": ("in_flight", "EUR", "0.00", "10.00", "0.00", "10.00", 1, "0-1d"),
    "payment:p_orphan": ("orphan_payment", "GBP", "0.00", "8.00", "0.00", "8.00", 1, "0-1d"),
    "payment:p_unknown": ("orphan_payment", "EUR", "0.00", "3.00", "0.00", "3.00", 1, ">30d"),
}
# fmt: on


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(scope="module")
def dataset_build(tmp_path_factory: pytest.TempPathFactory) -> DbtBuild:
    work_dir = tmp_path_factory.mktemp("dbt_dataset")
    warehouse = make_warehouse(work_dir / "warehouse.duckdb")
    conn = duckdb.connect(str(warehouse))
    try:
        conn.executemany(
            "insert into landing.orders values (?, ?, ?, ?, cast(? as decimal(18, 2)), ?, ?)",
            [(oid, 100 + oid, st, cur, amt, _ts(ts), _ts(ts)) for oid, st, cur, amt, ts in ORDERS],
        )
        conn.executemany(
            "insert into landing.payments values (?, ?, 'stripe', ?, ?, ?, cast(? as decimal(18, 2)), ?, ?)",
            [
                (pid, oid, kind, st, cur, amt, _ts(ts), _ts(ts))
                for pid, oid, kind, st, cur, amt, ts in PAYMENTS
            ],
        )
    finally:
        conn.close()
    # The unit tests already ran on the empty landing; here the data tests check real rows.
    return run_dbt_build(work_dir, warehouse, "--exclude-resource-type", "unit_test", as_of=AS_OF_ZULU)


def test_build_on_dataset_succeeds(dataset_build: DbtBuild) -> None:
    assert dataset_build.returncode == 0, dataset_build.output[-5000:]
    assert dataset_build.count("test", "pass") == dataset_build.count("test") >= 40


def test_dataset_items_are_categorised_to_the_cent(dataset_build: DbtBuild) -> None:
    (summary,) = query(dataset_build.warehouse, "select as_of from main.rpt_reconciliation_summary")
    assert summary["as_of"] == datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
    rows = query(dataset_build.warehouse, "select * from main.fct_reconciliation_items order by item_key")
    actual = {
        r["item_key"]: (
            r["category"], r["currency"], str(r["expected"]), str(r["captured"]), str(r["reversed"]),
            str(r["net"]), r["n_charges"], r["age_bucket"],
        )
        for r in rows
    }  # fmt: skip
    assert actual == EXPECTED_ITEMS
    for r in rows:
        assert r["break_id"] == hashlib.md5(r["item_key"].encode()).hexdigest()
        assert r["difference"] == r["net"] - r["expected"]
        assert r["is_break"] == (r["category"] not in {"matched", "open", "in_flight"})
        assert all(
            isinstance(r[k], Decimal) for k in ("expected", "captured", "reversed", "net", "difference")
        )
    by_key = {r["item_key"]: r for r in rows}
    assert by_key["order:3"]["age_minutes"] == 60  # exactly G: in flight
    assert by_key["order:4"]["age_minutes"] == 61  # G + 1 minute: a break
    assert by_key["payment:p_orphan"]["payment_id"] == "p_orphan"
    assert by_key["payment:p_orphan"]["order_id"] is None
    assert by_key["payment:p_unknown"]["order_id"] == 424242
    assert by_key["order:1"]["payment_id"] is None and by_key["order:1"]["order_status"] == "paid"


def test_dataset_summary_adds_up(dataset_build: DbtBuild) -> None:
    (summary,) = query(dataset_build.warehouse, "select * from main.rpt_reconciliation_summary")
    counts = {k.removeprefix("count_"): v for k, v in summary.items() if k.startswith("count_")}
    assert counts == {
        "matched": 2, "open": 1, "in_flight": 2, "currency_mismatch": 1, "order_status_lag": 1,
        "missing_payment": 1, "underpaid": 1, "overpaid": 1, "duplicate_charge": 1,
        "refund_due": 1, "over_refunded": 1, "orphan_payment": 2,
    }  # fmt: skip
    assert counts == dict(Counter(item[0] for item in EXPECTED_ITEMS.values()))
    assert summary["orders_considered"] == 12  # order 13 is after the cut-off
    # Every status counts as considered; only p1_late (after the cut-off) does not.
    assert summary["payments_considered"] == 19
    assert summary["breaks"] == 10
    assert summary["verdict"] == "breaks"
    totals = {
        r["currency"]: r for r in query(dataset_build.warehouse, "select * from main.rpt_currency_totals")
    }
    assert set(totals) == {"EUR", "GBP"}  # one row per currency, never a sum of the two
    eur, gbp = totals["EUR"], totals["GBP"]
    assert eur["total_expected"] == Decimal("10000000000000275.29")
    assert eur["total_net"] == Decimal("10000000000000267.28")
    # |−40.00| + 12.00 + 0.01 + 5.00 + 25.00 + 60.00 + 30.00 + 3.00 (currency_mismatch differs by 0.00)
    assert eur["break_amount"] == Decimal("175.01")
    assert (eur["item_count"], eur["order_count"], eur["break_count"]) == (14, 12, 9)
    # The orphan GBP payment: no order, so no expected and no net (totals are over order rows).
    assert (gbp["total_expected"], gbp["total_net"], gbp["break_amount"]) == (
        Decimal("0.00"), Decimal("0.00"), Decimal("8.00"),
    )  # fmt: skip
    assert (gbp["item_count"], gbp["order_count"], gbp["break_count"]) == (1, 0, 1)
    assert sum(t["break_count"] for t in totals.values()) == summary["breaks"]


def test_dataset_category_summary_matches_items(dataset_build: DbtBuild) -> None:
    rows = query(dataset_build.warehouse, "select * from main.rpt_category_summary")
    by_category = {(r["category"], r["currency"]): r for r in rows}
    assert len(by_category) == len(rows)  # one row per category and currency
    assert sum(r["items"] for r in rows) == len(EXPECTED_ITEMS)
    # The two orphan payments are in two currencies: two rows, never 11.00 of nothing.
    assert by_category["orphan_payment", "EUR"]["net"] == Decimal("3.00")
    assert by_category["orphan_payment", "GBP"]["net"] == Decimal("8.00")
    assert by_category["orphan_payment", "GBP"]["is_break"] is True
    assert by_category["matched", "EUR"]["expected"] == Decimal("10000000000000000.29")
    assert by_category["in_flight", "EUR"]["is_break"] is False
