"""Run a `Suite` with Great Expectations 1.x and summarise the outcome for a Dagster check.

GX is imported here, inside `run_suite`, never at module import (5-7 s and ~230 MB on the shared
2-core machine, PySpark included when the `spark` extra is installed: docs/benchmarks.md, "Framework
internals removed, and the one kept"), as GX imports itself (`_import_gx`). Data arrives as pandas
frames in chunks and GX's pandas engine evaluates the expectations: callers split big batches so
that memory stays bounded, and split them by a hash of the primary key so that a duplicate key
always lands in one chunk (uniqueness stays exact across chunks). Results of all chunks are merged
per rule; GX is asked for SUMMARY results (counts and the first unexpected values, never the full
list of unexpected rows).

Why not GX's SQL datasource on the DuckDB warehouse: GX 1.24 has no DuckDB dialect, and with the
SQLAlchemy dialect `duckdb_engine` 0.17 under SQLAlchemy 2.1 it computes nothing — GX fetches
results after returning the connection to the pool (a DuckDB connection holds one pending result, so
it comes back empty: `table.row_count` fails with "list index out of range") and column reflection
queries `pg_catalog.pg_collation`, which DuckDB lacks (so every type rule errors). Working around
both means patching GX and the dialect (GX issues #10738, #11579), so the checks stay on GX's pandas engine.

Where the time went on a 1M-row batch (profiled, `docs/benchmarks.md` "GX contract checks"), and what
keeps it down: the GX import (~3 s, half of it scipy.stats, which only distribution expectations use;
paid once per process that validates rows, as GX imports it: loading scipy.stats lazily through
sys.modules was removed, issue 26); Decimal objects built per amount and GX evaluating every type rule
per value on `object` columns (the frames are Arrow-backed instead, see `batches`); GX evaluating a
range on a DECIMAL column one Python call per value (screened by the column's min, `suites.Screen`);
GX's per-validation overhead, paid per chunk (chunks are large). An empty batch imports nothing
(`empty_outcome`): there is no row to validate. GX is not imported ahead in a background thread
while the run does other work (tried 2026-12-07, ~1.5 s less per run): two threads importing
modules both need (sqlalchemy.orm) can leave one of them a partially initialized module, which failed
a run in CI.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from finance_recon.quality.suites import Rule, Suite

SAMPLE_SIZE = 5
KEYS_IN_MESSAGE = 5  # keys named in a failure's one-line message (all of them are in the metadata)


class GreatExpectationsUnavailable(RuntimeError):
    """GX could not be imported (never let a broken install pass a check silently)."""


def _import_gx():
    # GX sends anonymous usage events by default; this platform runs offline.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    # GX imports pyspark whenever it is installed (the `spark` extra), and pyspark's connect module
    # takes a `__main__` without `__file__` or `__spec__` (a run worker started by the daemon,
    # `python -c`) for a doctest run and calls sys.exit(0) when pyspark[connect]'s extras are absent
    # (pyspark/sql/connect/utils.py, `check_dependencies`). Give such a `__main__` a file name first.
    main = sys.modules.get("__main__")
    if main is not None and getattr(main, "__spec__", None) is None and not hasattr(main, "__file__"):
        main.__file__ = "<finance_recon>"
    try:
        with warnings.catch_warnings():
            # pyspark 4.3 warns at import that it does not fully support pandas 3: not used here.
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"pyspark(\.|$)")
            import great_expectations as gx
            import great_expectations.expectations as gxe
    except SystemExit as exc:  # pyspark's optional-dependency probe can call sys.exit(0) mid-import
        raise GreatExpectationsUnavailable(f"importing great_expectations exited ({exc!r})") from None
    except ImportError as exc:
        raise GreatExpectationsUnavailable(f"great_expectations is not importable: {exc}") from None
    return gx, gxe


@dataclass
class RuleOutcome:
    rule: Rule
    success: bool = True
    unexpected_count: int = 0
    samples: list[Any] = field(default_factory=list)
    observed: Any = None
    error: str | None = None
    # Primary keys of the rows that failed (at most the `max_keys` run_suite was given): how messages
    # and `finance-recon accept` name the offending rows.
    keys: list[Any] = field(default_factory=list)
    key_column: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "expectation": _snake(self.rule.expectation),
            "column": self.rule.column,
            "rule": self.rule.rule,
            "unexpected_count": self.unexpected_count,
            "sample_values": [_jsonable(v) for v in self.samples],
            "keys": [_jsonable(k) for k in self.keys],
        }
        if self.observed is not None:
            out["observed_value"] = _jsonable(self.observed)
        if self.error:
            out["error"] = self.error
        return out

    def message(self, table: str) -> str:
        where = f"{table}.{self.rule.column}" if self.rule.column else table
        text = f"{where} violates '{self.rule.rule}'"
        if self.error:
            return f"{text} (evaluation error: {self.error})"
        if self.unexpected_count:
            text += f": {self.unexpected_count} unexpected"
            if self.samples:
                text += f", e.g. {', '.join(repr(_jsonable(v)) for v in self.samples[:3])}"
            if self.keys and self.key_column:
                shown = ", ".join(repr(_jsonable(k)) for k in self.keys[:KEYS_IN_MESSAGE])
                more = ", …" if len(self.keys) > KEYS_IN_MESSAGE else ""
                text += f" ({self.key_column} {shown}{more})"
        elif self.observed is not None:
            text += f": observed {_jsonable(self.observed)!r}"
        return text


@dataclass
class SuiteOutcome:
    suite: Suite
    rules: list[RuleOutcome]
    rows: int
    gx_version: str
    evaluated: bool = True  # False: no row to validate, no expectation had a row to look at
    staged: int | None = None  # when not evaluated: the rows the run staged (None: not counted)

    @property
    def success(self) -> bool:
        return all(r.success for r in self.rules)

    @property
    def failed(self) -> list[RuleOutcome]:
        return [r for r in self.rules if not r.success]

    def description(self) -> str:
        if not self.evaluated:
            not_evaluated = f"{len(self.suite.rules)} expectations not evaluated"
            if self.staged:  # rows were staged, none needed checking (the caller says why)
                return f"{self.suite.table}: 0 new row versions to validate ({not_evaluated})"
            if self.staged is None:
                return f"{self.suite.table}: 0 rows to validate ({not_evaluated})"
            return (
                f"{self.suite.table}: empty batch, 0 rows validated ({not_evaluated}: nothing was extracted)"
            )
        if self.success:
            return f"{self.suite.table}: {len(self.rules)} expectations passed on {self.rows} rows"
        return "; ".join(r.message(self.suite.table) for r in self.failed)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if value != value else value  # NaN (a null in pandas) → None
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        try:
            return value.isoformat()
        except ValueError:  # NaT
            return None
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    text = str(value)
    return None if text in ("<NA>", "NaT", "nan") else text


def empty_outcome(suite: Suite, *, staged: int | None = 0) -> SuiteOutcome:
    """The outcome for no row to validate, without importing GX (~1.5 s for nothing to validate);
    `staged`: how many rows the run staged (all of them needing no check), None when not counted."""
    from importlib.metadata import version

    return SuiteOutcome(
        suite=suite,
        rules=[],
        rows=0,
        gx_version=version("great_expectations"),
        evaluated=False,
        staged=staged,
    )


def run_suite(
    suite: Suite, frames: Iterable[Any], *, key_column: str | None = None, max_keys: int = SAMPLE_SIZE
) -> SuiteOutcome:
    """Validate every frame of `frames` (pandas DataFrames) against `suite`; merge per rule.

    A rule with a `screen` is first evaluated through the screen (a GX aggregate expectation that
    passes exactly when the rule does); on a frame where the screen does not pass, GX then evaluates
    the rule itself on that frame, whose result (unexpected count, samples, or its error) is what is
    reported. The screen never fails a rule on its own.
    """
    gx, gxe = _import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas("finance_recon")
        .add_dataframe_asset(suite.name)
        .add_batch_definition_whole_dataframe("batch")
    )

    def expectation(index: int, rule: Rule, *, screened: bool):
        name, kwargs = (
            (rule.screen.expectation, rule.screen.kwargs) if screened else (rule.expectation, rule.kwargs)
        )
        meta = {"rule_index": index, "rule": rule.rule, "screen": screened}
        return getattr(gxe, name)(**kwargs, meta=meta)

    first_pass = [
        expectation(i, rule, screened=rule.screen is not None) for i, rule in enumerate(suite.rules)
    ]
    gx_suite = context.suites.add(gx.ExpectationSuite(name=suite.name, expectations=first_pass))
    rule_suites: dict[int, Any] = {}  # rule index → a one-rule suite, built when a screen first misses

    outcomes = [RuleOutcome(rule, key_column=key_column) for rule in suite.rules]
    # SUMMARY with the key column: each failed rule also lists the keys of (up to max_keys of) its rows.
    result_format: Any = (
        {
            "result_format": "SUMMARY",
            "unexpected_index_column_names": [key_column],
            "partial_unexpected_count": max_keys,
        }
        if key_column
        else "SUMMARY"
    )
    rows = 0
    validated_any = False
    with _no_frame_fingerprint():
        for frame in frames:
            validated_any = True
            rows += len(frame)
            batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
            # SUMMARY carries everything `_merge` reads (unexpected_count, the first 20 unexpected
            # values, observed_value, details). COMPLETE would also build the list of every unexpected
            # value and its index: on a bad 1M-row batch that is millions of Python objects, unbounded.
            validation = batch.validate(gx_suite, result_format=result_format)
            missed = [
                r.expectation_config.meta["rule_index"] for r in validation.results if _screen_missed(r)
            ]
            _merge(outcomes, validation, max_keys)
            for index in missed:
                if index not in rule_suites:
                    rule_suites[index] = context.suites.add(
                        gx.ExpectationSuite(
                            name=f"{suite.name}__rule_{index}",
                            expectations=[expectation(index, suite.rules[index], screened=False)],
                        )
                    )
                _merge(outcomes, batch.validate(rule_suites[index], result_format=result_format), max_keys)
            del frame, batch, validation  # one chunk in memory at a time (the next is read on `next`)
    if not validated_any:
        raise ValueError(f"{suite.name}: no frame to validate (pass an empty frame for an empty batch)")
    return SuiteOutcome(suite=suite, rules=outcomes, rows=rows, gx_version=gx.__version__)


def _screen_missed(result) -> bool:
    """A screen's result that does not clear its rule: failed, or raised (the rule then reports why)."""
    return bool(result.expectation_config.meta.get("screen")) and not (
        result.success and _exception_message(result.exception_info or {}) is None
    )


