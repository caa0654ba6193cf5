"""How `gx_runner` drives Great Expectations: GX imported as it imports itself (no module hidden or
deferred), no silent pass on a metric that GX could not compute."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from finance_recon.settings import PROJECT_ROOT


def test_validating_a_batch_in_a_python_c_process_imports_gx_as_gx_imports_itself(tmp_path):
    """GX imports pyspark whenever it is installed (the `spark` extra); nothing hides it any more
    (issue 26: no sys.modules tricks). In a `python -c` process (a `__main__` without a file, as a
    run worker started by the daemon), where pyspark's connect module would call sys.exit(0).

    In a subprocess: this test process may have imported pyspark (or GX) already."""
    code = textwrap.dedent(
        f"""
        import importlib.util, sys
        from datetime import UTC, datetime
        from finance_recon.contracts import ORDERS
        from finance_recon.quality.checks import validate_source_batch
        from finance_recon.sources.landing import batch_table, ensure_landing
        from finance_recon.engines.embedded import EmbeddedWarehouse

        warehouse = EmbeddedWarehouse(path={str(tmp_path / "warehouse.duckdb")!r})
        with warehouse.connection() as conn:
            ensure_landing(conn, ORDERS)
            conn.execute(
                f"INSERT INTO {{batch_table(ORDERS)}} VALUES (1, 7, 'paid', 'USD', 10.00, "
                "TIMESTAMPTZ '2026-11-01 10:00:00+00', TIMESTAMPTZ '2026-11-01 10:01:00+00')"
            )
        result = validate_source_batch(ORDERS, warehouse, None, now=datetime.now(UTC))
        assert result.passed, result.description
        assert "great_expectations" in sys.modules
        installed = importlib.util.find_spec("pyspark") is not None
        print(installed, "pyspark" in sys.modules, sys.modules.get("pyspark") is not None)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    installed, imported, real_module = done.stdout.strip().splitlines()[-1].split()
    # Imported exactly when installed, and a real module, never a placeholder left in sys.modules.
    assert imported == installed and real_module == imported, done.stdout[-2000:]


