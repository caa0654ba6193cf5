"""Run parameters of a reconciliation (contracts §2): cut-off `as_of`, tolerance τ and grace G.

The same `ReconciliationConfig` is given to the dbt step and the report step. When `as_of` is not
set, both resolve it to the run's creation time, so every step of one run sees the same cut-off.
τ and G default to the deployment's (FINANCE_RECON_TOLERANCE, FINANCE_RECON_GRACE_MINUTES): the
definitions build the config class of their deployment with `reconciliation_config(settings)`, so a
run launched from the UI without config uses them; `ReconciliationConfig` itself carries the
model's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from dagster import Config, OpExecutionContext
from pydantic import Field

from finance_recon.settings import Settings

_TOLERANCE = Settings.model_fields["tolerance"]
_GRACE_MINUTES = Settings.model_fields["grace_minutes"]


class ReconciliationConfig(Config):
    as_of: str | None = Field(
        default=None,
        description="Cut-off, ISO-8601 with a UTC offset (e.g. 2026-11-28T18:00:00Z). Default: the run's start.",
    )
    tolerance: str = Field(
        default=str(_TOLERANCE.default), description="τ, a decimal in the order's currency."
    )
    grace_minutes: int = Field(
        default=_GRACE_MINUTES.default, description="G, minutes before a gap is a break."
    )
    full_refresh: bool = Field(
        default=False,
        description="Rebuild the reconciliation from all history instead of re-classifying what changed.",
    )


def reconciliation_config(settings: Settings) -> type[ReconciliationConfig]:
    """`ReconciliationConfig` with this deployment's τ and G as defaults (what a run launched from the
    UI without config uses; the CLI and the schedule always pass them)."""
    tau, grace = str(settings.tolerance), settings.grace_minutes
    if (tau, grace) == (str(_TOLERANCE.default), _GRACE_MINUTES.default):
        return ReconciliationConfig

    fields = ReconciliationConfig.model_fields

    class DeploymentReconciliationConfig(ReconciliationConfig):
        tolerance: str = Field(default=tau, description=fields["tolerance"].description)
        grace_minutes: int = Field(default=grace, description=fields["grace_minutes"].description)

    return DeploymentReconciliationConfig


@dataclass(frozen=True)
class ReconciliationParameters:
    as_of: datetime
    tolerance: Decimal
    grace_minutes: int

    def dbt_vars(self) -> dict[str, object]:
        return {
            "as_of": format_ts(self.as_of),
            "tolerance": str(self.tolerance),
            "grace_minutes": self.grace_minutes,
        }


class ParameterError(ValueError):
    pass


def format_ts(value: datetime) -> str:
    """ISO-8601 in UTC with an explicit offset; microseconds only when present."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_as_of(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ParameterError(f"as_of {text!r} is not ISO-8601 (expected e.g. 2026-11-28T18:00:00Z)") from exc
    if value.tzinfo is None:
        raise ParameterError(f"as_of {text!r} has no UTC offset; write it as 2026-11-28T18:00:00Z")
    return value.astimezone(UTC)


def parse_tolerance(text: str) -> Decimal:
    from finance_recon.settings import TOLERANCE_EXPECTED, check_tolerance

    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ParameterError(
            f"tolerance {text!r} is not a decimal number: expected {TOLERANCE_EXPECTED}"
        ) from exc
    try:
        return check_tolerance(value)
    except ValueError as exc:
        raise ParameterError(f"tolerance {text!r}: {exc}") from None


