"""`finance-recon report` and `finance-recon breaks` on a store published in the per-currency shape."""

from __future__ import annotations

import json

import pytest

from finance_recon.cli import main


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_report_json_parses_with_per_currency_totals_and_trend(reader_env, capsys):
    code, out, err = _run(capsys, "report", "--json", "--last", "3")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["run_id"] == "run-new"
    assert [t["currency"] for t in doc["totals_by_currency"]] == ["EUR", "JPY", "USD"]
    assert doc["totals_by_currency"][0]["break_amount"] == "10.00"
    assert [r["run_id"] for r in doc["trend"]] == ["run-old", "run-mid", "run-new"]
    # The old shape is shown unsplit, never summed across currencies.
    assert doc["trend"][0]["by_currency"] is None
    assert "not split by currency" in doc["trend"][0]["note"]
    assert doc["trend"][1]["by_currency"][0] == {"currency": "EUR", "break_count": 2, "break_amount": "10.00"}
    links = {link["name"]: link for link in doc["links"]}
    assert links["summary.html"]["link"].startswith("file://")
    assert doc["links_expire_at"] is None


def test_report_of_an_old_run_says_totals_are_not_split(reader_env, capsys):
    code, out, _ = _run(capsys, "report", "--run", "run-old")
    assert code == 0
    assert "totals not split by currency" in out
    assert "5400.00" not in out and "\x1b[" not in out
    code, out, _ = _run(capsys, "report", "--run", "run-old", "--json")
    assert json.loads(out)["totals_by_currency"] is None


def test_report_text_lists_currencies_and_links(reader_env, capsys):
    code, out, _ = _run(capsys, "report", "--last", "2")
    assert code == 0
    assert "JPY" in out and "1200.00" in out and "file://" in out and "run-old" not in out


def test_unknown_run_is_one_line(reader_env, capsys):
    code, out, err = _run(capsys, "report", "--run", "nope")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "'nope'" in err


def test_breaks_filters_and_json_parses(reader_env, capsys):
    code, out, _ = _run(capsys, "breaks", "--category", "duplicate_charge", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["count"] == 2 and {b["break_id"] for b in doc["breaks"]} == {"b1", "b4"}
    code, out, _ = _run(capsys, "breaks", "--min-age", "3", "--format", "json")
    assert {b["break_id"] for b in json.loads(out)["breaks"]} == {"b2", "b3"}
    code, out, _ = _run(
        capsys, "breaks", "--currency", "usd", "--lifecycle", "persisting", "--format", "json"
    )
    assert {b["break_id"] for b in json.loads(out)["breaks"]} == {"b2", "b4"}
    code, out, _ = _run(capsys, "breaks", "--format", "csv", "--category", "underpaid")
    lines = out.splitlines()
    assert lines[0].startswith("break_id,") and len(lines) == 2 and lines[1].startswith("b3,")
    code, out, _ = _run(capsys, "breaks", "--run", "run-mid")
    assert "4 break(s)" in out and "b3" in out


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["breaks", "--category", "lost"], "duplicate_charge"),
        (["breaks", "--min-age", "-1"], "--min-age"),
        (["breaks", "--lifecycle", "old"], "--lifecycle"),
        (["breaks", "--currency", "EURO"], "--currency"),
        (["breaks", "--format", "xml"], "--format"),
        (["report", "--last", "0"], "--last"),
    ],
)
def test_bad_values_exit_2_with_one_line(reader_env, capsys, argv, needle):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and needle in err


def test_help_of_both(capsys):
    for command in ("report", "breaks"):
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "days" in out and "--closes" in out


def test_breaks_table_shows_the_order_and_payment_id(reader_env, capsys):
    code, out, _ = _run(capsys, "breaks", "--category", "duplicate_charge")
    header = out.splitlines()[1].split()
    assert code == 0 and header[:3] == ["order_id", "payment_id", "category"], out
    assert any(line.split()[:2] == ["1", "pay_1"] for line in out.splitlines()), out


def test_breaks_into_a_pipe_closed_early_prints_no_traceback(reader_env):
    """Issue 25: `finance-recon breaks | head` printed a BrokenPipeError traceback."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("FINANCE_RECON_")}
    env["FINANCE_RECON_HOME"] = str(reader_env)
    # The reading end is closed before the command writes (it takes ~1 s to start): its first write
    # meets a closed pipe, as `breaks | head` does once head has its lines.
    proc = subprocess.Popen(
        [sys.executable, "-c", "from finance_recon.cli import entry; entry()", "breaks", "--format", "csv"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, err
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
