"""The Dagster assets load each tenant partition from the sandbox into one DuckDB dataset."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance, Definitions, build_schedule_context, materialize

from orchestration.dagster_defs import build_definitions, configured_tenants, tenant_pipeline_name
from pipelines.load import run_load
from sandbox.app import Sandbox
from sources.flowretail.errors import ConfigError


@pytest.fixture
def source_env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Point the source at the sandbox and return its tenant UIDs."""
    monkeypatch.setenv("SOURCES__FLOWRETAIL__BASE_URL", sandbox.base_url)
    monkeypatch.setenv("SOURCES__FLOWRETAIL__ACCESS_TOKEN", "sandbox-admin")
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    return [tenant["tenantUid"] for tenant in sandbox.tenants()]


def per_tenant(workdir: Path, table: str) -> Counter[str]:
    """Return the rows of a loaded table per tenant."""
    with duckdb.connect(str(workdir / "flowretail_warehouse.duckdb"), read_only=True) as db:
        rows = db.sql(f"SELECT tenant_uid, COUNT(*) FROM flowretail.{table} GROUP BY 1").fetchall()
    return Counter({tenant: count for tenant, count in rows})


def test_two_tenant_partitions_load_exactly_the_sandbox_truth(
    sandbox: Sandbox, source_env: list[str], workdir: Path
) -> None:
    tenants = source_env
    defs = build_definitions(tenants, "duckdb")
    assets = defs.resolve_assets_def(AssetKey(["flowretail", "contacts"]))
    instance = DagsterInstance.ephemeral()

    results = [
        materialize(
            [assets],
            partition_key=tenant,
            instance=instance,
        )
        for tenant in tenants
    ]

    assert [result.success for result in results] == [True, True]
    materialized = {
        (event.partition, event.asset_key.to_user_string())
        for result in results
        for event in result.asset_materializations_for_node("flowretail_tenant_load")
    }
    assert materialized == {
        (tenant, key)
        for tenant in tenants
        for key in ("flowretail/customers", "flowretail/contacts")
    }
    customers = {t: len(sandbox.truth_customers(t)) for t in tenants}
    contacts = {t: sandbox.truth_contacts(t) for t in tenants}
    assert per_tenant(workdir, "customers") == Counter(customers)
    assert per_tenant(workdir, "contacts") == Counter({t: len(contacts[t]) for t in tenants})
    assert per_tenant(workdir, "contacts__extensions") == Counter(
        {t: sum(len(c["extensions"]) for c in contacts[t]) for t in tenants}
    )
    with duckdb.connect(str(workdir / "flowretail_warehouse.duckdb"), read_only=True) as db:
        states = db.sql("SELECT DISTINCT pipeline_name FROM flowretail._dlt_pipeline_state")
        assert sorted(row[0] for row in states.fetchall()) == sorted(
            tenant_pipeline_name(tenant) for tenant in tenants
        )


def test_nightly_schedule_starts_one_retried_run_per_tenant(workdir: Path) -> None:
    tenants = ["tenant-a", "tenant-b", "tenant-c"]
    defs = build_definitions(tenants, "postgres")
    Definitions.validate_loadable(defs)
    schedule = defs.resolve_schedule_def("flowretail_nightly_load")
    job = defs.resolve_job_def("flowretail_load")

    context = build_schedule_context(
        scheduled_execution_time=datetime(2024, 5, 1, 3, 17, tzinfo=UTC),
        repository_def=defs.get_repository_def(),
    )
    requests = schedule.evaluate_tick(context).run_requests or []

    assert sorted((r.partition_key or "", r.run_key) for r in requests) == [
        (tenant, f"{tenant}:2024-05-01") for tenant in tenants
    ]
    assert schedule.cron_schedule == "17 3 * * *"
    assert job.partitions_def is not None
    assert job.partitions_def.get_partition_keys() == tenants
    assert job.op_retry_policy is not None and job.op_retry_policy.max_retries == 3
    assert defs.resolve_job_def("flowretail_push").name == "flowretail_push"


def test_push_job_sends_the_rows_of_a_query_on_the_loaded_dataset(
    sandbox: Sandbox, source_env: list[str], workdir: Path
) -> None:
    run_load()
    first, second = sandbox.truth_contacts(source_env[0])[:2]
    uids = f"'{first['customerContactUid']}', '{second['customerContactUid']}'"
    sql = (
        "SELECT tenant_uid, customer_uid, customer_contact_uid, NULL AS firstname, "
        "NULL AS lastname, 'moved.' || customer_contact_uid || '@example.com' AS email, "
        f"'upsert' AS op, last_modified_at FROM flowretail.contacts "
        f"WHERE customer_contact_uid IN ({uids})"
    )
    push_job = build_definitions(source_env, "duckdb").resolve_job_def("flowretail_push")

    result = push_job.execute_in_process(
        run_config={"ops": {"push_rows": {"config": {"kind": "contacts", "query": sql}}}},
        instance=DagsterInstance.ephemeral(),
    )

    assert result.success
    emails = {c["customerContactUid"]: c["email"] for c in sandbox.truth_contacts(source_env[0])}
    for contact in (first, second):
        uid = contact["customerContactUid"]
        assert emails[uid] == f"moved.{uid}@example.com"


def test_tenants_come_from_the_environment_or_the_error_says_where_to_set_them(
    monkeypatch: pytest.MonkeyPatch, workdir: Path
) -> None:
    monkeypatch.setenv("FLOWRETAIL_TENANTS", " t-1, t-2 ,")
    from_env = configured_tenants()
    monkeypatch.delenv("FLOWRETAIL_TENANTS")

    with pytest.raises(ConfigError) as missing:
        configured_tenants()

    assert from_env == ["t-1", "t-2"]
    assert "FLOWRETAIL_TENANTS" in str(missing.value)
