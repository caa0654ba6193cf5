"""The platform's shared names, on the ground floor: asset and check keys, tags, job, schedule and
alert names. Every module that needs one imports it from here; this module imports only the source
tables (`contracts`, the floor below), so any layer may use it without an import circle (the layers:
docs/architecture.md, `[tool.importlinter]` in pyproject.toml).

The category list of contracts §2 lives beside the source contracts (`contracts.CATEGORIES`); the
dbt `accepted_values` repeat it in YAML, and tests/test_names.py holds the two equal.
"""

from __future__ import annotations

from dagster import AssetCheckKey, AssetKey

from finance_recon.contracts import SOURCE_TABLES

# Tags: every step of a reconciliation run carries this tag; the run queue limits it to one run.
PIPELINE_TAG = "finance_recon/pipeline"
PIPELINE_TAG_VALUE = "reconciliation"
PIPELINE_TAGS = {PIPELINE_TAG: PIPELINE_TAG_VALUE}

# Job, schedule and the dbt assets' op.
RECONCILIATION_JOB_NAME = "finance_reconciliation"
SCHEDULE_NAME = "finance_reconciliation_every_10_minutes"
DBT_ASSETS_NAME = "reconciliation_dbt_models"
# The step that reads every source table at once and stages each batch (sources/assets.py).
SOURCE_BATCHES_NAME = "source_batches"

# Asset keys. Per source table two (sources/assets.py): the batch a run reads and stages
# (`orders_batch`, where its blocking contract check sits) and the landed table it is merged into
# once that check passed (`orders`, what dbt reads). Then the marts the report reads, the report.
SOURCE_KEYS = tuple(AssetKey(table.asset_name) for table in SOURCE_TABLES)
BATCH_KEYS = tuple(AssetKey(table.batch_asset_name) for table in SOURCE_TABLES)
# The maintained reconciliation state (incremental), which the marts read.
STATE_MODEL = AssetKey("int_reconciliation_items")
ITEMS_MODEL = AssetKey("fct_reconciliation_items")
SUMMARY_MODEL = AssetKey("rpt_reconciliation_summary")
CATEGORY_SUMMARY_MODEL = AssetKey("rpt_category_summary")
CURRENCY_TOTALS_MODEL = AssetKey("rpt_currency_totals")
REPORT_KEY = AssetKey("finance_reconciliation_report")
# The daily close (report/close_asset.py): one partition per business day, its own job, never part
# of the rolling reconciliation job, its run lock or its freshness SLA.
CLOSE_KEY = AssetKey("finance_reconciliation_close")
CLOSE_JOB_NAME = "finance_reconciliation_daily_close"
# The one asset group of the platform (definitions.py): with two groups or more, the UI's global
# lineage opens collapsed to group boxes and no asset name is readable.
ASSET_GROUP = "finance_reconciliation"
# The assets the freshness SLA is about: what the report saw of each source, and the report itself.
FRESH_ASSET_KEYS = (*SOURCE_KEYS, REPORT_KEY)

# The platform's own asset checks (quality/checks.py).
CONTRACT_CHECK = "contract"
SOURCE_LAG_CHECK = "source_lag"
REPORT_CONSISTENCY_CHECK = "report_consistency"
# The report's own check (report/publication_check.py): what it published, read back from the store.
PUBLICATION_CHECK = "publication"
# Both checks of a source sit on its batch: the contract gates the merge into the landed table,
# the lag is of what the source gave this run.
PLATFORM_CHECK_KEYS = (
    *(AssetCheckKey(key, name) for key in BATCH_KEYS for name in (CONTRACT_CHECK, SOURCE_LAG_CHECK)),
    AssetCheckKey(SUMMARY_MODEL, REPORT_CONSISTENCY_CHECK),
    AssetCheckKey(REPORT_KEY, PUBLICATION_CHECK),
)

# Alert names (alertname label): the sensors' alerts and the Prometheus rule the drill waits for.
CHECK_ALERT = "FinanceReconCheckFailed"
FRESHNESS_ALERT = "FinanceReconFreshnessSLABreached"
RUN_ALERT = "FinanceReconRunFailed"
LAG_ALERT = "FinanceReconciliationLagHigh"
