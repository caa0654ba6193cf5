"""Land one contract table from its source into the lake through Spark JDBC: the unit the assets call.

The semantics are those of the embedded path (`finance_recon.sources.extract`), on other engines:

    contract   = the same information_schema check, same messages and failure taxonomy
    watermark  = newest updated_at in the current snapshot (`_state.json`)
    read       = rows with updated_at > watermark − look_back (all rows on a full refresh),
                 in parallel partitioned JDBC reads (see `jdbc`)
    land       = upsert by primary key: every key in the batch replaces its old version (the batch
                 deduplicated to its newest updated_at), written as a new snapshot, committed by
                 swapping the `current` pointer (see `lake`)

Amounts stay DECIMAL(18,2) from the JDBC driver to Parquet (Spark maps DECIMAL/NUMERIC(18,2) to
DecimalType(18,2); no float anywhere); timestamps are UTC instants, microseconds.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime
from typing import Any

from finance_recon.contracts import SourceTable
from finance_recon.sources.errors import ContractViolationError, SourceUnavailableError, one_line
from finance_recon.sources.extract import ExtractResult, iso
from finance_recon.sources.policy import plan_read
from finance_recon.sources.policy import watermark_after as next_watermark
from finance_recon.sources.readers import open_reader
from finance_recon.sources.urls import SourceUrl

from .jdbc import JdbcSource
from .lake import Lake, LakeState, now_iso

log = logging.getLogger(__name__)

_CONNECTION_HINTS = (
    "connection refused",
    "could not connect",
    "communications link",
    "connection attempt failed",
    "socket",
    "timed out",
    "access denied",
    "authentication failed",
    "password authentication",
)


def spark_type(table: SourceTable, column: str) -> str:
    wt = table.column(column).warehouse_type
    return {"BIGINT": "bigint", "VARCHAR": "string", "TIMESTAMPTZ": "timestamp"}.get(wt, wt.lower())


def _check_spark_schema(df, table: SourceTable, where: str) -> None:
    """The JDBC mapping must already be exact: DECIMAL(18,2) must arrive as decimal(18,2), never wider
    or as a double (a cast afterwards could not restore lost digits)."""
    found = {f.name.lower(): f.dataType.simpleString() for f in df.schema.fields}
    for col in table.columns:
        want = spark_type(table, col.name)
        got = found.get(col.name)
        ok = got == want or (want == "bigint" and got in ("int", "bigint", "decimal(20,0)"))
        ok = ok or (want == "string" and got is not None and (got.startswith(("varchar", "char"))))
        if not ok:
            raise ContractViolationError(
                f"{where}: table {table.table} column {col.name} reaches Spark as {got}, expected {want}"
            )


def _utc_text(col):
    """A timestamp column as ISO text in the session zone (UTC): exact to the microsecond."""
    from pyspark.sql import functions as F

    return F.date_format(col, "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'+00:00'")


def _parse_utc(value):
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _unavailable(jdbc: JdbcSource, exc: BaseException) -> Exception:
    text = one_line(exc)
    if any(h in text.lower() for h in _CONNECTION_HINTS):
        return SourceUnavailableError(f"source {jdbc.source.redacted} is unavailable over JDBC: {text}")
    return exc


def land_table(
    spark,
    table: SourceTable,
    source_url: str,
    lake: Lake,
    *,
    look_back_minutes: int = 10,
    partitions: int = 4,
    min_rows_per_partition: int = 50_000,
    fetch_size: int = 10_000,
    full_refresh: bool = False,
    run_id: str | None = None,
    keep_snapshots: int = 3,
    logger: logging.Logger | Any = None,
) -> ExtractResult:
    """Read changed rows of `table` over JDBC and upsert them into the lake. Raises `SourceError`
    subclasses (retryable or not) with one-line, password-free messages."""
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    logger = logger or log
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    source = SourceUrl.parse(source_url)
    jdbc = JdbcSource.from_url(source, fetch_size=fetch_size)

    # The embedded path's contract check, verbatim: same rule, same messages, same taxonomy.
    with open_reader(source) as reader:
        reader.check_contract(table)

    previous = lake.read_state(table)
    # The one watermark / look-back policy (sources/policy.py), as the embedded landing applies it.
    plan = plan_read(
        previous_source=previous.source if previous else None,
        previous_watermark=previous.watermark if previous else None,
        source=source.redacted,
        full_refresh=full_refresh,
        look_back_minutes=look_back_minutes,
    )
    read_since = plan.read_since

    props = jdbc.properties()
    try:
        bounds_df = spark.read.jdbc(
            jdbc.url, f"({jdbc.bounds_query(table, read_since)}) bounds", properties=props
        )
        if dict(bounds_df.dtypes)["lo"].startswith("timestamp"):
            # Collected timestamps would be naive in the Python process's zone: format them in Spark (UTC).
            bounds_df = bounds_df.select("n", _utc_text("lo").alias("lo"), _utc_text("hi").alias("hi"))
        bounds = bounds_df.first()
    except Exception as exc:  # py4j wraps the driver's SQLException
        raise _unavailable(jdbc, exc) from None
    n_rows, lo, hi = int(bounds["n"]), _parse_utc(bounds["lo"]), _parse_utc(bounds["hi"])
    n_parts = max(1, min(partitions, math.ceil(n_rows / max(1, min_rows_per_partition))))
    predicates = jdbc.predicates(table, read_since, lo, hi, n_parts)
    logger.info(
        f"landing {table.table} from {source.redacted} via Spark JDBC: {plan.mode} ({plan.reason})"
        + (f", updated_at > {iso(read_since)}" if read_since else "")
        + f", ~{n_rows} rows in {len(predicates)} partition(s)"
    )

    raw = spark.read.jdbc(jdbc.url, jdbc.relation(table), predicates=predicates, properties=props)
    _check_spark_schema(raw, table, f"source {source.redacted}")
    batch_df = raw.select(
        *[F.col(c.name).cast(spark_type(table, c.name)).alias(c.name) for c in table.columns]
    )

    version = lake.new_version()
    snap = lake.snapshot(table, version)
    try:
        batch_df.write.mode("error").parquet(str(snap / "batch"))  # the one pass over the source
    except Exception as exc:
        raise _unavailable(jdbc, exc) from None
    read_s = time.perf_counter() - started

    pk = table.primary_key
    batch = spark.read.parquet(str(snap / "batch"))
    newest = Window.partitionBy(pk).orderBy(F.col("updated_at").desc())
    batch_latest = batch.withColumn("_rn", F.row_number().over(newest)).where("_rn = 1").drop("_rn")
    current_path = lake.resolved_data_path(table)
    if plan.full_refresh or current_path is None:
        merged = batch_latest
    else:
        # Upsert: every key in the batch replaces its previous version, whatever its updated_at.
        kept = spark.read.parquet(str(current_path)).join(batch.select(pk).distinct(), on=pk, how="left_anti")
        merged = kept.unionByName(batch_latest)
    merged.select(*table.column_names).write.mode("error").parquet(str(snap / "data"))

    landed = spark.read.parquet(str(snap / "data"))
    stats = landed.agg(F.count(F.lit(1)).alias("n"), _utc_text(F.max("updated_at")).alias("mx")).first()
    rows_extracted = batch.count()
    rows_total = int(stats["n"])
    watermark_after = next_watermark(plan.full_refresh, plan.watermark_before, _parse_utc(stats["mx"]))

    lake.commit(
        table,
        LakeState(
            table=table.asset_name,
            version=version,
            source=source.redacted,
            mode=plan.mode,
            max_updated_at=iso(watermark_after),
            rows_total=rows_total,
            rows_extracted=rows_extracted,
            read_since=iso(read_since),
            watermark_before=iso(plan.watermark_before),
            run_id=run_id,
            started_at=started_at.isoformat(),
            landed_at=now_iso(),
        ),
        keep=keep_snapshots,
    )
    result = ExtractResult(
        table=table.asset_name,
        source=source.redacted,
        mode=plan.mode,
        reason=plan.reason,
        rows_extracted=rows_extracted,
        rows_total=rows_total,
        read_since=read_since,
        watermark_before=plan.watermark_before,
        watermark_after=watermark_after,
        duration_s=time.perf_counter() - started,
        read_s=read_s,
        batch_table=str(lake.batch_path(table)),
    )
    logger.info(
        f"landed {rows_extracted} {table.table} rows ({rows_total} in the lake, snapshot {version}), "
        f"watermark {iso(plan.watermark_before)} -> {iso(watermark_after)} in {result.duration_s:.2f}s"
    )
    return result
