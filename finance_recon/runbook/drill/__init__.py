"""Runbook §4 automated: prove that a late report is detected and that a rerun clears it.

    preflight  the drill starts healthy: a report younger than the SLA (else the job runs once first)
               and every detector reading "not breached";
    hold       no reconciliation runs: with a Dagster webserver (`dagster_url`) the schedule is stopped
               through its GraphQL API; without one nothing here runs the job (a daemon elsewhere
               would still fire its schedule — the drill says so);
    detect     wait until every active detector reports the breach:
                 - exporter: `finance_reconciliation_age_minutes` > SLA, scraped from the exporter
                   (`metrics_url`) or computed exactly as the exporter does (`read_latest`);
                 - freshness: the FreshnessDaemon recorded FAIL for the report in the instance (active
                   when a FRESHNESS_DAEMON heartbeat is fresh; it judges by the code location's policy,
                   i.e. FINANCE_RECON_SLA_MINUTES of the running daemon);
                 - prometheus: alert `FinanceReconciliationLagHigh` firing (`prometheus_url`; the rule
                   loaded there decides the threshold);
    restart    run the job (in-process, recorded in the instance like any run) and restart the schedule;
    recover    wait until every detector clears.

The timeline records each step; time-to-detect is measured from the moment the report crossed the
SLA (its run_ended_at + SLA), time-to-recover from the restart. The schedule is restarted in
`finally` whatever happens.
The package: `result.py` (options, timeline, result), `detectors.py` (the three ways a breach is
seen), `prometheus.py` (reading an exposition and the alerts API), `schedule.py` (holding the
schedule through the webserver's GraphQL API), `orchestration.py` (the sequence). The job runner is
a collaborator the caller passes in (`run_drill(..., run_job=...)`; the CLI passes its own), so
nothing here imports the CLI.
"""

from finance_recon.runbook.drill.detectors import Detector, ExporterAge, FreshnessFail, PrometheusAlert
from finance_recon.runbook.drill.orchestration import DrillFailed, JobRunner, run_drill
from finance_recon.runbook.drill.result import DrillOptions, DrillResult, Event
from finance_recon.runbook.drill.schedule import ScheduleHold

__all__ = [
    "Detector",
    "DrillFailed",
    "DrillOptions",
    "DrillResult",
    "Event",
    "ExporterAge",
    "FreshnessFail",
    "JobRunner",
    "PrometheusAlert",
    "ScheduleHold",
    "run_drill",
]
