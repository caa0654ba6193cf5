"""Spark-path configuration: where the lake lives, how Spark starts, how JDBC reads are split.

`finance_recon.settings` reads these variables (as it reads every other); `load_spark_settings`
turns a deployment's `Settings` into the Spark path's settings:

    FINANCE_RECON_LANDING_ENGINE    embedded (default) | spark — which landing path the definitions use
    FINANCE_RECON_LAKE_DIR          the Parquet lake (default $FINANCE_RECON_HOME/lake)
    FINANCE_RECON_SPARK_MASTER      local[*] (default) or spark://host:7077
    FINANCE_RECON_SPARK_PARTITIONS  parallel JDBC reads per table (default 4)
    FINANCE_RECON_SPARK_DRIVER_MEMORY   default 4g
    FINANCE_RECON_JDBC_JARS         comma-separated driver jars (default: Debian's, see below)

JDBC drivers come from Debian (`libpostgresql-jdbc-java`, `libmariadb-java` → /usr/share/java).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from finance_recon.settings import Settings

POSTGRES_DRIVER = "org.postgresql.Driver"
# MariaDB Connector/J 2.x accepts jdbc:mysql:// URLs, and Spark picks its MySQL dialect (backtick
# quoting, type mapping) from that URL prefix: so MariaDB's driver behind a jdbc:mysql:// URL.
MYSQL_DRIVER = "org.mariadb.jdbc.Driver"


@dataclass(frozen=True)
class SparkSettings:
    landing_engine: str
    lake_dir: Path
    master: str
    partitions: int
    driver_memory: str
    jdbc_jars: tuple[str, ...]
    spark_warehouse_dir: Path
    extra_conf: dict[str, str] = field(default_factory=dict)

    def spark_conf(self) -> dict[str, str]:
        """The SparkSession configuration every entry point uses (resource, spark-submit job, tests).

        Static settings (jars, driver memory, JVM time zone) only take effect when the JVM starts:
        the first session of a process wins.
        """
        jars = ",".join(self.jdbc_jars)
        utc = "-Duser.timezone=UTC"
        conf = {
            "spark.master": self.master,
            "spark.app.name": "finance_recon",
            "spark.jars": jars,
            # Local mode: the driver JVM is the executor, DriverManager must see the jars at start.
            "spark.driver.extraClassPath": ":".join(self.jdbc_jars),
            "spark.executor.extraClassPath": ":".join(self.jdbc_jars),
            # MySQL DATETIME holds naive UTC (contracts §1): the JDBC driver interprets it in the
            # JVM's zone, so that zone must be UTC, as must Spark's session zone.
            "spark.driver.extraJavaOptions": utc,
            "spark.executor.extraJavaOptions": utc,
            "spark.sql.session.timeZone": "UTC",
            "spark.driver.memory": self.driver_memory,
            # Parquet timestamps as UTC-adjusted INT64 micros (not legacy INT96): DuckDB reads TIMESTAMPTZ.
            "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
            # 200 shuffle partitions is for clusters; the lake tables are written by few tasks here.
            "spark.sql.shuffle.partitions": str(max(2, self.partitions)),
            "spark.sql.adaptive.enabled": "true",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            # No Hive metastore: the lake is addressed by path, tables are registered per session.
            "spark.sql.catalogImplementation": "in-memory",
            "spark.sql.warehouse.dir": str(self.spark_warehouse_dir),
            # dbt table models are rewritten per run; a fresh session finds their folders non-empty.
            "spark.sql.legacy.allowNonEmptyLocationInCTAS": "true",
        }
        conf.update(self.extra_conf)
        return conf


def load_spark_settings(settings: Settings) -> SparkSettings:
    return SparkSettings(
        landing_engine=settings.landing_engine,
        lake_dir=settings.lake_dir or settings.home / "lake",
        master=settings.spark_master,
        partitions=settings.spark_partitions,
        driver_memory=settings.spark_driver_memory,
        jdbc_jars=settings.jdbc_jars,
        spark_warehouse_dir=settings.home / "spark-warehouse",
    )


def missing_jars(jars: tuple[str, ...]) -> list[str]:
    return [j for j in jars if not Path(j).is_file()]
