"""Alerting: sensors that read Dagster's event log (check evaluations, freshness state changes, run
outcomes) and raise one alert per incident in Alertmanager and/or a Slack-compatible webhook,
resolving it when it recovers; and the Finance notification when a report is published.

Sensors never read the warehouse (DuckDB has one writer) — only the event log and metadata.
"""
