"""Helpers for the load tests: run a load against a sandbox, read back what it loaded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb

from pipelines.common import duckdb_path
from pipelines.load import LoadSummary, run_load
from sandbox import Sandbox
from sources.flowretail.rows import parse_timestamp

ContactKey = tuple[str, str, str]


def load(sb: Sandbox, token: str = "sandbox-admin", **options: Any) -> LoadSummary:
    """Load the sandbox into the working folder's DuckDB file (or `destination`)."""
    run_options = {k: options.pop(k) for k in list(options) if k in RUN_OPTIONS}
    source_options = {
        "base_url": sb.base_url,
        "access_token": token,
        "page_size": 7,
        "concurrency": 4,
        "lookback_seconds": 300,
    } | options
    return run_load(source_options=source_options, **run_options)


RUN_OPTIONS = {"destination", "tenants", "full_refresh", "reconcile", "max_delete_share"}


def truth_contacts(sb: Sandbox) -> dict[ContactKey, tuple[Any, ...]]:
    """Return the sandbox's live contacts as key -> loaded-column values."""
    return {
        (c["tenantUid"], c["customerUid"], c["customerContactUid"]): (
            c["firstname"],
            c["lastname"],
            c["displayName"],
            c["email"],
            c["mobile"],
            parse_timestamp(c["createdAt"]),
            parse_timestamp(c["lastModifiedAt"]),
        )
        for c in sb.truth_contacts()
    }


def truth_extensions(sb: Sandbox) -> set[tuple[str, ...]]:
    """Return the sandbox's contact extensions as natural-key rows."""
    return {
        (
            c["tenantUid"],
            c["customerUid"],
            c["customerContactUid"],
            e["extensionCode"],
            e["organizationUid"],
        )
        for c in sb.truth_contacts()
        for e in c["extensions"]
    }


def query(sql: str, path: str | None = None) -> list[tuple[Any, ...]]:
    """Run SQL on the working folder's DuckDB file."""
    with duckdb.connect(path or duckdb_path(), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql).fetchall()


def warehouse_contacts(
    rows: list[tuple[Any, ...]] | None = None,
) -> dict[ContactKey, tuple[Any, ...]]:
    """Return the live contacts loaded, as key -> column values (timestamps in UTC)."""
    rows = rows if rows is not None else query(CONTACTS_SQL)
    return {(r[0], r[1], r[2]): (*r[3:8], _utc(r[8]), _utc(r[9])) for r in rows}


CONTACTS_SQL = (
    "SELECT tenant_uid, customer_uid, customer_contact_uid, firstname, lastname, display_name, "
    "email, mobile, created_at, last_modified_at FROM flowretail.contacts WHERE deleted_at IS NULL"
)
EXTENSIONS_SQL = (
    "SELECT tenant_uid, customer_uid, customer_contact_uid, extension_code, organization_uid "
    "FROM flowretail.contacts__extensions"
)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def assert_matches_truth(sb: Sandbox, tenant: str | None = None) -> None:
    """Assert the warehouse holds exactly the sandbox's live contacts and extensions.

    With `tenant`, only that tenant's truth is expected, and nothing of the others.
    """
    loaded = warehouse_contacts()
    expected = {k: v for k, v in truth_contacts(sb).items() if tenant in (None, k[0])}
    assert loaded.keys() == expected.keys()
    assert loaded == expected
    extensions = {row for row in truth_extensions(sb) if tenant in (None, row[0])}
    assert set(query(EXTENSIONS_SQL)) == extensions
    duplicates = query(
        "SELECT COUNT(*) - COUNT(DISTINCT (tenant_uid, customer_uid, customer_contact_uid)) "
        "FROM flowretail.contacts"
    )
    assert duplicates == [(0,)]
    live_customers = {
        (c.get("tenantUid") or t, c["customerUid"])
        for t, c in _customers(sb)
        if tenant in (None, t)
    }
    loaded_customers = set(
        query("SELECT tenant_uid, customer_uid FROM flowretail.customers WHERE deleted_at IS NULL")
    )
    assert loaded_customers == live_customers


def _customers(sb: Sandbox) -> list[tuple[str, dict[str, Any]]]:
    return [
        (tenant["tenantUid"], customer)
        for tenant in sb.tenants()
        for customer in sb.truth_customers(tenant["tenantUid"])
    ]
