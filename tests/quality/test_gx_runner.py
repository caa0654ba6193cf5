"""How `gx_runner` drives Great Expectations: no PySpark in the embedded path, no silent pass on a
metric that GX could not compute."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from finance_recon.settings import PROJECT_ROOT


def test_validating_a_batch_does_not_import_pyspark(tmp_path):
    """GX imports pyspark whenever it is installed; `_import_gx` hides it unless it is already loaded.

    In a subprocess: this test process may have imported pyspark (or GX) already."""
    code = textwrap.dedent(
        f"""
        import sys
        from datetime import UTC, datetime
        from finance_recon.contracts import ORDERS
        from finance_recon.quality.checks import validate_source_batch
        from finance_recon.sources.landing import batch_table, ensure_landing
        from finance_recon.warehouse import WarehouseResource

        warehouse = WarehouseResource(path={str(tmp_path / "warehouse.duckdb")!r})
        with warehouse.connection() as conn:
            ensure_landing(conn, ORDERS)
            conn.execute(
                f"INSERT INTO {{batch_table(ORDERS)}} VALUES (1, 7, 'paid', 'USD', 10.00, "
                "TIMESTAMPTZ '2026-11-01 10:00:00+00', TIMESTAMPTZ '2026-11-01 10:01:00+00')"
            )
        result = validate_source_batch(ORDERS, warehouse, None, now=datetime.now(UTC))
        assert result.passed, result.description
        assert "great_expectations" in sys.modules
        print("pyspark" in sys.modules, sys.modules.get("pyspark", "absent"))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # Not imported, and no `None` placeholder left behind for the project's own `import pyspark`.
    assert done.stdout.strip().splitlines()[-1] == "False absent", done.stdout[-2000:]


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
