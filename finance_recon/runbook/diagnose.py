"""Runbook §3 automated: everything an on-call engineer checks by hand, in one read-only pass.

`diagnose(settings)` gathers
  1. the latest reconciliation run, its status, the failing step and error (Dagster instance);
  2. each source's newest `updated_at` and its lag (§3.4), with the contract check of its columns;
  3. the newest manifest in the report store and its age (§3.5), store reachability and permission;
  4. the latest check results and the freshness state the FreshnessDaemon recorded;
  5. the schedule state and daemon heartbeats (§3.2, "check the orchestrator");
  6. the freshness SLO's error budget left (Prometheus when configured, else the instance's
     publication history; `budget.error_budget`);
then ranks the likely causes (§5, `causes.rank_causes`).

The SLA is breached when the newest report is older than `settings.sla_minutes`, when there is no
report, or when the store cannot be read (freshness cannot be shown, so it is not assumed).
Nothing is modified anywhere except the store's write probe (`probes.PROBE_KEY`, skippable).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from finance_recon.metrics.slo import ErrorBudget
from finance_recon.runbook.budget import error_budget
from finance_recon.runbook.causes import HEALTHY, Cause, Thresholds, rank_causes
from finance_recon.runbook.instance import InstanceFacts, read_instance
from finance_recon.runbook.probes import SourceProbe, StoreProbe, probe_sources, probe_store
from finance_recon.runbook.warehouse_look import WarehouseLook, look_at_report_table
from finance_recon.settings import Settings, ensure_dagster_home


@dataclass
class Diagnosis:
    checked_at: datetime
    sla_minutes: int
    report_age_minutes: float | None
    sla_breached: bool
    sources: list[SourceProbe]
    store: StoreProbe
    instance: InstanceFacts
    causes: list[Cause]
    notes: list[str] = field(default_factory=list)
    budget: ErrorBudget | None = None
    # The runbook's detection query asked of the warehouse (the Trino target), else None.
    warehouse: WarehouseLook | None = None

    @property
    def likely_cause(self) -> Cause:
        return self.causes[0]

    @property
    def exit_code(self) -> int:
        return 1 if self.sla_breached else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked_at": self.checked_at.isoformat(),
            "sla_minutes": self.sla_minutes,
            "report_age_minutes": self.report_age_minutes,
            "sla_breached": self.sla_breached,
            "likely_cause": self.likely_cause.code,
            "causes": [c.as_dict() for c in self.causes],
            "error_budget": self.budget.as_dict() if self.budget else None,
            "report": self.store.report,
            "warehouse_report_table": self.warehouse.as_dict() if self.warehouse else None,
            "store": self.store.as_dict(),
            "sources": [s.as_dict() for s in self.sources],
            "latest_run": _dict(self.instance.latest_run),
            "last_finished_run": _dict(self.instance.last_finished),
            "last_successful_run": _dict(self.instance.last_success),
            "runs_in_flight": self.instance.runs_in_flight,
            "checks": [_dict(c) for c in self.instance.checks],
            "freshness": self.instance.freshness,
            "schedules": self.instance.schedules,
            "daemon_heartbeat_age_s": self.instance.daemons,
            "dagster_home": self.instance.dagster_home,
            "instance_error": self.instance.error,
            "notes": self.notes,
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=False, default=str)


def _dict(obj) -> dict[str, Any] | None:
    if obj is None:
        return None
    from dataclasses import asdict

    return asdict(obj)


def diagnose(settings: Settings, *, write_probe: bool = True, now: datetime | None = None) -> Diagnosis:
    now = now or datetime.now(UTC)
    ensure_dagster_home(settings)
    # The looks below import SQLAlchemy (source readers, the Dagster instance) from their threads:
    # imported here first, so no two threads initialize its modules at once (one then saw a
    # partially initialized `sqlalchemy.engine` and failed).
    import sqlalchemy.engine  # noqa: F401
    import sqlalchemy.orm  # noqa: F401

    # The four looks are independent and each waits on the network: run them side by side.
    with ThreadPoolExecutor(max_workers=5, thread_name_prefix="diagnose") as pool:
        sources_f = pool.submit(probe_sources, settings, now)
        warehouse_f = pool.submit(look_at_report_table, settings, now)
        store_f = pool.submit(probe_store, settings, now, write_probe=write_probe)
        instance_f = pool.submit(read_instance, now)
        # After the instance look: two first openings of a new SQLite instance race on its schema.
        budget_f = pool.submit(
            lambda: instance_f.result() and error_budget(settings.slo_objective, settings.prometheus_url, now)
        )
        sources, store, instance = sources_f.result(), store_f.result(), instance_f.result()
        budget = budget_f.result()
        warehouse = warehouse_f.result()
    age = store.report["age_minutes"] if store.report else None
    breached = age is None or age > settings.sla_minutes
    notes = []
    if store.no_report:
        notes.append("no report was ever published in this store")
    if store.write_ok is None and write_probe is False:
        notes.append("write probe skipped (--no-write-probe): storage full / write permission not checked")
    if instance.error:
        notes.append(instance.error)
    if budget.note:
        notes.append(budget.note)
    thresholds = Thresholds(
        settings.sla_minutes, settings.source_lag_warn_minutes, settings.source_lag_fail_minutes
    )
    causes = rank_causes(sources, store, instance, thresholds, age)
    if warehouse is not None and warehouse.error:
        notes.append(f"warehouse report table: {warehouse.error}")
    return Diagnosis(
        now,
        settings.sla_minutes,
        age,
        breached,
        sources,
        store,
        instance,
        causes,
        notes,
        budget.budget,
        warehouse,
    )


# ------------------------------------------------------------------------------------------ render


def _fmt_min(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} min"


def render_table(d: Diagnosis) -> str:
    rows: list[tuple[str, str, str]] = []

    def row(section: str, item: str, value: str) -> None:
        rows.append((section, item, value))

    sla = "BREACHED" if d.sla_breached else "ok"
    row("SLA", f"report age (SLA {d.sla_minutes} min)", f"{_fmt_min(d.report_age_minutes)}  {sla}")
    row("SLO", "freshness error budget", d.budget.describe() if d.budget else "unknown (see notes)")
    r = d.store.report
    if r:
        row("report", "newest manifest", r["manifest_key"])
        row("report", "run / verdict", f"{r['run_id']}  {r['verdict']}")
        row("report", "run_ended_at / as_of", f"{r['run_ended_at']} / {r['as_of']}")
    else:
        row("report", "newest manifest", "none" if d.store.no_report else "unknown (store unreadable)")
    w = d.warehouse
    if w is not None:
        answer = (
            "unanswered (see notes)"
            if w.error
            else (
                f"{w.run_ended_at.isoformat() if w.run_ended_at else 'no run recorded'}"
                + (f"  ({_fmt_min(w.age_minutes)} ago)" if w.age_minutes is not None else "")
            )
        )
        row("warehouse", w.query, answer)
    store_state = "read " + {True: "ok", False: "FAILED", None: "-"}[d.store.read_ok]
    store_state += ", write probe " + {True: "ok", False: "FAILED", None: "skipped"}[d.store.write_ok]
    row("store", d.store.uri + (f" @ {d.store.endpoint}" if d.store.endpoint else ""), store_state)
    if d.store.error:
        row("store", "error", d.store.error)
    if d.store.free_bytes is not None:
        row("store", "free space", f"{d.store.free_bytes / 2**30:,.1f} GiB")
    for s in d.sources:
        state = "ok" if s.reachable and s.contract_ok else ("CONTRACT" if s.contract_ok is False else "DOWN")
        updated = s.max_updated_at.strftime("%Y-%m-%d %H:%M:%SZ") if s.max_updated_at else "-"
        row(
            "source",
            f"{s.name} ({s.url})",
            f"{state}  max(updated_at) {updated}  lag {_fmt_min(s.lag_minutes)}",
        )
        if s.error:
            row("source", f"{s.name} error", s.error)
    run = d.instance.latest_run
    if run:
        row("run", "latest", f"{run.run_id}  {run.job_name}  {run.status}  ended {run.ended_at or '-'}")
        if d.instance.last_finished:
            lf = d.instance.last_finished
            row("run", "latest finished", f"{lf.run_id}  {lf.status}  ended {lf.ended_at or '-'}")
        finished = d.instance.latest_finished
        if finished and finished.status in ("FAILURE", "CANCELED"):
            row("run", "failing step", finished.failed_step or "-")
            row("run", "error", finished.error or "-")
    else:
        row("run", "latest", "no reconciliation run in this instance")
    if d.instance.last_success:
        row(
            "run",
            "last success",
            f"{d.instance.last_success.run_id}  ended {d.instance.last_success.ended_at}",
        )
    passed = sum(1 for c in d.instance.checks if c.passed)
    failed = d.instance.failed_checks
    row("checks", "latest results", f"{passed} passed, {len(failed)} failed, {len(d.instance.checks)} known")
    for c in d.instance.checks:
        if c.is_platform or c.passed is False:
            row(
                "checks",
                c.key,
                f"{'PASS' if c.passed else ('FAIL ' + (c.severity or '')) if c.passed is False else c.status}"
                f"  {c.description or ''}".rstrip(),
            )
    for key, f in d.instance.freshness.items():
        row("freshness", key, f"{f.get('state')} since {f.get('since', '-')}")
    if not d.instance.freshness:
        row(
            "freshness",
            "policy state",
            "none recorded (the FreshnessDaemon runs in dagster dev / dagster-daemon)",
        )
    for name, status in d.instance.schedules.items():
        row("orchestrator", f"schedule {name}", status)
    for daemon, age in sorted(d.instance.daemons.items()):
        row("orchestrator", f"daemon {daemon}", f"heartbeat {age:g} s ago")
    if not d.instance.daemons:
        row("orchestrator", "daemons", "no heartbeat recorded in this instance")
    for note in d.notes:
        row("note", "", note)

    w1 = max(len(r[0]) for r in rows)
    w2 = min(60, max(len(r[1]) for r in rows))
    lines = [f"{a:<{w1}}  {b:<{w2}}  {c}" for a, b, c in rows]
    lines.append("")
    lines.append("likely cause (ranked):")
    for i, cause in enumerate(d.causes, 1):
        lines.append(f"  {i}. {cause.code} — {cause.title}")
        for ev in cause.evidence:
            lines.append(f"       · {ev}")
        if cause.code != HEALTHY:
            lines.append(f"       → {cause.action}")
            lines.append(f"       $ {cause.next_command}")
    return "\n".join(lines)