@contextmanager
def _no_frame_fingerprint() -> Iterator[None]:
    """Skip GX's md5 fingerprint of every frame while our frames are validated.

    PandasExecutionEngine.get_batch_data_and_markers hashes each frame under `HASH_THRESHOLD` bytes
    (`pd.util.hash_pandas_object` over every cell, twice per frame: once for `get_batch`, once for
    `validate`) only to store it as the batch marker `pandas_data_fingerprint`, which nothing in GX
    reads and these checks never persist. It was ~60% of the validation time of a 250k-row chunk.
    Setting the threshold to 0 takes GX's own "frame too big to fingerprint" branch; no expectation is
    affected. Restored afterwards (a check step runs its validations sequentially in one process).
    GX has no public setting for it: tests/quality/test_gx_runner.py pins that the constant still
    switches the fingerprint off, and only inside this context.
    """
    from great_expectations.execution_engine import pandas_execution_engine as engine

    saved = engine.HASH_THRESHOLD
    engine.HASH_THRESHOLD = 0
    try:
        yield
    finally:
        engine.HASH_THRESHOLD = saved


def _exception_message(info: dict) -> str | None:
    """The error of a result's exception_info, or None. GX puts it at the top level when the
    expectation raised, and under one key per metric (MetricConfigurationID → {...}) when a metric it
    needs could not be computed; both fail the rule and name the error (not a bare failure)."""
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "error")
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message") or "error")
    return None


def _merge(outcomes: list[RuleOutcome], validation, max_keys: int = SAMPLE_SIZE) -> None:
    for result in validation.results:
        if result.expectation_config.meta.get("screen"):
            continue  # a screen only decides whether its rule is evaluated (`run_suite`)
        index = result.expectation_config.meta["rule_index"]
        out = outcomes[index]
        error = _exception_message(result.exception_info or {})
        if error is not None:
            out.success = False
            out.error = " ".join(error.split())[:300]
            continue
        if result.success:
            continue
        out.success = False
        payload = result.result or {}
        out.unexpected_count += int(payload.get("unexpected_count") or 0)
        if out.observed is None and "observed_value" in payload:
            out.observed = payload["observed_value"]
        for value in payload.get("partial_unexpected_list") or []:
            if len(out.samples) >= SAMPLE_SIZE:
                break
            if value not in out.samples:
                out.samples.append(value)
        for row in payload.get("partial_unexpected_index_list") or []:
            key = row.get(out.key_column) if isinstance(row, dict) else None
            if key is not None and len(out.keys) < max_keys and key not in out.keys:
                out.keys.append(key)
        if not payload.get("partial_unexpected_list") and payload.get("details"):
            out.observed = payload["details"]
