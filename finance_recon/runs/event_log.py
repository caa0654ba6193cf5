"""The local instance's event log: Dagster's SQLite event log storage, with its connections kept open.

Dagster's `SqliteEventLogStorage` opens a new SQLAlchemy engine and SQLite connection for every
event it stores, commits with a full fsync, and closes the connection again; closing the last
connection of a WAL database checkpoints the log into the database file. A reconciliation stores
~270 events (every dbt model and test is a materialization or a check evaluation, each mirrored into
the index shard): 4-6 s of a 15 s run on two cores under py-spy, most of it in `commit` and `close`,
and 1-2 s of it measured without the profiler (2026-12-07, alternating runs on one home).

This subclass changes only how a shard is connected to:
- one engine per shard, its connection pooled and reused (the few most recently used shards are
  kept; an older one is disposed), still behind the storage's own lock;
- `PRAGMA synchronous=NORMAL` on each connection: in WAL mode a commit no longer waits for an
  fsync. An application crash loses nothing; a power cut may lose the last events, never corrupt
  the file (SQLite's documented guarantee for WAL + NORMAL). The run lock, the run records and the
  published report do not depend on it.

Storing, reading and the schema are Dagster's. `settings.ensure_dagster_home` selects it in every
home it creates (with the home's absolute `base_dir`); the compose stack keeps PostgreSQL storage
(`dagster.postgres.yaml`).
"""

from __future__ import annotations

import os
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster import Field, StringSource

# Private Dagster modules, kept for a measured reason (issue 26; tests/runs/test_event_log.py pins
# the behaviour, docs/benchmarks.md "Framework internals"): the default storage's per-event engine
# and fsync made a 10k-order demo's dbt step 206.6 s against 80.9 s with this storage on the same
# loaded machine (load 8-10, 2026-12-07), and one run's 281 events 15.5 s against 3.1 s (median of
# 10 alternating pairs). Dagster exposes no public setting for either.
from dagster._core.storage.event_log import SqliteEventLogStorage  # the storage extended here
from dagster._core.storage.sql import create_engine  # Dagster's engine settings for its schema
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS  # its lock wait, kept
from dagster._serdes import ConfigurableClassData  # how dagster.yaml hands a storage its config
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

# The index shard and the shards of the few runs being written or read at a time.
KEEP_ENGINES = 4


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` that keeps one pooled engine per shard (see the module docstring)."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(base_dir, inst_data)
        _STORAGES.add(self)

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"base_dir": Field(StringSource)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any):
        return cls(inst_data=inst_data, **dict(config_value or {}))

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = create_engine(
            self.conn_string_for_shard(shard),
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=-1,  # _initdb nests connections; extra ones are closed when returned
            # The storage's lock serialises every use; the event-log watcher is another thread.
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        event.listen(engine, "connect", _synchronous_normal)
        self._engines[shard] = engine
        while len(self._engines) > KEEP_ENGINES:
            _shard, oldest = self._engines.popitem(last=False)
            oldest.dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _dispose_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                _shard, engine = self._engines.popitem()
                engine.dispose()

    def wipe(self) -> None:
        self._dispose_engines()  # the run shards' files are deleted: no connection may outlive them
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()


def _forget_engines_after_fork() -> None:
    """A forked child must not use (or close) the parent's SQLite connections: SQLAlchemy's advice is
    to drop the pools without closing what they hold; the child connects anew."""
    for storage in list(_STORAGES):
        for engine in storage._engines.values():
            engine.dispose(close=False)
        storage._engines.clear()


_STORAGES: weakref.WeakSet[PooledSqliteEventLogStorage] = weakref.WeakSet()
os.register_at_fork(after_in_child=_forget_engines_after_fork)


def _synchronous_normal(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
