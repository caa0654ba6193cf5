"""The continuity identity of open breaks across runs, checked before anything is published.

open breaks now = open breaks of the previous published run + new − resolved

`open now` is dbt's count (rpt_reconciliation_summary.breaks), `previous` is what the previous
manifest published, `new`/`resolved` come from the lifecycle comparison of the break rows. With an
incremental reconciliation this is the guard that the carried-forward state, the published history
and this run's breaks agree: a violation means one of them lost or invented a break.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Continuity:
    previous_open: int
    new: int
    resolved: int
    open_now: int

    @property
    def holds(self) -> bool:
        return self.open_now == self.previous_open + self.new - self.resolved

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "previous_open": self.previous_open,
            "new": self.new,
            "resolved": self.resolved,
            "open": self.open_now,
            "holds": self.holds,
        }

    def violation(self) -> str:
        return (
            f"break continuity violated: open breaks {self.open_now} ≠ previous open {self.previous_open} "
            f"+ new {self.new} − resolved {self.resolved} (= {self.previous_open + self.new - self.resolved}); "
            "nothing was published — rebuild with `finance-recon run --full-refresh`"
        )
