"""The correctness prober end to end on the real servers: synthetic rows written, classified,
reported in the manifest's probe section, exported as a metric, and kept out of Finance's figures."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal

from finance_recon.contracts import PROBE_ORDER_ID_MIN, PROBE_PAYMENT_ID_PREFIX
from finance_recon.demo.seed import connect

from .conftest import ANCHOR

FINANCE_ARTIFACTS = ("breaks.csv", "breaks.parquet", "summary.json", "summary.html")


def test_both_runs_published(probed_shop):
    for name, run in probed_shop.runs.items():
        assert run.success, f"{name}: {run.cause}"


def test_cycle_two_matches_the_matched_pair_and_breaks_the_underpaid_one(probed_shop):
    probe = probed_shop.runs["second"].manifest["probe"]
    assert (probe["cycle"], probe["success"], probe["errors"]) == (2, True, [])
    items = {i["probe"]: i for i in probe["items"]}
    assert set(items) == {"matched", "underpaid"}
    matched, underpaid = items["matched"], items["underpaid"]
    assert (matched["order_id"], matched["payment_id"]) == (PROBE_ORDER_ID_MIN + 4, "probe-2-matched")
    assert matched["actual_category"] == "matched" == matched["expected_category"]
    assert (underpaid["order_id"], underpaid["payment_id"]) == (PROBE_ORDER_ID_MIN + 5, "probe-2-underpaid")
    assert (underpaid["order_amount"], underpaid["payment_amount"]) == ("10.00", "9.99")  # τ = 0.00
    assert underpaid["actual_category"] == "underpaid" == underpaid["expected_category"]
    assert all(i["success"] for i in probe["items"])


def test_a_refused_write_fails_the_probe_not_the_run(probed_shop):
    run = probed_shop.runs["refused"]
    probe = run.manifest["probe"]
    assert (probe["cycle"], probe["success"]) == (1, False)  # 1 is odd: the matched pair only
    assert [e["source"] for e in probe["errors"]] == ["payments"]
    message = probe["errors"][0]["message"]
    assert message.startswith(
        "correctness probe: cannot write synthetic payments probe-1-matched into postgresql://"
    )
    assert "permission denied" in message and "needs SELECT and INSERT on payments" in message
    assert "\n" not in message
    # Without its payment the synthetic order is unpaid and young: in flight, not matched.
    [item] = probe["items"]
    assert (item["expected_category"], item["actual_category"], item["success"]) == (
        "matched",
        "in_flight",
        False,
    )


def test_the_exporter_exports_the_newest_probe_verdict(probed_shop):
    for name, expected in (("refused", 0), ("second", 1)):
        samples = probed_shop.scrapes[name]
        assert samples["finance_reconciliation_probe_success"] == expected, name
        ended = datetime.fromisoformat(probed_shop.runs[name].manifest["run_ended_at"]).timestamp()
        assert samples["finance_reconciliation_probe_last_run_timestamp"] == ended, name


def test_the_synthetic_rows_are_in_the_sources_with_their_reserved_ids(probed_shop):
    with connect(probed_shop.orders_url) as conn:
        cur = conn.cursor()
        cur.execute(
            "SELECT order_id, status, total_amount FROM orders WHERE order_id >= %s ORDER BY 1",
            [PROBE_ORDER_ID_MIN],
        )
        orders = [(int(o), s, str(a)) for o, s, a in cur.fetchall()]
    assert orders == [
        (PROBE_ORDER_ID_MIN + 2, "paid", "10.00"),  # cycle 1 (its payment was refused)
        (PROBE_ORDER_ID_MIN + 4, "paid", "10.00"),
        (PROBE_ORDER_ID_MIN + 5, "paid", "10.00"),
    ]
    with connect(probed_shop.payments_url) as conn:
        cur = conn.cursor()
        cur.execute(
            "SELECT payment_id, order_id, amount FROM payments WHERE payment_id LIKE 'probe-%%' ORDER BY 1"
        )
        payments = [(p, int(o), str(a)) for p, o, a in cur.fetchall()]
    assert payments == [
        ("probe-2-matched", PROBE_ORDER_ID_MIN + 4, "10.00"),
        ("probe-2-underpaid", PROBE_ORDER_ID_MIN + 5, "9.99"),
    ]


def test_finance_sees_the_shop_as_if_there_were_no_prober(probed_shop):
    refused, second = (probed_shop.runs[n].manifest for n in ("refused", "second"))
    truth = probed_shop.shop.expected_counts()
    for manifest in (refused, second):
        # the generator's ground truth knows nothing of synthetic rows
        assert {c: n for c, n in manifest["counts"].items() if n} == truth
        assert manifest["breaks"] == sum(
            n for c, n in truth.items() if c not in ("matched", "open", "in_flight")
        )
        assert manifest["continuity"]["holds"]
    # expected = total_amount of the considered paid/shipped/delivered orders (contracts §2), real ones
    with connect(probed_shop.orders_url) as conn:
        cur = conn.cursor()
        cur.execute(
            "SELECT currency, sum(total_amount) FROM orders WHERE status IN ('paid', 'shipped', 'delivered') "
            "AND created_at <= %s AND order_id < %s GROUP BY currency ORDER BY currency",
            [ANCHOR.replace(tzinfo=None), PROBE_ORDER_ID_MIN],
        )
        real_expected = [(currency, Decimal(total)) for currency, total in cur.fetchall()]
    # Per currency (the demo shop sells in USD, EUR and JPY), never summed across them.
    assert [
        (t["currency"], Decimal(t["total_expected"])) for t in second["totals_by_currency"]
    ] == real_expected
    assert second["totals_by_currency"] == refused["totals_by_currency"]
    # One synthetic order in flight in the first run, a matched and an underpaid one more in the
    # second: what Finance reads is byte-identical all the same, and names no synthetic id.
    for name in FINANCE_ARTIFACTS:
        assert probed_shop.artifact("refused", name) == probed_shop.artifact("second", name), name
    for name in ("breaks.csv", "summary.json", "summary.html"):
        text = probed_shop.artifact("second", name).decode()
        assert PROBE_PAYMENT_ID_PREFIX not in text and str(PROBE_ORDER_ID_MIN)[:8] not in text, name
    rows = list(csv.DictReader(io.StringIO(probed_shop.artifact("second", "breaks.csv").decode())))
    assert len(rows) == second["breaks"]
    assert not [
        r for r in rows if r["category"] == "underpaid" and r["currency"] == "USD" and r["net"] == "9.99"
    ]
