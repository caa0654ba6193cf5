"""What every reader shares: the contract check and the conversion of batches to the contract schema."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pyarrow as pa

from ...contracts import SourceTable
from ..errors import ContractViolationError, SourceUnavailableError, one_line, unavailable_reason
from ..urls import SourceUrl


class SourceColumn(NamedTuple):
    """One row of `information_schema.columns`, normalised."""

    name: str
    data_type: str  # lower case, e.g. "decimal", "timestamp with time zone", "decimal(18,2)"
    precision: int | None
    scale: int | None


def describe_contract_type(table: SourceTable, column: str) -> str:
    col = table.column(column)
    if col.warehouse_type.startswith("DECIMAL"):
        return "DECIMAL(18,2)/NUMERIC(18,2)"
    if col.warehouse_type == "TIMESTAMPTZ":
        return "DATETIME/TIMESTAMP(TZ)"
    if col.warehouse_type == "BIGINT":
        return "BIGINT"
    return "VARCHAR/CHAR"


def verify_columns(table: SourceTable, found: Iterable[SourceColumn], where: str) -> dict[str, SourceColumn]:
    """Raise `ContractViolationError` naming table and column unless every contract column is present
    with an accepted type. Extra columns are ignored (contracts §1)."""
    by_name = {c.name.lower(): c for c in found}
    if not by_name:
        raise ContractViolationError(
            f"{where}: table {table.table} does not exist (contracts §1 requires it)"
        )
    checked: dict[str, SourceColumn] = {}
    for col in table.columns:
        src = by_name.get(col.name)
        if src is None:
            raise ContractViolationError(
                f"{where}: table {table.table} is missing column {col.name} "
                f"(expected {describe_contract_type(table, col.name)})"
            )
        data_type = src.data_type.lower()
        ok = data_type.startswith(col.source_types) and not data_type.startswith("interval")
        if ok and col.warehouse_type.startswith("DECIMAL"):
            ok = src.scale == 2 and src.precision is not None and src.precision <= 18
        if not ok:
            shown = data_type
            if src.precision is not None and data_type in ("decimal", "numeric"):
                shown = f"{data_type}({src.precision},{src.scale})"
            raise ContractViolationError(
                f"{where}: table {table.table} column {col.name} has type {shown}, "
                f"expected {describe_contract_type(table, col.name)}"
            )
        checked[col.name] = src
    return checked


def conform(batch: pa.RecordBatch, table: SourceTable, where: str) -> pa.RecordBatch:
    """Cast a batch to exactly the contract schema; a lossy cast (e.g. a third decimal) is a violation."""
    schema = table.arrow_schema
    arrays = []
    for i, field in enumerate(schema):
        arr = batch.column(i)
        if arr.type != field.type:
            try:
                if pa.types.is_timestamp(field.type) and pa.types.is_string(arr.type):
                    arr = arr.cast(pa.timestamp(field.type.unit))  # server text, e.g. MySQL DATETIME(6)
                if pa.types.is_timestamp(arr.type) and arr.type.tz is None and field.type.tz is not None:
                    arr = arr.cast(pa.timestamp(field.type.unit))  # naive values are UTC by contract
                arr = arr.cast(field.type, safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise ContractViolationError(
                    f"{where}: table {table.table} column {field.name}: a value does not fit {field.type} "
                    f"({' '.join(str(exc).split())[:160]})"
                ) from None
        arrays.append(arr)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def as_utc(value: Any) -> datetime | None:
    """A driver's timestamp (aware, naive UTC, or ISO text) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip().replace(" ", "T"))
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    raise TypeError(f"unexpected updated_at value {value!r}")


class SourceReader(ABC):
    """Connect on `__enter__`, check with `check_contract`, stream with `read`; close on exit."""

    def __init__(self, source: SourceUrl, *, connect_timeout_s: float = 10.0):
        self.source = source
        self.connect_timeout_s = connect_timeout_s

    default_port = 0  # a network engine's port when the URL names none

    def where(self, table: SourceTable) -> str:
        """How messages name the source: redacted URL and table."""
        return f"source {self.source.redacted}"

    def _unavailable(self, exc: BaseException) -> SourceUnavailableError:
        """A network source that cannot be reached, named by host, port and database (retryable)."""
        u = self.source.url
        return SourceUnavailableError(
            f"source {self.source.redacted} is unavailable (host {u.host}:{u.port or self.default_port}, "
            f"database {u.database}): {one_line(exc)}",
            reason=unavailable_reason(exc),
            host=u.host,
        )

    @abstractmethod
    def __enter__(self) -> SourceReader: ...

    @abstractmethod
    def __exit__(self, *exc) -> None: ...

    @abstractmethod
    def columns(self, table: SourceTable) -> list[SourceColumn]:
        """The table's columns as `information_schema` sees them (empty when the table is missing)."""

    def check_contract(self, table: SourceTable) -> dict[str, SourceColumn]:
        return verify_columns(table, self.columns(table), self.where(table))

    @abstractmethod
    def max_updated_at(self, table: SourceTable) -> datetime | None:
        """The newest `updated_at` of the table (one aggregate over its indexed column), UTC."""

    @abstractmethod
    def read(
        self, table: SourceTable, since: datetime | None, batch_rows: int, checked: dict[str, SourceColumn]
    ) -> Iterator[pa.RecordBatch]:
        """Rows with `updated_at > since` (all rows when `since` is None), in contract-typed batches."""