def resolve(context: OpExecutionContext, config: ReconciliationConfig) -> ReconciliationParameters:
    if config.as_of:
        as_of = parse_as_of(config.as_of)
        # The same limit as the CLI's flag (cli/arguments.py), for runs launched from the UI.
        from finance_recon.settings import MAX_AS_OF_SKEW_MINUTES

        if as_of > datetime.now(UTC) + timedelta(minutes=MAX_AS_OF_SKEW_MINUTES):
            raise ParameterError(
                f"as_of {config.as_of!r} is in the future: expected a cut-off at most "
                f"{MAX_AS_OF_SKEW_MINUTES} minutes ahead of the clock"
            )
    else:
        record = context.instance.get_run_record_by_id(context.run_id)
        created = record.create_timestamp if record else datetime.now(UTC)
        as_of = created.astimezone(UTC).replace(microsecond=0)
    if config.grace_minutes < 0:
        raise ParameterError(f"grace_minutes {config.grace_minutes} must be ≥ 0")
    return ReconciliationParameters(
        as_of=as_of, tolerance=parse_tolerance(config.tolerance), grace_minutes=config.grace_minutes
    )


RUN_PARAMETERS_TABLE = "control.run_parameters"
VERIFIED_BUILDS_TABLE = "control.verified_builds"
# Written by the incremental state's post-hook (dbt_project/macros/incremental_state/bookkeeping.sql):
# one row per build.
STATE_BUILDS_TABLE = "control.state_builds"


def write_run_parameters(conn, params: ReconciliationParameters, run_id: str) -> None:
    """Append this run's parameters for the models to read (dbt_project/macros/run_parameters.sql).

    The models read the newest row, so the prepared manifest stays valid across runs (no --vars).
    """
    conn.execute("CREATE SCHEMA IF NOT EXISTS control")
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {RUN_PARAMETERS_TABLE} (seq BIGINT NOT NULL, run_id VARCHAR NOT NULL, "
        "as_of TIMESTAMPTZ NOT NULL, tolerance DECIMAL(18, 6) NOT NULL, grace_minutes INTEGER NOT NULL, "
        "written_at TIMESTAMPTZ NOT NULL)"
    )
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {VERIFIED_BUILDS_TABLE} (seq BIGINT NOT NULL, run_id VARCHAR NOT NULL, "
        "verified_at TIMESTAMPTZ NOT NULL, project_fingerprint VARCHAR)"
    )
    # Warehouses written before the fingerprint was recorded (their builds carry no state forward).
    conn.execute(f"ALTER TABLE {VERIFIED_BUILDS_TABLE} ADD COLUMN IF NOT EXISTS project_fingerprint VARCHAR")
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {STATE_BUILDS_TABLE} (seq BIGINT NOT NULL, run_id VARCHAR NOT NULL, "
        "as_of TIMESTAMPTZ NOT NULL, consumed_change_batch BIGINT NOT NULL, built_at TIMESTAMPTZ NOT NULL)"
    )
    from finance_recon.sources.landing import sql_literal

    values = (
        f"{sql_literal(run_id)}, {sql_literal(params.as_of)}, "
        f"CAST({sql_literal(str(params.tolerance))} AS DECIMAL(18, 6)), {sql_literal(params.grace_minutes)}"
    )
    conn.execute(
        f"INSERT INTO {RUN_PARAMETERS_TABLE} SELECT coalesce(max(seq), 0) + 1, {values}, now() "
        f"FROM {RUN_PARAMETERS_TABLE}"
    )


def record_verified_build(conn, run_id: str, project_fingerprint: str) -> None:
    """Record that this run's `dbt build` passed every data test (the row tests' `where`,
    dbt_project/models/marts/_marts__models.yml), built by the dbt project with this fingerprint
    (reconciliation/carry_forward.py: a later run carries the state forward only from a build of
    the same project).

    The production row tests then skip what this build classified: a later run tests only the items
    classified after it. Only called once the build succeeded; a failed or killed build records
    nothing, so its rows are tested again by the next run.
    """
    from finance_recon.sources.landing import sql_literal

    conn.execute(
        f"INSERT INTO {VERIFIED_BUILDS_TABLE} (seq, run_id, verified_at, project_fingerprint) "
        f"SELECT seq, run_id, now(), {sql_literal(project_fingerprint)} FROM {RUN_PARAMETERS_TABLE} "
        f"WHERE run_id = {sql_literal(run_id)} ORDER BY seq DESC LIMIT 1"
    )
