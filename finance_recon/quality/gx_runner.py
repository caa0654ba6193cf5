"""Run a `Suite` with Great Expectations 1.x and summarise the outcome for a Dagster check.

GX is imported here, inside `run_suite`, never at module import (5–10 s and ~300 MB). Data arrives
as pandas frames in chunks: callers split big batches so that memory stays bounded, and split them
by a hash of the primary key so that a duplicate key always lands in one chunk (uniqueness stays
exact across chunks). Results of all chunks are merged per rule.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from finance_recon.quality.suites import Rule, Suite

SAMPLE_SIZE = 5


class GreatExpectationsUnavailable(RuntimeError):
    """GX could not be imported (never let a broken install pass a check silently)."""


def _import_gx():
    # GX sends anonymous usage events by default; this platform runs offline.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    # GX probes pyspark, whose connect module takes a `__main__` without `__file__` or `__spec__`
    # (a run worker started by the daemon, `python -c`) for a doctest run and calls sys.exit(0)
    # when pyspark[connect]'s extras are absent. Give such a `__main__` a file name first.
    main = sys.modules.get("__main__")
    if main is not None and getattr(main, "__spec__", None) is None and not hasattr(main, "__file__"):
        main.__file__ = "<finance_recon>"
    try:
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

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "expectation": _snake(self.rule.expectation),
            "column": self.rule.column,
            "rule": self.rule.rule,
            "unexpected_count": self.unexpected_count,
            "sample_values": [_jsonable(v) for v in self.samples],
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
        elif self.observed is not None:
            text += f": observed {_jsonable(self.observed)!r}"
        return text


@dataclass
class SuiteOutcome:
    suite: Suite
    rules: list[RuleOutcome]
    rows: int
    gx_version: str

    @property
    def success(self) -> bool:
        return all(r.success for r in self.rules)

    @property
    def failed(self) -> list[RuleOutcome]:
        return [r for r in self.rules if not r.success]

    def description(self) -> str:
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


def run_suite(suite: Suite, frames: Iterable[Any]) -> SuiteOutcome:
    """Validate every frame of `frames` (pandas DataFrames) against `suite`; merge per rule."""
    gx, gxe = _import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas("finance_recon")
        .add_dataframe_asset(suite.name)
        .add_batch_definition_whole_dataframe("batch")
    )
    expectations = []
    for index, rule in enumerate(suite.rules):
        cls = getattr(gxe, rule.expectation)
        expectations.append(cls(**rule.kwargs, meta={"rule_index": index, "rule": rule.rule}))
    gx_suite = context.suites.add(gx.ExpectationSuite(name=suite.name, expectations=expectations))

    outcomes = [RuleOutcome(rule) for rule in suite.rules]
    rows = 0
    validated_any = False
    for frame in frames:
        validated_any = True
        rows += len(frame)
        _merge(
            outcomes,
            batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(
                gx_suite, result_format="COMPLETE"
            ),
        )
    if not validated_any:
        raise ValueError(f"{suite.name}: no frame to validate (pass an empty frame for an empty batch)")
    return SuiteOutcome(suite=suite, rules=outcomes, rows=rows, gx_version=gx.__version__)


def _merge(outcomes: list[RuleOutcome], validation) -> None:
    for result in validation.results:
        index = result.expectation_config.meta["rule_index"]
        out = outcomes[index]
        info = result.exception_info or {}
        if info.get("raised_exception"):
            out.success = False
            out.error = " ".join(str(info.get("exception_message") or "error").split())[:300]
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
        if not payload.get("partial_unexpected_list") and payload.get("details"):
            out.observed = payload["details"]
