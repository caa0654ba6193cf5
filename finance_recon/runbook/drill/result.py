"""The drill's options, its timeline and its result (JSON and text)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class DrillOptions:
    sla_minutes: float
    metrics_url: str | None = None
    prometheus_url: str | None = None
    dagster_url: str | None = None
    poll_seconds: float = 2.0
    detect_timeout_s: float | None = None  # default: SLA + 10 min
    recover_timeout_s: float = 900.0


@dataclass
class Event:
    at: datetime
    step: str
    detail: str


@dataclass
class DrillResult:
    started_at: datetime
    sla_minutes: float
    events: list[Event] = field(default_factory=list)
    detectors: list[str] = field(default_factory=list)
    breach_at: datetime | None = None
    restart_at: datetime | None = None
    detected: dict[str, datetime] = field(default_factory=dict)
    recovered: dict[str, datetime] = field(default_factory=dict)
    run_id: str | None = None
    ok: bool = False
    error: str | None = None

    def add(self, step: str, detail: str, at: datetime | None = None) -> Event:
        event = Event(at or datetime.now(UTC), step, detail)
        self.events.append(event)
        return event

    def time_to_detect(self) -> dict[str, float]:
        if not self.breach_at:
            return {}
        return {k: round((v - self.breach_at).total_seconds(), 1) for k, v in self.detected.items()}

    def time_to_recover(self) -> dict[str, float]:
        if not self.restart_at:
            return {}
        return {k: round((v - self.restart_at).total_seconds(), 1) for k, v in self.recovered.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "error": self.error,
            "sla_minutes": self.sla_minutes,
            "started_at": self.started_at.isoformat(),
            "detectors": self.detectors,
            "breach_at": self.breach_at.isoformat() if self.breach_at else None,
            "restart_at": self.restart_at.isoformat() if self.restart_at else None,
            "run_id": self.run_id,
            "time_to_detect_s": self.time_to_detect(),
            "time_to_recover_s": self.time_to_recover(),
            "timeline": [
                {
                    "at": e.at.isoformat(),
                    "offset_s": round((e.at - self.started_at).total_seconds(), 1),
                    "step": e.step,
                    "detail": e.detail,
                }
                for e in self.events
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)

    def render(self) -> str:
        lines = [f"drill (SLA {self.sla_minutes:g} min) started {self.started_at:%Y-%m-%d %H:%M:%S}Z", ""]
        for e in self.events:
            offset = (e.at - self.started_at).total_seconds()
            lines.append(f"  +{int(offset // 60):d}:{offset % 60:04.1f}  {e.step:<10} {e.detail}")
        lines.append("")
        ttd, ttr = self.time_to_detect(), self.time_to_recover()
        for name in self.detectors:
            d = f"{ttd[name]:.1f} s after the breach" if name in ttd else "NOT DETECTED"
            r = f"{ttr[name]:.1f} s after the restart" if name in ttr else "NOT RECOVERED"
            lines.append(f"  {name:<11} time-to-detect {d:<28} time-to-recover {r}")
        lines.append("")
        lines.append("drill PASSED" if self.ok else f"drill FAILED: {self.error}")
        return "\n".join(lines)
