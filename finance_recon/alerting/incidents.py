"""Incident state: one alert per incident, one resolve when it recovers, never a duplicate.

A sensor observes the current state of what it watches (a check's latest completed evaluation, an
asset's freshness state, the latest finished run of the job) and hands `IncidentBook.reconcile` a
set of firing `Incident`s and a set of incident ids observed healthy. Ids observed neither way (a
check that has not run yet, a run still going) keep their state. The book lives in the sensor's
cursor as JSON, so repeated ticks, daemon restarts and retried deliveries do not duplicate:

- a new firing id opens an incident: the webhook gets it once; Alertmanager gets it now and again
  every `refresh_seconds` while it lasts (Alertmanager expires alerts not re-posted within its
  `resolve_timeout`, and deduplicates re-posts by label set);
- an open id observed healthy is resolved: Alertmanager gets it with `endsAt`, the webhook once;
- an open id whose labels change (a WARN check turning ERROR) resolves the old label set and opens
  the new one — the alert's identity in Alertmanager is its labels;
- a delivery that fails is retried on the next tick (only the receivers that did not accept it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from finance_recon.alerting.notify import Alert, DeliveryError, iso

CURSOR_VERSION = 1


@dataclass(frozen=True)
class Incident:
    id: str  # stable per thing watched, e.g. "check:orders:contract", "freshness:orders", "run:<job>"
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime


@dataclass
class Delivery:
    """What one reconcile did (for the tick's log line and for tests)."""

    fired: list[str] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"{name}: {', '.join(ids)}"
            for name, ids in (
                ("fired", self.fired),
                ("resolved", self.resolved),
                ("refreshed", self.refreshed),
                ("errors", self.errors),
            )
            if ids
        ]
        return "; ".join(parts) or "no change"


class Receivers:
    """The interface the book delivers through (implemented by `AlertingResource`)."""

    has_alertmanager: bool = False
    has_webhook: bool = False

    def to_alertmanager(self, alerts: list[Alert]) -> None: ...

    def to_webhook(self, alert: Alert) -> None: ...


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class IncidentBook:
    open: dict[str, dict[str, Any]] = field(default_factory=dict)
    resolving: dict[str, dict[str, Any]] = field(default_factory=dict)  # key: id (+ "#n" when superseded)

    # ------------------------------------------------------------------ cursor (de)serialisation
    @classmethod
    def from_cursor(cls, cursor: str | None) -> IncidentBook:
        if not cursor:
            return cls()
        data = json.loads(cursor)
        if data.get("v") != CURSOR_VERSION:
            return cls()
        return cls(open=data.get("open", {}), resolving=data.get("resolving", {}))

    def to_cursor(self) -> str:
        return json.dumps(
            {"v": CURSOR_VERSION, "open": self.open, "resolving": self.resolving}, sort_keys=True
        )

    # ------------------------------------------------------------------------------- reconcile
    def reconcile(
        self,
        firing: list[Incident],
        healthy: set[str],
        receivers: Receivers,
        now: datetime | None = None,
        refresh_seconds: float = 60.0,
    ) -> Delivery:
        now = now or datetime.now(UTC)
        done = Delivery()
        by_id = {i.id: i for i in firing}

        for incident in firing:
            current = self.open.get(incident.id)
            if current is not None and current["labels"] == incident.labels:
                continue
            if current is not None:  # same incident, new identity (e.g. escalation): resolve the old one
                self._start_resolve(incident.id, current, now, suffix=True)
            self.open[incident.id] = {
                "labels": incident.labels,
                "annotations": incident.annotations,
                "startsAt": iso(incident.starts_at),
                "webhook_sent": False,
                "am_sent_at": None,
            }
        for incident_id in list(self.open):
            if incident_id in healthy and incident_id not in by_id:
                self._start_resolve(incident_id, self.open.pop(incident_id), now)

        self._deliver(receivers, now, refresh_seconds, done)
        return done

    def _start_resolve(
        self, incident_id: str, entry: dict[str, Any], now: datetime, suffix: bool = False
    ) -> None:
        key = incident_id
        if suffix or key in self.resolving:
            n = 1
            while f"{incident_id}#{n}" in self.resolving:
                n += 1
            key = f"{incident_id}#{n}"
        self.resolving[key] = {
            **entry,
            "endsAt": iso(now),
            # Never resolve on a receiver that never heard of the incident.
            "am_done": entry.get("am_sent_at") is None,
            "webhook_done": not entry.get("webhook_sent"),
        }

    @staticmethod
    def _alert(entry: dict[str, Any], resolved: bool) -> Alert:
        return Alert(
            labels=entry["labels"],
            annotations=entry["annotations"],
            starts_at=_ts(entry["startsAt"]),
            ends_at=_ts(entry["endsAt"]) if resolved else None,
        )

    def _deliver(self, receivers: Receivers, now: datetime, refresh_seconds: float, done: Delivery) -> None:
        # Resolutions first, so an escalation's old label set clears before the new one fires.
        for key, entry in list(self.resolving.items()):
            alert = self._alert(entry, resolved=True)
            if not entry["am_done"]:
                if receivers.has_alertmanager:
                    try:
                        receivers.to_alertmanager([alert])
                    except DeliveryError as exc:
                        done.errors.append(f"{key} resolve → alertmanager: {exc}")
                    else:
                        entry["am_done"] = True
                else:
                    entry["am_done"] = True
            if not entry["webhook_done"]:
                if receivers.has_webhook:
                    try:
                        receivers.to_webhook(alert)
                    except DeliveryError as exc:
                        done.errors.append(f"{key} resolve → webhook: {exc}")
                    else:
                        entry["webhook_done"] = True
                else:
                    entry["webhook_done"] = True
            if entry["am_done"] and entry["webhook_done"]:
                del self.resolving[key]
                done.resolved.append(key.split("#")[0])

        for incident_id, entry in self.open.items():
            alert = self._alert(entry, resolved=False)
            new = entry["am_sent_at"] is None and not entry["webhook_sent"]
            if receivers.has_alertmanager:
                last = entry["am_sent_at"]
                if last is None or now.timestamp() - last >= refresh_seconds:
                    try:
                        receivers.to_alertmanager([alert])
                    except DeliveryError as exc:
                        done.errors.append(f"{incident_id} → alertmanager: {exc}")
                    else:
                        entry["am_sent_at"] = now.timestamp()
                        if last is not None:
                            done.refreshed.append(incident_id)
            if receivers.has_webhook and not entry["webhook_sent"]:
                try:
                    receivers.to_webhook(alert)
                except DeliveryError as exc:
                    done.errors.append(f"{incident_id} → webhook: {exc}")
                else:
                    entry["webhook_sent"] = True
            if new and (entry["am_sent_at"] is not None or entry["webhook_sent"]):
                done.fired.append(incident_id)