def test_pyspark_already_imported_is_left_alone():
    """The Spark landing path imports pyspark itself; GX then sees the real module, untouched."""
    code = textwrap.dedent(
        """
        import sys
        import pyspark
        from finance_recon.quality.gx_runner import _import_gx
        _import_gx()
        print(sys.modules["pyspark"] is pyspark)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "True", done.stdout[-2000:]


def test_a_metric_error_fails_the_rule_with_its_message():
    """GX reports a metric it could not compute under exception_info[<metric id>], not at the top."""
    from types import SimpleNamespace

    from finance_recon.quality.gx_runner import RuleOutcome, _merge
    from finance_recon.quality.suites import Rule

    rule = Rule("ExpectColumnValuesToNotBeNull", {"column": "x"}, "x", "not null")
    outcomes = [RuleOutcome(rule)]
    result = SimpleNamespace(
        expectation_config=SimpleNamespace(meta={"rule_index": 0}),
        exception_info={
            "MetricConfigurationID(metric_name='table.row_count')": {
                "raised_exception": True,
                "exception_message": "boom:\n  table gone",
                "exception_traceback": "…",
            }
        },
        success=False,
        result={},
    )
    _merge(outcomes, SimpleNamespace(results=[result]))
    [out] = outcomes
    assert not out.success and out.error == "boom: table gone"
    assert out.message("orders") == "orders.x violates 'not null' (evaluation error: boom: table gone)"


def test_an_empty_batch_passes_without_importing_gx(tmp_path):
    """A rerun with nothing new: a real, passing result saying 0 rows were validated, and no GX import.

    In a subprocess: this test process may have imported GX already."""
    code = textwrap.dedent(
        f"""
        import sys
        from datetime import UTC, datetime
        from finance_recon.contracts import ORDERS
        from finance_recon.quality.checks import validate_source_batch
        from finance_recon.sources.landing import ensure_landing
        from finance_recon.engines.embedded import EmbeddedWarehouse

        warehouse = EmbeddedWarehouse(path={str(tmp_path / "warehouse.duckdb")!r})
        with warehouse.connection() as conn:
            ensure_landing(conn, ORDERS)
        result = validate_source_batch(ORDERS, warehouse, None, now=datetime.now(UTC))
        meta = {{k: v.value for k, v in result.metadata.items()}}
        print(result.passed, result.severity.value, meta["rows_validated"], meta["expectations_evaluated"],
              meta["expectations_failed"], bool(meta["great_expectations_version"]))
        print(result.description)
        print("great_expectations" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary, description, gx_imported = done.stdout.strip().splitlines()[-3:]
    assert summary == "True ERROR 0 0 0 True", done.stdout[-2000:]
    assert description.startswith("orders: empty batch, 0 rows validated ("), description
    assert gx_imported == "False"


def test_scipy_stats_works_after_the_gx_import():
    """GX imports scipy.stats itself (half of its import time); no lazily loaded module stands in
    for it any more (issue 26: no sys.modules tricks), and it works."""
    code = textwrap.dedent(
        """
        import importlib.util, sys
        from finance_recon.quality.gx_runner import _import_gx
        _import_gx()
        print("scipy.stats._stats_py" in sys.modules)
        from scipy import stats
        print(stats.norm.cdf(0.0), isinstance(stats.__spec__.loader, importlib.util.LazyLoader))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-2:] == ["True", "0.5 False"], done.stdout[-2000:]


def test_the_frame_fingerprint_is_skipped_inside_the_context_and_only_there():
    """The one GX internal this module touches, with its measured reason beside it
    (`_no_frame_fingerprint`: the md5 of every frame was ~60% of a 250k-row chunk's validation, and
    GX has no setting for it). Pinned here so an upgrade that renames or ignores GX's module constant
    fails this test: GX fingerprints a frame by default, not inside the context, and the constant is
    restored afterwards."""
    import pandas as pd

    from finance_recon.quality.gx_runner import _import_gx, _no_frame_fingerprint

    gx, _gxe = _import_gx()
    from great_expectations.execution_engine import pandas_execution_engine as engine

    context = gx.get_context(mode="ephemeral")
    definition = (
        context.data_sources.add_pandas("fingerprint")
        .add_dataframe_asset("frame")
        .add_batch_definition_whole_dataframe("batch")
    )
    frame = pd.DataFrame({"x": [1, 2, 3]})
    saved = engine.HASH_THRESHOLD

    def markers() -> dict:
        return dict(definition.get_batch(batch_parameters={"dataframe": frame}).batch_markers)

    assert "pandas_data_fingerprint" in markers()
    with _no_frame_fingerprint():
        assert "pandas_data_fingerprint" not in markers()
    assert saved == engine.HASH_THRESHOLD
    assert "pandas_data_fingerprint" in markers()


def _orders_frame(amounts: list[str]):
    """A contract-typed orders frame (as `batches.frames` builds it) with the given total_amounts."""
    from datetime import UTC, datetime
    from decimal import Decimal

    import pandas as pd
    import pyarrow as pa

    n = len(amounts)
    ts = pd.Series(pd.to_datetime([datetime(2026, 11, 1, 10, tzinfo=UTC)] * n, utc=True))
    return pd.DataFrame(
        {
            "order_id": pd.array(range(1, n + 1), dtype="Int64"),
            "customer_id": pd.array([7] * n, dtype="Int64"),
            "status": pd.Series(["paid"] * n, dtype="str"),
            "currency": pd.Series(["USD"] * n, dtype="str"),
            "total_amount": pd.array(
                [Decimal(a) for a in amounts], dtype=pd.ArrowDtype(pa.decimal128(18, 2))
            ),
            "created_at": ts,
            "updated_at": ts,
        }
    )


def test_a_screened_rule_reports_its_own_counts_and_samples_from_the_chunks_that_miss():
    """The amount range is screened by GX's column min; a chunk whose min is below the bound gets the
    rule itself evaluated there, so counts and samples are the rule's, summed over the chunks."""
    from datetime import UTC, datetime

    from finance_recon.contracts import ORDERS
    from finance_recon.quality.gx_runner import run_suite
    from finance_recon.quality.suites import source_suite

    suite = source_suite(ORDERS, datetime(2026, 12, 1, tzinfo=UTC))
    [amount_rule] = [r for r in suite.rules if r.column == "total_amount" and r.screen is not None]
    assert amount_rule.screen.expectation == "ExpectColumnMinToBeBetween"
    chunks = [
        _orders_frame(["1.00", "0.00", "3.50"]),  # clean: the screen passes (min 0.00 ≥ 0)
        _orders_frame(["-0.01", "2.00", "-7.25"]),  # two below
        _orders_frame(["5.00"]),  # clean
        _orders_frame(["-1.00"]),  # one below
    ]
    outcome = run_suite(suite, chunks)
    assert outcome.rows == 8
    [failed] = outcome.failed
    assert failed.rule is amount_rule
    assert failed.unexpected_count == 3
    assert sorted(str(v) for v in failed.samples) == ["-0.01", "-1.00", "-7.25"]
    assert failed.as_dict()["sample_values"] == ["-0.01", "-7.25", "-1.00"]
    assert "orders.total_amount violates 'amount ≥ 0': 3 unexpected" in outcome.description()


def test_a_screen_that_cannot_be_evaluated_falls_back_to_the_rule_and_its_error():
    """A screen never passes a rule it could not evaluate: the rule runs and names what went wrong."""
    from datetime import UTC, datetime

    from finance_recon.contracts import ORDERS
    from finance_recon.quality.gx_runner import run_suite
    from finance_recon.quality.suites import source_suite

    frame = _orders_frame(["1.00", "2.00"]).drop(columns=["total_amount"])
    outcome = run_suite(source_suite(ORDERS, datetime(2026, 12, 1, tzinfo=UTC)), [frame])
    failed = {r.rule.label: r for r in outcome.failed}
    amount = failed["total_amount: amount ≥ 0"]
    assert amount.error and "total_amount" in amount.error, amount
    assert "exactly the contract columns" in " ".join(failed)


def test_frames_are_arrow_backed_without_python_objects(tmp_path):
    """No `object` column: strings and decimals stay in Arrow, so GX checks types per dtype."""
    import pandas as pd
    import pyarrow as pa

    from finance_recon.contracts import PAYMENTS
    from finance_recon.engines.embedded import EmbeddedWarehouse
    from finance_recon.quality.batches import batch_for_check, frames
    from finance_recon.sources.landing import batch_table, ensure_landing

    warehouse = EmbeddedWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    with warehouse.connection() as conn:
        ensure_landing(conn, PAYMENTS)
        conn.execute(
            f"INSERT INTO {batch_table(PAYMENTS)} VALUES ('p1', NULL, 'stripe', 'charge', 'succeeded', 'EUR', "
            "12.34, TIMESTAMPTZ '2026-11-01 10:00:00+00', TIMESTAMPTZ '2026-11-01 10:01:00+00')"
        )
    with batch_for_check(warehouse, PAYMENTS) as (data, rows, _full_read, *_):
        [frame] = list(frames(data, rows, PAYMENTS.primary_key))
    dtypes = frame.dtypes.to_dict()
    assert not [c for c, d in dtypes.items() if str(d) == "object"], dtypes
    assert dtypes["amount"] == pd.ArrowDtype(pa.decimal128(18, 2))
    assert dtypes["order_id"] == pd.Int64Dtype() and frame["order_id"].isna().all()
    assert str(dtypes["created_at"]) == "datetime64[us, UTC]"
    assert str(frame["amount"].iloc[0]) == "12.34"
