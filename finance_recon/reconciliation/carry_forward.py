"""Carrying the reconciliation state forward to a new cut-off without running dbt's models.

The maintained state (`int_reconciliation_items`, dbt_project/macros/incremental_state/) is current
at the as_of of its last build. It is current at a later as_of as well, and a run need not build
anything, when nothing that decides a category has changed in between (contracts §2; the dirty
keys of macros/incremental_state/dirty_keys.sql are then empty):

  - the last build passed every data test (`control.verified_builds`) and was built by this dbt
    project and target (their fingerprint: a new release of the models, or another target, rebuilds);
  - τ and G are the last build's, and as_of is not earlier than its as_of;
  - the landing's change log holds nothing the last build did not consume: no batch landed a new
    version of a row, and no extraction replaced a table;
  - nothing becomes considered: no order or payment created in (last as_of, as_of];
  - no item leaves its grace window: none classified within it was created before as_of − G.

Then the run appends a build of the state at its own as_of that classified nothing (a row in
`control.state_builds`, and one in `control.verified_builds`: the last build's tests stand, since
no row changed). What depends on the cut-off alone reads it from that record when queried (the
items' age and the summary's as_of, `state_as_of()` in dbt_project/macros/run_parameters.sql), so
the marts are exactly what a build at the new as_of would give; the report publishes them under
the new as_of and run id as after any build. tests/reconciliation/test_incremental_equals_full.py and
tests/trino/test_incremental_equals_full_on_trino.py prove the equality with a full rebuild over
random sequences of changes, quiet periods and grace expiries; tests/pipeline/test_carry_forward.py
that a carried-forward run publishes the bytes a rebuilt one does.

The checks are a few small queries (the change log is pruned after every build; the grace check
reads the state's two narrow columns), measured in docs/benchmarks.md. The engines run them
(finance_recon/engines/): this module holds the decision and its SQL.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from finance_recon.reconciliation.parameters import ReconciliationParameters, format_ts

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class StateRelations:
    """Where one warehouse keeps what the decision reads, as SQL relation names, and how it writes a
    literal."""

    state: str  # int_reconciliation_items
    change_log: str  # landing._changed_keys
    orders: str  # landing.orders
    payments: str  # landing.payments
    state_builds: str
    verified_builds: str
    run_parameters: str
    literal: Callable[[object], str]
    now: str  # the engine's current timestamp with time zone
    exists: Callable[[str], bool]  # whether one of the relations above exists
    # How a timestamp column is selected: DuckDB's as epoch microseconds (a TIMESTAMPTZ fetched as a
    # Python value makes its client import pandas: seconds per step), Trino's as it is.
    timestamp_out: str = "{}"


@dataclass(frozen=True)
class LastBuild:
    seq: int
    run_id: str
    as_of: datetime
    consumed_change_batch: int
    tolerance: Decimal | None  # None: no parameters recorded for it (a build with --vars)
    grace_minutes: int | None
    verified: bool
    project_fingerprint: str | None


@dataclass(frozen=True)
class CarryForward:
    """The decision: `carried` when the state was carried forward to this run's as_of (nothing
    dirty); `reason` says why, or why not, in words the UI and the log show."""

    carried: bool
    reason: str
    last_build: LastBuild | None = None


@functools.cache
def project_fingerprint(project_dir: Path, target: str) -> str:
    """sha256 over the dbt project's SQL and YAML (models, macros, tests, dbt_project.yml,
    profiles.yml) and the dbt target it runs: what the state was built by. Any change to a rule, a
    model or the deployment's target makes the next run build (and a target its profile does not
    have fails there, instead of hiding behind a carried-forward state)."""
    digest = hashlib.sha256(f"target={target}\0".encode())
    files = [project_dir / "dbt_project.yml", project_dir / "profiles.yml"] + sorted(
        path
        for folder in ("models", "macros", "tests")
        for path in (project_dir / folder).rglob("*")
        if path.suffix in (".sql", ".yml", ".yaml") and path.is_file()
    )
    for path in files:
        digest.update(str(path.relative_to(project_dir)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def last_build_sql(r: StateRelations) -> str:
    """The newest build of the state, with the parameters it ran with and whether it was verified."""
    return f"""
with last_build as (
    select seq, run_id, as_of, consumed_change_batch
    from {r.state_builds}
    order by seq desc, built_at desc
    limit 1
)
select
    b.seq, b.run_id, {r.timestamp_out.format("b.as_of")}, b.consumed_change_batch,
    (select max(p.tolerance) from {r.run_parameters} p where p.seq = b.seq and p.run_id = b.run_id),
    (select max(p.grace_minutes) from {r.run_parameters} p where p.seq = b.seq and p.run_id = b.run_id),
    exists (select 1 from {r.verified_builds} v where v.seq = b.seq and v.run_id = b.run_id),
    (select max(v.project_fingerprint) from {r.verified_builds} v where v.seq = b.seq and v.run_id = b.run_id)
