"""Dagster definitions: per-tenant loads of customers and contacts, a nightly schedule, pushes.

Each tenant is a partition of the `flowretail/customers` and `flowretail/contacts` assets (the
contacts asset also fills `contacts__extensions`). A partition runs the source for that tenant
alone through a dlt pipeline of its own, `flowretail_<tenant>`, into the shared dataset, so
tenants load in parallel as separate runs on as many workers as the deployment has.

Settings, all from the environment or dlt config: `FLOWRETAIL_TENANTS` (comma-separated UIDs)
or `sources.flowretail.tenants`, `FLOWRETAIL_DESTINATION` (default `duckdb`), and the source's
usual `SOURCES__FLOWRETAIL__BASE_URL` and `SOURCES__FLOWRETAIL__ACCESS_TOKEN`.

Example:
    $ FLOWRETAIL_TENANTS=t-1,t-2 FLOWRETAIL_DESTINATION=postgres \\
        dagster dev -m orchestration.dagster_defs
"""

# NOTE: no `from __future__ import annotations`: Dagster reads the `context` and `config`
# annotations at runtime and refuses them as strings.
import os
from collections.abc import Iterator, Sequence
from typing import Any

import dlt
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    AssetSpec,
    Backoff,
    Config,
    Definitions,
    Failure,
    Jitter,
    OpExecutionContext,
    RetryPolicy,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    StaticPartitionsDefinition,
    define_asset_job,
    definitions,
    job,
    op,
    schedule,
)
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from pipelines.common import DATASET_NAME, PIPELINE_NAME, duckdb_path, run_lock
from pipelines.views import create_views
from sources.flowretail import flowretail_source
from sources.flowretail.errors import ConfigError
from sources.flowretail.settings import PRODUCTION_URL

ENV_TENANTS = "FLOWRETAIL_TENANTS"
ENV_DESTINATION = "FLOWRETAIL_DESTINATION"
ASSET_PREFIX = "flowretail"
NIGHTLY_CRON = "17 3 * * *"
DUCKDB_POOL = "flowretail_duckdb"
LOAD_RETRY = RetryPolicy(
    max_retries=3, delay=60, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)
PUSH_RETRY = RetryPolicy(max_retries=2, delay=30, backoff=Backoff.EXPONENTIAL)


def configured_tenants() -> list[str]:
    """Return the tenant UIDs to partition by, from `FLOWRETAIL_TENANTS` or dlt config."""
    raw: Any = os.environ.get(ENV_TENANTS) or dlt.config.get("sources.flowretail.tenants")
    tenants = raw.split(",") if isinstance(raw, str) else list(raw or [])
    tenants = [str(tenant).strip() for tenant in tenants if str(tenant).strip()]
    if not tenants:
        raise ConfigError(
            f"no tenants to partition by: set {ENV_TENANTS} to comma-separated tenant UIDs or "
            "sources.flowretail.tenants in .dlt/config.toml (`flowretail check` lists them)"
        )
    return tenants


def tenant_pipeline(
    tenant: str,
    destination: str = "duckdb",
    *,
    dataset_name: str = DATASET_NAME,
    pipelines_dir: str | None = None,
) -> Any:
    """Return the dlt pipeline of one tenant: its own name and state, the shared dataset.

    NOTE: dlt keeps one state per pipeline name and restores it from the destination by that
    name, so tenants loading at once must not share a pipeline; with a shared name the last
    writer's cursors would win. DuckDB writes the same file as `flowretail load`.
    """
    target: Any = destination
    if destination == "duckdb":
        target = dlt.destinations.duckdb(duckdb_path(PIPELINE_NAME))
    where: dict[str, Any] = {"pipelines_dir": pipelines_dir} if pipelines_dir else {}
    return dlt.pipeline(
        pipeline_name=tenant_pipeline_name(tenant),
        destination=target,
        dataset_name=dataset_name,
        **where,
    )


def tenant_pipeline_name(tenant: str) -> str:
    """Return `flowretail_<tenant>` with dashes as underscores.

    NOTE: Before its first load a pipeline has no schema, and dlt names a stand-in schema after
    the pipeline; schema names may not contain dashes, which tenant UIDs do.
    """
    return f"{PIPELINE_NAME}_{tenant.replace('-', '_')}"


class FlowRetailTranslator(DagsterDltTranslator):
    """Name the assets `flowretail/<table>`, without dependencies on dlt's helper resources."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> AssetSpec:
        """Return dagster-dlt's spec with our key and no upstream assets."""
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(key=AssetKey([ASSET_PREFIX, data.resource.name]), deps=[])


