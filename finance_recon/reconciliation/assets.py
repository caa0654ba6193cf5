"""The dbt models as Dagster assets: staging → intermediate → marts, with dbt tests as asset checks."""

import functools
import graphlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    ConfigurableResource,
    MaterializeResult,
)
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from finance_recon.names import (
    DBT_ASSETS_NAME,
    PIPELINE_TAG,
)
from finance_recon.reconciliation.carry_forward import CarryForward, project_fingerprint
from finance_recon.reconciliation.parameters import (
    ReconciliationConfig,
    ReconciliationParameters,
    format_ts,
    resolve,
)
from finance_recon.reconciliation.parse_cache import run_target_path
from finance_recon.reconciliation.project import dbt_project
from finance_recon.settings import Settings, environment_overrides

# dbt_project.yml tags the tests CI runs and production does not with it (the landing and staging
# tests, whose rules the blocking contract suite checks on every batch).
CI_ONLY_TAG = "ci_only"


class ReconciliationTranslator(DagsterDbtTranslator):
    """Models keep their dbt names as asset keys; sources map to the extraction assets via `meta`.

    `platform` is the deployment's settings: the UI shows its engine and table names."""

    def __init__(self, platform: Settings, settings: DagsterDbtTranslatorSettings | None = None):
        super().__init__(settings)
        self._platform = platform

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props.get("resource_type") == "source":
            return "sources"
        return "reconciliation"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]):
        return ["team:data-platform"]

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        layer = (
            dbt_resource_props.get("fqn", ["", ""])[1]
            if len(dbt_resource_props.get("fqn", [])) > 2
            else "model"
        )
        return {**super().get_tags(dbt_resource_props), "layer": layer}

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        # The CI-only tests prove the SQL in CI (tests/reconciliation) and never run in production
        # (`--exclude tag:ci_only` below): no asset check for them, which a run would otherwise
        # plan, never evaluate, and show as such in the UI. (A selection
        # `exclude` on the decorator would need dbt-core's selector in this process: __init__.py.)
        if CI_ONLY_TAG in manifest["nodes"].get(unique_id, {}).get("tags", []):
            return None
        return super().get_asset_check_spec(asset_spec, manifest, unique_id, project)

    def _table_name(self, node: Mapping[str, Any]) -> str:
        """Where the configured engine keeps the node: `<catalog>.<schema>.<name>` on Trino, the DuckDB
        file's `<database>.main.<name>` otherwise (not the relation of whichever target was prepared)."""
        settings, name = self._platform, node.get("alias") or node["name"]
        if settings.warehouse_target == "trino":
            return f"{settings.trino_catalog}.{settings.trino_schema}.{name}"
        return f"{Path(settings.warehouse_path).stem}.main.{name}"

    def get_asset_spec(self, manifest, unique_id, project):
        # dagster-dbt takes the engine kind and the table name from the manifest, i.e. from whichever
        # target was prepared last (the manifest is shared): the UI shows the configured engine's.
        spec = super().get_asset_spec(manifest, unique_id, project)
        engine = self._platform.warehouse_target
        storage = {"trino": "iceberg"}.get(engine, engine)
        kinds = {"dbt", engine, *({storage} - {engine}), *(spec.kinds & {"view"})}
        metadata = {"dagster/storage_kind": storage}  # TableMetadataSet's keys (not exported by dagster 1.13)
        node = manifest["nodes"].get(unique_id)
        if node is not None and node.get("resource_type") in ("model", "seed", "snapshot"):
            metadata["dagster/table_name"] = self._table_name(node)
        return spec.replace_attributes(kinds=kinds).merge_attributes(metadata=metadata)


def reconciliation_translator(settings: Settings) -> ReconciliationTranslator:
    return ReconciliationTranslator(settings, DagsterDbtTranslatorSettings(enable_asset_checks=True))


def build_reconciliation_dbt_models(settings: Settings) -> AssetsDefinition:
    """The dbt models of this deployment (`reconciliation_dbt_models`): labelled with its engine, and
    run with its τ and G unless the run config gives others (reconciliation/parameters.py)."""
    from finance_recon.reconciliation.parameters import reconciliation_config

    config_class = reconciliation_config(settings)

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        name=DBT_ASSETS_NAME,
        dagster_dbt_translator=reconciliation_translator(settings),
        op_tags={PIPELINE_TAG: "reconciliation"},
    )
    def reconciliation_dbt_models(
        context: AssetExecutionContext,
        dbt: DbtCliResource,
        warehouse: ConfigurableResource,
        config: config_class,  # a ReconciliationConfig with the deployment's defaults
    ):
        yield from reconcile_with_dbt(context, dbt, warehouse, config)

    return reconciliation_dbt_models