from last_build b"""


def dirty_sql(r: StateRelations, last: LastBuild, params: ReconciliationParameters) -> str:
    """Three flags: anything landed since the last build, anything that becomes considered, any item
    whose grace window ends by this as_of (each an EXISTS: the engines stop at the first row)."""
    lit = r.literal
    since, until = lit(last.as_of), lit(params.as_of)
    grace_start = lit(params.as_of - timedelta(minutes=params.grace_minutes))
    return f"""
select
    exists (select 1 from {r.change_log} where change_batch > {lit(last.consumed_change_batch)}),
    exists (select 1 from {r.orders} where created_at > {since} and created_at <= {until})
        or exists (select 1 from {r.payments} where created_at > {since} and created_at <= {until}),
    exists (select 1 from {r.state} where is_within_grace and created_at < {grace_start})"""


def record_sql(
    r: StateRelations, last: LastBuild, params: ReconciliationParameters, run_id: str, fingerprint: str
):
    """The two rows that carry the state forward: a build at this run's as_of that consumed nothing
    new, and its verification (the state's rows are the verified build's)."""
    lit = r.literal
    this_run = f"from {r.run_parameters} where run_id = {lit(run_id)} order by seq desc limit 1"
    return [
        f"insert into {r.state_builds} (seq, run_id, as_of, consumed_change_batch, built_at) "
        f"select seq, run_id, {lit(params.as_of)}, {lit(last.consumed_change_batch)}, {r.now} {this_run}",
        f"insert into {r.verified_builds} (seq, run_id, verified_at, project_fingerprint) "
        f"select seq, run_id, {r.now}, {lit(fingerprint)} {this_run}",
    ]


def why_not_without_data(
    last: LastBuild | None, params: ReconciliationParameters, fingerprint: str
) -> str | None:
    """Why the state cannot be carried forward, from the last build's record alone; None: ask the data."""
    if last is None:
        return "no build of the state is recorded"
    if not last.verified:
        return f"the last build (run {last.run_id}) did not pass every data test"
    if last.project_fingerprint != fingerprint:
        return f"the dbt project or its target changed since the last build (run {last.run_id})"
    if params.as_of < last.as_of:
        return f"as_of {format_ts(params.as_of)} is earlier than the last build's {format_ts(last.as_of)}"
    if last.tolerance is None or Decimal(last.tolerance) != params.tolerance:
        return f"τ {params.tolerance} differs from the last build's {last.tolerance}"
    if last.grace_minutes != params.grace_minutes:
        return f"G {params.grace_minutes} min differs from the last build's {last.grace_minutes} min"
    return None


def why_not_from_data(landed: bool, arriving: bool, grace_expiring: bool, last: LastBuild) -> str | None:
    if landed:
        return f"the extraction landed changes since the last build (run {last.run_id})"
    if arriving:
        return f"orders or payments created after the last build's as_of {format_ts(last.as_of)} are now considered"
    if grace_expiring:
        return "an item's grace window ended since the last build"
    return None


def decide(
    fetch: Callable[[str], list[tuple]],
    relations: StateRelations,
    params: ReconciliationParameters,
    fingerprint: str,
) -> CarryForward:
    """Whether nothing is dirty (this module's header), asking the warehouse through `fetch`."""
    for what, relation in (
        ("the reconciliation state", relations.state),
        ("the change log", relations.change_log),
    ):
        if not relations.exists(relation):
            return CarryForward(False, f"{what} ({relation}) does not exist yet")
    rows = fetch(last_build_sql(relations))
    last = _last_build(rows[0]) if rows else None
    reason = why_not_without_data(last, params, fingerprint)
    if reason is not None:
        return CarryForward(False, reason, last)
    landed, arriving, grace_expiring = fetch(dirty_sql(relations, last, params))[0]
    reason = why_not_from_data(bool(landed), bool(arriving), bool(grace_expiring), last)
    if reason is not None:
        return CarryForward(False, reason, last)
    return CarryForward(
        True,
        f"nothing is dirty since the last build (run {last.run_id}, as_of {format_ts(last.as_of)}): "
        "no change landed, nothing newly considered, no grace window ended, τ and G unchanged",
        last,
    )


def _last_build(row: tuple) -> LastBuild:
    seq, run_id, as_of, consumed, tolerance, grace, verified, fingerprint = row
    return LastBuild(
        seq=int(seq),
        run_id=str(run_id),
        as_of=as_of if isinstance(as_of, datetime) else EPOCH + timedelta(microseconds=int(as_of)),
        consumed_change_batch=int(consumed),
        tolerance=None if tolerance is None else Decimal(str(tolerance)),
        grace_minutes=None if grace is None else int(grace),
        verified=bool(verified),
        project_fingerprint=fingerprint,
    )
