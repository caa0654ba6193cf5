"""Where a CLI run's output goes.

People see one line per stage (extract, checks, reconcile, publish) as it starts and ends, with row
counts and seconds, a progress bar while a stage runs when the stream is a terminal, then the summary.
Everything else — dbt's event stream (dagster-dbt writes it to file descriptor 1), Dagster's log
lines, third-party warnings, Spark's JVM — goes to a log file under `$FINANCE_RECON_HOME/logs/`, and
also to the terminal's stderr with `-v`. With `--json`, stdout carries the one JSON document and the
stage lines go to stderr.

The routing works on file descriptors, not `sys.stdout`: dbt and the JVM are subprocesses that
inherit descriptors 1 and 2. A pipe replaces both while the run lasts; a thread copies it to the file
(and to the terminal with `-v`).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from finance_recon.contracts import SOURCE_TABLES

STAGES = ("extract", "checks", "land", "reconcile", "publish")
# Per source table: its batch is read (extract), its checks run on the batch (checks), the checked
# batch is merged into the landed table (land). Then dbt (reconcile) and the report (publish).
_SOURCE_BATCHES_STEP = "source_batches"  # names.SOURCE_BATCHES_NAME: every table's batch, one step
_STAGE_OF_STEP = {
    _SOURCE_BATCHES_STEP: "extract",
    **{table.batch_asset_name: "extract" for table in SOURCE_TABLES},  # a step of one table's batch
    **{table.asset_name: "land" for table in SOURCE_TABLES},
    "reconciliation_dbt_models": "reconcile",  # names.DBT_ASSETS_NAME (names imports Dagster)
    "finance_reconciliation_report": "publish",  # names.REPORT_KEY
}
_TABLE_OF_ASSET = {
    name: table.asset_name for table in SOURCE_TABLES for name in (table.asset_name, table.batch_asset_name)
}


def stage_of(step_key: str) -> str:
    """The user-facing stage of a step. The other steps are asset checks: those of a source's batch
    (`orders_batch_contract`, `payments_batch_source_lag`, …) are the checks stage; those of the dbt
    models (`rpt_reconciliation_summary_report_consistency`) belong to the reconciliation they check,
    those of the report (`finance_reconciliation_report_publication`) to publishing."""
    if step_key in _STAGE_OF_STEP:
        return _STAGE_OF_STEP[step_key]
    if step_key.startswith(tuple(f"{table.batch_asset_name}_" for table in SOURCE_TABLES)):
        return "checks"
    # The report's own checks (its publication read back) belong to publishing.
    return "publish" if step_key.startswith("finance_reconciliation_report_") else "reconcile"


def log_file_path(home: Path, command: str, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return home / "logs" / f"{command}-{stamp}-{os.getpid()}.log"


class _Tee(threading.Thread):
    """Copies what the run writes to descriptors 1 and 2 into the log file (and a terminal with -v)."""

    def __init__(self, read_fd: int, log: IO[bytes], echo_fd: int | None):
        super().__init__(name="finance-recon-log", daemon=True)
        self._read_fd, self._log, self._echo_fd = read_fd, log, echo_fd
        self._finish = threading.Event()

    def stop(self) -> None:
        """Finish once what is already in the pipe is copied. Processes that inherited the pipe and
        outlive the run (multiprocessing's resource tracker, started by a library, lives as long as
        this process) keep it open, so end-of-file may never come before exit."""
        self._finish.set()

    def run(self) -> None:
        import select

        try:
            while True:
                readable, _, _ = select.select([self._read_fd], [], [], 0.05)
                if not readable:
                    if self._finish.is_set():
                        break
                    continue
                chunk = os.read(self._read_fd, 65536)
                if not chunk:
                    break
                self._log.write(chunk)
                self._log.flush()
                if self._echo_fd is not None:
                    with contextlib.suppress(OSError):
                        os.write(self._echo_fd, chunk)
        finally:
            os.close(self._read_fd)


@contextlib.contextmanager
def routed_output(log_path: Path, *, verbose: bool, json_mode: bool) -> Iterator[Console]:
    """Send descriptors 1 and 2 to `log_path` while the block runs; yield the console for people.

    The console writes to the real stdout (stderr with `json_mode`), without ANSI codes when that is
    not a terminal. After the block, descriptors 1 and 2 are restored, so the caller prints the
    summary or the JSON document to the real stdout as usual.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # Colour codes would end up in the log file: dbt and rich-aware libraries honour these.
    os.environ["DBT_USE_COLORS"] = "false"
    os.environ.setdefault("NO_COLOR", "1")
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    people = os.fdopen(os.dup(saved_err if json_mode else saved_out), "w", buffering=1, encoding="utf-8")
    console = Console(file=people, highlight=False, markup=False, soft_wrap=True, emoji=False)
    read_fd, write_fd = os.pipe()
    with open(log_path, "ab") as log:
        tee = _Tee(read_fd, log, saved_err if verbose else None)
        tee.start()
        os.dup2(write_fd, 1)
        os.dup2(write_fd, 2)
        os.close(write_fd)
        try:
            yield console
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
            tee.stop()
            tee.join(timeout=10)
            people.close()


