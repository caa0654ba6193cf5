"""Land several source tables from one step at once: each table's read in its own thread.

Dagster's in-process executor (jobs.py) runs one step at a time, and its multiprocess executor pays
~20 s of interpreter start-up per step, so two batch steps never overlapped: a run read orders, then
payments. One step that lands every table, each `LandingResource.land` in a thread, overlaps the
reads — what takes the time, network and the drivers' parsing, mostly outside the GIL (the MySQL
client is a subprocess, psycopg2 and PyArrow release the GIL) — with the public API only.

What the threads share, and how:

- the warehouse, which has one writer: `land` holds `writes` (one lock per step) around each write
  to it. Only the short staging transactions queue; the reads from the sources overlap.
- the step's context: a thread never touches it. `land` gets a stand-in with the three things it may
  use (`resources`, `run_id`, `log`); its log lines are queued and written to Dagster's log by the
  step's own thread, in order, as they come.

`land_each` waits for every table before it returns, whatever fails: a thread cannot be stopped
half-way, and the step must not end (nor the run release its lock) while a table is still writing.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from ..contracts import SourceTable

# How often the step's thread writes the queued log lines while the tables are read.
_LOG_EVERY_S = 0.2

Land = Callable[[Any, SourceTable, AbstractContextManager], Mapping[str, Any]]


@dataclass(frozen=True)
class StepView:
    """What `LandingResource.land` may use of the step's context from a thread."""

    resources: Any
    run_id: str
    log: Any


class QueuedLog:
    """A logger with `context.log`'s methods whose lines the step's thread writes (`flush_to`)."""

    def __init__(self, prefix: str):
        self._prefix, self._lines = prefix, queue.SimpleQueue()

    def _put(self, level: str, message: str) -> None:
        self._lines.put((level, f"{self._prefix}{message}"))

    def debug(self, message: str) -> None:
        self._put("debug", message)

    def info(self, message: str) -> None:
        self._put("info", message)

    def warning(self, message: str) -> None:
        self._put("warning", message)

    def error(self, message: str) -> None:
        self._put("error", message)

    def flush_to(self, log: Any) -> None:
        while True:
            try:
                level, message = self._lines.get_nowait()
            except queue.Empty:
                return
            getattr(log, level)(message)


def land_each(
    context: Any, tables: list[SourceTable], land: Land, *, concurrent: bool
) -> dict[str, Mapping[str, Any] | BaseException]:
    """`land(context, table, writes)` for each table; per table name its metadata or the exception it
    raised. With `concurrent` (and more than one table) each in its own thread, else one after the
    other in this thread with the step's own context."""
    outcomes: dict[str, Mapping[str, Any] | BaseException] = {}
    if not concurrent or len(tables) < 2:
        writes = threading.Lock()
        for table in tables:
            try:
                outcomes[table.asset_name] = land(context, table, writes)
            except Exception as exc:
                outcomes[table.asset_name] = exc
        return outcomes

    writes = threading.Lock()
    logs = {table.asset_name: QueuedLog(f"{table.asset_name}: ") for table in tables}
    with ThreadPoolExecutor(max_workers=len(tables), thread_name_prefix="finance-recon-read") as pool:
        futures: dict[Future, SourceTable] = {
            pool.submit(
                land,
                StepView(context.resources, context.run_id, logs[table.asset_name]),
                table,
                writes,
            ): table
            for table in tables
        }
        pending = set(futures)
        while pending:
            _done, pending = wait(pending, timeout=_LOG_EVERY_S, return_when=FIRST_COMPLETED)
            for log in logs.values():
                log.flush_to(context.log)
    for log in logs.values():
        log.flush_to(context.log)
    for future, table in futures.items():
        exc = future.exception()
        outcomes[table.asset_name] = exc if exc is not None else future.result()
    # In the tables' order, whichever finished first.
    return {table.asset_name: outcomes[table.asset_name] for table in tables}
