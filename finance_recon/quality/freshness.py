"""The platform's one freshness policy (contracts §4, runbook SLA) and the one place it is applied.

`FreshnessPolicy.time_window(fail_window=SLA, warn_window=WARN)` from `Settings`
(FINANCE_RECON_SLA_MINUTES, default 30; FINANCE_RECON_WARN_MINUTES, default 20) goes on the source
assets and the report. The FreshnessDaemon (in `dagster-daemon` / `dagster dev`) evaluates it and
records `FRESHNESS_STATE_CHANGE` events, which `finance_recon.alerting` turns into alerts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

from dagster import AssetKey, AssetsDefinition, FreshnessPolicy

from finance_recon.names import FRESH_ASSET_KEYS


def freshness_policy(sla_minutes: int, warn_minutes: int) -> FreshnessPolicy:
    if not 0 < warn_minutes < sla_minutes:
        raise ValueError(f"freshness: need 0 < warn ({warn_minutes} min) < SLA ({sla_minutes} min)")
    return FreshnessPolicy.time_window(
        fail_window=timedelta(minutes=sla_minutes), warn_window=timedelta(minutes=warn_minutes)
    )


def apply_freshness(
    assets: Sequence[AssetsDefinition],
    policy: FreshnessPolicy,
    keys: Iterable[AssetKey] = FRESH_ASSET_KEYS,
) -> list[AssetsDefinition]:
    """`assets` with `policy` on every spec whose key is in `keys` (others untouched)."""
    wanted = set(keys)
    found: set[AssetKey] = set()

    def _with_policy(spec):
        if spec.key in wanted:
            found.add(spec.key)
            return spec.replace_attributes(freshness_policy=policy)
        return spec

    mapped = [a.map_asset_specs(_with_policy) if wanted & set(a.keys) else a for a in assets]
    missing = wanted - found
    if missing:
        raise ValueError(
            f"freshness policy targets unknown assets: {sorted(k.to_user_string() for k in missing)}"
        )
    return mapped