@dataclass
class _Stage:
    name: str
    steps: set[str]
    started_at: float | None = None
    finished: set[str] = field(default_factory=set)
    failed: bool = False
    rows: dict[str, int] = field(default_factory=dict)
    failed_steps: list[str] = field(default_factory=list)
    materialized: int = 0
    carried_forward: int = 0  # materialized without a build (reconciliation/carry_forward.py)
    checks_carried: int = 0  # their tests' results, carried with them (not evaluated)
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)
    task: Any = None

    @property
    def done(self) -> bool:
        return self.finished >= self.steps


class StageReporter:
    """A Dagster event listener printing one line when a stage starts and one when it ends.

    The stages' steps come from the run's execution plan, so a stage ends when its last step does,
    even when Dagster interleaves the steps of two stages.
    """

    def __init__(self, console: Console):
        self._console = console
        self._dbt_models = 0
        self._stages: dict[str, _Stage] | None = None
        self._progress: Progress | None = None
        if console.is_terminal:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
                # sys.stdout/sys.stderr stay routed to the log file: Dagster's handlers write there.
                redirect_stdout=False,
                redirect_stderr=False,
            )

    def _line(self, text: str) -> None:
        (self._progress.console if self._progress else self._console).print(text)

    def _plan(self, instance, run_id: str) -> dict[str, _Stage]:
        from finance_recon.reconciliation.assets import dbt_model_count

        self._dbt_models = dbt_model_count()
        run = instance.get_run_by_id(run_id)
        snapshot = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
        stages: dict[str, _Stage] = {}
        for step in snapshot.steps:
            name = stage_of(step.key)
            stages.setdefault(name, _Stage(name, set())).steps.add(step.key)
        return {name: stages[name] for name in STAGES if name in stages}

    def __call__(self, instance, entry) -> None:
        try:
            self._on_event(instance, entry)
        except Exception as exc:  # progress display must never break a run; the log file tells
            print(f"finance-recon: progress display failed: {exc!r}", file=sys.stderr)

    def _on_event(self, instance, entry) -> None:
        event = entry.dagster_event
        if event is None:
            return
        if self._stages is None:
            self._stages = self._plan(instance, entry.run_id)
        kind = event.event_type_value
        step_key = event.step_key
        if kind in ("RUN_SUCCESS", "RUN_FAILURE"):
            self.close()
            return
        if not step_key:
            return
        stage = self._stages.get(stage_of(step_key))
        if stage is None:
            return
        if kind == "STEP_START" and stage.started_at is None:
            stage.started_at = time.perf_counter()
            self._line(f"{stage.name:<10} started")
            if self._progress is not None:
                if not self._progress.live.is_started:
                    self._progress.start()
                total = self._dbt_models if stage.name == "reconcile" else None
                stage.task = self._progress.add_task(stage.name, total=total)
        elif kind == "ASSET_MATERIALIZATION":
            stage.materialized += 1
            metadata = event.event_specific_data.materialization.metadata
            rows = metadata.get("rows_extracted", metadata.get("rows_merged"))
            if rows is not None:
                asset = event.event_specific_data.materialization.asset_key.to_user_string()
                stage.rows[_TABLE_OF_ASSET.get(asset, asset)] = int(getattr(rows, "value", rows))
            if stage.name == "reconcile" and getattr(metadata.get("rebuilt"), "value", True) is False:
                stage.carried_forward += 1
            items = metadata.get("counts")
            if items is not None and stage.name == "publish":
                stage.rows["items"] = sum(int(n) for n in getattr(items, "value", items).values())
            if stage.task is not None:
                self._progress.advance(stage.task)
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if getattr(evaluation.metadata.get("evaluated"), "value", True) is False:
                stage.checks_carried += 1  # carried with the state (reconciliation/carry_forward.py)
            elif evaluation.passed:
                stage.checks_passed += 1
            else:
                key = evaluation.asset_check_key
                stage.checks_failed.append(f"{key.asset_key.to_user_string()}:{key.name}")
        elif kind == "STEP_UP_FOR_RETRY":
            for text in _retry_texts(step_key, event.event_specific_data):
                self._line(f"{stage.name:<10} {'retry':<7} {text}")
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            stage.finished.add(step_key)
            if kind == "STEP_FAILURE":
                stage.failed = True
                stage.failed_steps.append(step_key)
            if stage.done:
                self._end(stage)

    def _end(self, stage: _Stage) -> None:
        if stage.started_at is None:
            return
        seconds = time.perf_counter() - stage.started_at
        stage.started_at = None
        stage.finished |= stage.steps
        if stage.task is not None:
            self._progress.remove_task(stage.task)
            stage.task = None
        self._line(
            f"{stage.name:<10} {'FAILED' if stage.failed else 'done':<7} {_detail(stage)}  {seconds:.1f}s"
        )

    def close(self) -> None:
        """End the stages still open (a failed run stops mid-way) and the progress display."""
        for stage in (self._stages or {}).values():
            self._end(stage)
        if self._progress is not None and self._progress.live.is_started:
            self._progress.stop()


