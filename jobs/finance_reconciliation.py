"""spark-submit entry point of the reconciliation — the runbook's "rerun the job":

    .venv/bin/spark-submit --master 'local[*]' jobs/finance_reconciliation.py [--as-of ISO] [--full-refresh]

Thin on purpose: everything lives in `finance_recon.cli.spark_submit` (the Dagster reconciliation job with
the Spark landing engine). JDBC jars and SQL settings come from finance_recon.spark.config.
"""

import sys

from finance_recon.cli.spark_submit import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