@functools.cache
def dbt_model_count() -> int:
    """How many assets the dbt step materializes: the same for every deployment (the translator's
    settings only label them), so counted with the model's defaults, without reading the environment."""
    return len(build_reconciliation_dbt_models(Settings.from_values()).keys)


def reconcile_with_dbt(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: ConfigurableResource,  # a `Warehouse` of finance_recon/engines/ (resources.py picks it)
    config: ReconciliationConfig,
):
    params = resolve(context, config)
    # The landed tables (`orders`, `payments`) merged only batches that passed their blocking
    # contract checks; this step reconciles what is landed. The parameters reach the models through
    # a table, not --vars: new vars on every run would make dbt re-parse the project instead of
    # using the prepared manifest (partial parse).
    warehouse.write_run_parameters(params, context.run_id)
    fingerprint = project_fingerprint(dbt_project.project_dir, warehouse.target)
    if _may_carry_forward(context, config):
        decision = warehouse.carry_state_forward(params, context.run_id, fingerprint)
        if decision.carried:
            yield from _carried_forward(context, params, decision)
            return
        context.log.info(f"building: {decision.reason}")
    context.log.info(
        f"dbt build with as_of={params.dbt_vars()['as_of']} τ={params.tolerance} G={params.grace_minutes}m"
    )
    # Unit tests and the CI-only data tests prove the SQL, in CI (tests/reconciliation); a production
    # run executes the models and the data tests that guard publishing: the maintained state, the
    # marts and the summaries (the sources' rules are the blocking contract suite's).
    args = ["build", "--exclude-resource-type", "unit_test", "--exclude", f"tag:{CI_ONLY_TAG}"]
    if config.full_refresh:
        args.append("--full-refresh")
    with (
        run_target_path(warehouse.dbt_state_anchor(), context.run_id) as target_path,
        # profiles.yml and the sources read where this deployment lives from the environment
        # (dagster-dbt hands os.environ to dbt), set for this dbt invocation only.
        environment_overrides(warehouse.dbt_env()),
    ):
        yield from dbt.cli(args, context=context, target_path=target_path).stream()
    # Every test passed (a failure raised above): later runs skip these rows.
    warehouse.record_verified_build(context.run_id, fingerprint)


def _may_carry_forward(context: AssetExecutionContext, config: ReconciliationConfig) -> bool:
    """A full refresh always builds, and so does a selection of some models only (a subset the UI
    launched is built as asked)."""
    return not config.full_refresh and set(context.selected_asset_keys) >= set(context.assets_def.keys)


def _carried_forward(
    context: AssetExecutionContext, params: ReconciliationParameters, decision: CarryForward
) -> Iterator[MaterializeResult | AssetCheckResult]:
    """Nothing was dirty: no model ran, and every model is what a build at this as_of would leave (its
    as_of-dependent columns read the carried cut-off). Each is materialized saying why it was not
    rebuilt, so the UI and the freshness policies see this run as they see a build.

    Its data tests were not run either. Each keeps the result of the verified build it is carried
    from, marked as such (`evaluated: false`): no row they look at has changed since (the row tests
    look only at rows classified after the last verified build: none), and a blocking check with no
    result would put one warning per test into every quiet run's log."""
    last = decision.last_build
    context.log.info(
        f"dbt not run: {decision.reason}; the state is carried forward to as_of {format_ts(params.as_of)}"
    )
    checks = sorted(context.selected_asset_check_keys, key=lambda k: k.name)
    for key in _upstream_first(context):
        yield MaterializeResult(
            asset_key=key,
            metadata={
                "rebuilt": False,
                "why_not_rebuilt": decision.reason,
                "as_of": format_ts(params.as_of),
                "carried_from_run_id": last.run_id,
                "carried_from_as_of": format_ts(last.as_of),
            },
        )
        for check in (c for c in checks if c.asset_key == key):
            yield AssetCheckResult(
                asset_key=key,
                check_name=check.name,
                passed=True,
                description=(
                    f"Not re-evaluated: nothing is dirty since the verified build carried forward from run "
                    f"{last.run_id}, which passed this test; no row it looks at has changed."
                ),
                metadata={"evaluated": False, "carried_from_run_id": last.run_id},
            )


def _upstream_first(context: AssetExecutionContext) -> list[AssetKey]:
    """The selected models, each after the models it reads (Dagster takes a multi-asset's outputs in
    topological order), ties by name so the event log reads the same every run."""
    selected = set(context.selected_asset_keys)
    deps = context.assets_def.asset_deps
    order = graphlib.TopologicalSorter({key: deps.get(key, set()) & selected for key in sorted(selected)})
    return list(order.static_order())