def _retry_texts(step_key: str, data) -> list[str]:
    """What a retry is waiting for, one line per line of the message of the error that asked for it
    (the extraction's: one per table, with the cause and the time of the next attempt), else the
    step and the wait."""
    error = getattr(data, "error", None)
    while error is not None and error.cause is not None and "RetryRequested" in (error.cls_name or ""):
        error = error.cause
    text = (error.message if error is not None else "").strip()
    if error is not None and error.cls_name:  # "module.ClassName: message" → the message
        text = re.sub(rf"^[\w.]*{re.escape(error.cls_name)}: ?", "", text)
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    wait = getattr(data, "seconds_to_wait", None)
    return lines or [f"{step_key}: retrying" + (f" in {wait:g} s" if wait else "")]


def _detail(stage: _Stage) -> str:
    checks = f"{stage.checks_passed} checks passed" + (
        f", {len(stage.checks_failed)} failed ({', '.join(stage.checks_failed)})"
        if stage.checks_failed
        else ""
    )
    if stage.name in ("extract", "land"):
        # Per source table: the one that failed first, so "FAILED" is never read as the one whose
        # rows are shown, then the rows read (extract) or merged (land).
        rows_of, nothing = (
            ("rows", "no rows") if stage.name == "extract" else ("rows merged", "nothing merged")
        )
        failed = [
            _TABLE_OF_ASSET.get(step, step) for step in stage.failed_steps if step != _SOURCE_BATCHES_STEP
        ]
        if _SOURCE_BATCHES_STEP in stage.failed_steps:  # the tables that step did not materialize
            failed += [t.asset_name for t in SOURCE_TABLES if t.asset_name not in stage.rows]
        parts = [f"{name} failed" for name in failed]
        parts += [f"{name} {rows:,} {rows_of}" for name, rows in stage.rows.items() if name not in failed]
        return ", ".join(parts) or nothing
    if stage.name == "reconcile":
        if stage.carried_forward and stage.carried_forward == stage.materialized:
            # reconciliation/carry_forward.py: nothing was dirty, dbt did not run.
            return (
                f"nothing dirty: {stage.materialized} models and {stage.checks_carried} tests carried forward "
                f"(dbt not run), {checks}"
            )
        return f"{stage.materialized} models, {checks.replace('checks', 'tests')}"
    if stage.name == "publish":
        return f"{stage.rows['items']:,} items published" if "items" in stage.rows else "nothing published"
    return checks


def run_with_output(command: str, settings, *, verbose: bool, json_mode: bool, work):
    """Call `work(console, reporter)` with the output routed; return (its result, the log path).

    An unexpected exception becomes one line on stderr naming the log file (which has the traceback)
    and exit 1, as a failed run does.
    """
    import traceback

    from finance_recon.cli.errors import RunCrashed

    log_path = log_file_path(settings.home, command)
    try:
        with routed_output(log_path, verbose=verbose, json_mode=json_mode) as console:
            reporter = StageReporter(console)
            try:
                return work(console, reporter), log_path
            except BaseException:
                traceback.print_exc()  # into the log file
                raise
            finally:
                reporter.close()
    except Exception as exc:
        from finance_recon.sources.errors import one_line

        raise RunCrashed(f"failed: {type(exc).__name__}: {one_line(exc)} (log: {log_path})") from None


def print_outcome(outcome, expected_counts: dict[str, int] | None = None) -> None:
    """The summary of a published run for people, on stdout: the manifest, warnings, the report."""
    from finance_recon.cli.pipeline import format_summary

    print(format_summary(outcome.manifest, expected_counts=expected_counts))
    for warning in outcome.warnings:
        print(f"warning          {warning['check']} ({warning['severity']}): {warning['description']}")
    print(f"report           {outcome.report_url}")
    if outcome.report_link and outcome.report_link != outcome.report_url:
        print(f"report link      {outcome.report_link}")


def print_failure(command: str, outcome, log_path: Path) -> None:
    """A failed run in one line on stderr: its run id (none when no run started), cause and log file."""
    run = f" ({outcome.run_id})" if outcome.run_id else ""
    print(f"finance-recon {command}: FAILED{run}: {outcome.cause} (log: {log_path})", file=sys.stderr)