def build_load_assets(
    tenants: Sequence[str],
    destination: str = "duckdb",
    *,
    dataset_name: str = DATASET_NAME,
    pipelines_dir: str | None = None,
) -> AssetsDefinition:
    """Return the customers and contacts assets, partitioned by tenant.

    NOTE: dagster-dlt derives the asset specs from a source object at definition time, before
    any secret may be configured; that source gets a placeholder token and never runs. Each
    partition builds its own source from the configured URL and token.
    """
    partitions = StaticPartitionsDefinition(list(tenants))
    spec_source = flowretail_source(base_url=PRODUCTION_URL, access_token="asset-specs-only")
    spec_pipeline = tenant_pipeline("assets", destination, dataset_name=dataset_name)

    @dlt_assets(
        dlt_source=spec_source,
        dlt_pipeline=spec_pipeline,
        name="flowretail_tenant_load",
        group_name=ASSET_PREFIX,
        dagster_dlt_translator=FlowRetailTranslator(),
        partitions_def=partitions,
        pool=DUCKDB_POOL if destination == "duckdb" else None,
    )
    def flowretail_tenant_load(
        context: AssetExecutionContext, dlt_resource: DagsterDltResource
    ) -> Iterator[Any]:
        tenant = context.partition_key
        pipeline = tenant_pipeline(
            tenant, destination, dataset_name=dataset_name, pipelines_dir=pipelines_dir
        )
        with run_lock(pipeline):
            yield from dlt_resource.run(
                context=context,
                dlt_source=flowretail_source(tenants=[tenant]),
                dlt_pipeline=pipeline,
                loader_file_format="parquet",
            )
            create_views(pipeline)

    return flowretail_tenant_load


def nightly_schedule(
    load_job: UnresolvedAssetJobDefinition, tenants: Sequence[str]
) -> ScheduleDefinition:
    """Return a schedule that starts one run per tenant every night, so tenants run in parallel."""

    @schedule(
        name="flowretail_nightly_load",
        cron_schedule=NIGHTLY_CRON,
        job=load_job,
        execution_timezone="UTC",
    )
    def flowretail_nightly_load(context: ScheduleEvaluationContext) -> list[RunRequest]:
        day = f"{context.scheduled_execution_time:%Y-%m-%d}"
        return [RunRequest(run_key=f"{tenant}:{day}", partition_key=tenant) for tenant in tenants]

    return flowretail_nightly_load


class PushConfig(Config):
    """What one push sends: `kind` rows from a file (`input`) or a query on the dataset."""

    kind: str = "contacts"
    input: str | None = None
    query: str | None = None
    dry_run: bool = False
    force: bool = False


def build_push_job(destination: str = "duckdb", *, dataset_name: str = DATASET_NAME) -> Any:
    """Return the `flowretail_push` job: one `flowretail push` with the run's config."""

    @op(retry_policy=PUSH_RETRY)
    def push_rows(context: OpExecutionContext, config: PushConfig) -> None:
        from pipelines.push import run_push

        summary = run_push(
            config.kind,
            input_path=config.input,
            query=config.query,
            dry_run=config.dry_run,
            force=config.force,
            destination=destination,
            dataset_name=dataset_name,
        )
        for line in summary.lines():
            context.log.info(line)
        if not summary.ok:
            # Conflicts and rejections come back the same on a retry; people decide.
            raise Failure(
                description=f"{summary.problems} rows not pushed: see push_rejections",
                allow_retries=False,
            )

    @job(name="flowretail_push")
    def flowretail_push_job() -> None:
        push_rows()

    return flowretail_push_job


def build_definitions(
    tenants: Sequence[str] | None = None,
    destination: str | None = None,
    *,
    dataset_name: str = DATASET_NAME,
    pipelines_dir: str | None = None,
) -> Definitions:
    """Return the assets, jobs, schedule and resource, from arguments or the environment."""
    tenants = list(tenants or configured_tenants())
    destination = destination or os.environ.get(ENV_DESTINATION, "duckdb")
    assets = build_load_assets(
        tenants, destination, dataset_name=dataset_name, pipelines_dir=pipelines_dir
    )
    load_job = define_asset_job(
        "flowretail_load",
        selection=AssetSelection.assets(assets),
        op_retry_policy=LOAD_RETRY,
    )
    return Definitions(
        assets=[assets],
        jobs=[load_job, build_push_job(destination, dataset_name=dataset_name)],
        schedules=[nightly_schedule(load_job, tenants)],
        resources={"dlt_resource": DagsterDltResource()},
    )


@definitions
def defs() -> Definitions:
    """Return the definitions Dagster loads from this module."""
    return build_definitions()
