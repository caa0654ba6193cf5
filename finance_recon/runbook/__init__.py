"""The runbook as code (docs/runbooks/finance-reconciliation-delay.md).

- `probes`: read-only looks at the sources (newest `updated_at`, contract) and the report store
  (read, plus one write probe under `_probe/`, removed again).
- `instance`: what the Dagster instance under DAGSTER_HOME knows — latest reconciliation run and its
  failure, latest check results, freshness state, schedule state, daemon heartbeats.
- `causes`: the ranked likely cause (runbook §5) from those facts; pure, unit-tested.
- `diagnose`: runbook §3 — gather the facts, rank the causes, render a table or JSON.
- `drill`: runbook §4 — hold the job, wait for the breach to be detected, restart, wait for recovery.
- `cause_drill`: `drill --cause C` — inject one §5 cause for real, time its detection and recovery.
- `faults`: the loopback S3 endpoint that answers as a full (507), forbidden (403) or absent store.
- `budget`: the freshness SLO's error budget for `diagnose` (Prometheus, else the publication history).
"""
