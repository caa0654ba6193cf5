"""finance_recon: reconcile shop orders against payments as Dagster assets.

Importing the package is cheap; heavy libraries (dbt, Great Expectations, pyspark) load lazily.
"""
