"""The Spark landing path: JDBC partitioned reads into a Parquet lake, and reconciliation over it."""
