"""One SparkSession per process, built from `SparkSettings.spark_conf()`.

The Dagster resource (`SparkLandingResource`), the spark-submit job and the tests all end up in
`SparkSession.builder.getOrCreate()`: under spark-submit the session of the submitted app is reused,
and dbt-spark's `session` method, run in-process, finds the same session.
"""

from __future__ import annotations

from .config import SparkSettings, missing_jars


class SparkUnavailableError(RuntimeError):
    """Spark cannot start here (no Java, no JDBC driver jars): a setup problem, not a data problem."""


def get_session(spark_settings: SparkSettings, extra: dict[str, str] | None = None):
    from pyspark.sql import SparkSession

    missing = missing_jars(spark_settings.jdbc_jars)
    if missing:
        raise SparkUnavailableError(
            f"JDBC driver jars not found: {', '.join(missing)} "
            "(apt-get install -y --no-install-recommends libpostgresql-jdbc-java libmariadb-java)"
        )
    builder = SparkSession.builder
    for key, value in {**spark_settings.spark_conf(), **(extra or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    _pin_jvm_time_zone(spark)
    return spark


def _pin_jvm_time_zone(spark) -> None:
    """The JDBC drivers read MySQL DATETIME (naive UTC) in the JVM's default zone. When the JVM was
    started before our configuration could apply (spark-submit without --driver-java-options), set
    the driver's zone at run time; in local mode the executors share that JVM. Cluster executors
    get `spark.executor.extraJavaOptions=-Duser.timezone=UTC` from the configuration."""
    tz = spark._jvm.java.util.TimeZone
    if tz.getDefault().getID() not in ("UTC", "Etc/UTC", "GMT", "Etc/GMT"):
        tz.setDefault(tz.getTimeZone("UTC"))


def check_jdbc_drivers(spark, spark_settings: SparkSettings) -> None:
    """Fail early, in one line, when the driver JVM cannot load the JDBC drivers — the case of a
    spark-submit launched without `--jars`/`--driver-class-path` (the JVM starts before any
    configuration of ours can reach it)."""
    from .config import MYSQL_DRIVER, POSTGRES_DRIVER

    jvm = spark._jvm
    loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
    for name in (MYSQL_DRIVER, POSTGRES_DRIVER):
        try:
            jvm.java.lang.Class.forName(name, True, loader)
        except Exception:
            jars = ",".join(spark_settings.jdbc_jars)
            raise SparkUnavailableError(
                f"JDBC driver {name} is not on the Spark driver's classpath: run spark-submit with "
                f"--jars {jars} --driver-class-path {jars.replace(',', ':')}"
            ) from None
