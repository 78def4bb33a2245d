"""The analysts' views, checked row by row against the sandbox's ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import duckdb
import psycopg2  # type: ignore[import-untyped]
import pytest

from pipelines.common import duckdb_path, make_pipeline
from pipelines.load import run_load
from pipelines.views import create_views, drop_views
from sandbox import Sandbox
from tests.postgres_server import postgres_database, postgres_url

_ = (postgres_url, postgres_database)  # fixtures used by name below

CURRENT_SQL = (
    "SELECT tenant_uid, customer_uid, customer_contact_uid, firstname, lastname, display_name, "
    "email, mobile, customer_display_name, customer_company_name, customer_type, "
    "customer_deleted_at FROM flowretail.contacts_current"
)
EXTENSIONS_SQL = (
    "SELECT tenant_uid, customer_uid, customer_contact_uid, extension_code, organization_uid "
    "FROM flowretail.contact_extensions"
)


def load(sb: Sandbox, **options: Any) -> None:
    """Load the sandbox into the working folder's DuckDB file (or `destination`)."""
    source = {"base_url": sb.base_url, "access_token": "sandbox-admin"}
    run_load(source_options=source, **options)


def postgres_query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Run SQL on a PostgreSQL database."""
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def query(sql: str) -> list[tuple[Any, ...]]:
    """Run SQL on the working folder's DuckDB file."""
    with duckdb.connect(duckdb_path(), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql).fetchall()


def expected_current(sb: Sandbox) -> list[tuple[Any, ...]]:
    """Return the rows `contacts_current` must hold: live contacts with their customer."""
    customers = {c["customerUid"]: c for c in sb.truth_customers()}
    rows = []
    for contact in sb.truth_contacts():
        customer = customers[contact["customerUid"]]
        rows.append(
            (
                contact["tenantUid"],
                contact["customerUid"],
                contact["customerContactUid"],
                contact["firstname"],
                contact["lastname"],
                contact["displayName"],
                contact["email"],
                contact["mobile"],
                customer["displayName"],
                customer["companyName"],
                customer["customerType"],
                None,
            )
        )
    return sorted(rows)


def expected_extensions(sb: Sandbox) -> list[tuple[str, ...]]:
    """Return the rows `contact_extensions` must hold."""
    return sorted(
        (
            c["tenantUid"],
            c["customerUid"],
            c["customerContactUid"],
            e["extensionCode"],
            e["organizationUid"],
        )
        for c in sb.truth_contacts()
        for e in c["extensions"]
    )


def delete_customer_with_contacts(sb: Sandbox) -> str:
    """Delete the first customer that has contacts; return its UID."""
    contact = sb.truth_contacts()[0]
    sb.delete_customer(contact["tenantUid"], contact["customerUid"])
    return str(contact["customerUid"])


def test_views_match_ground_truth_after_churn_and_customer_delete(
    sandbox: Sandbox, workdir: Path
) -> None:
    load(sandbox)
    sandbox.churn(0.2, seed=3)
    deleted_customer = delete_customer_with_contacts(sandbox)

    load(sandbox)

    current = sorted(query(CURRENT_SQL))
    assert current == expected_current(sandbox)
    assert deleted_customer not in {row[1] for row in current}
    assert sorted(query(EXTENSIONS_SQL)) == expected_extensions(sandbox)


def test_views_are_created_by_the_first_load(sandbox: Sandbox, workdir: Path) -> None:
    load(sandbox)

    current = sorted(query(CURRENT_SQL))
    extensions = sorted(query(EXTENSIONS_SQL))

    assert current == expected_current(sandbox)
    assert extensions == expected_extensions(sandbox)


def test_views_fill_missing_customer_columns_with_null(workdir: Path) -> None:
    pipeline = make_pipeline()
    pipeline.run(
        [
            dlt.resource(
                [contact_row("t1", "c1", "k1"), contact_row("t1", "c2", "k2")],
                name="contacts",
                columns={"deleted_at": {"data_type": "timestamp", "nullable": True}},
            ),
            dlt.resource(
                [
                    {"tenant_uid": "t1", "customer_uid": "c1", "deleted_at": None},
                    {
                        "tenant_uid": "t1",
                        "customer_uid": "c2",
                        "deleted_at": "2025-01-02T03:04:05Z",
                    },
                ],
                name="customers",
                columns={"deleted_at": {"data_type": "timestamp", "nullable": True}},
            ),
            dlt.resource(
                [extension_row("k1", "TWO_INVOICE"), extension_row("k2", None)],
                name="contacts__extensions",
            ),
        ]
    )

    create_views(pipeline)

    current = query(
        "SELECT customer_contact_uid, customer_display_name, customer_company_name, "
        "customer_type, CAST(customer_deleted_at AS VARCHAR) FROM flowretail.contacts_current "
        "ORDER BY 1"
    )
    assert current == [
        ("k1", None, None, None, None),
        ("k2", None, None, None, "2025-01-02 03:04:05+00"),
    ]
    assert query(EXTENSIONS_SQL) == [("t1", "c1", "k1", "TWO_INVOICE", "o1")]


def contact_row(tenant_uid: str, customer_uid: str, contact_uid: str) -> dict[str, Any]:
    """Return a minimal loaded contact row."""
    return {
        "tenant_uid": tenant_uid,
        "customer_uid": customer_uid,
        "customer_contact_uid": contact_uid,
        "firstname": "Ada",
        "lastname": "Lovelace",
        "display_name": "Ada Lovelace",
        "email": "ada@example.no",
        "mobile": "+4790000000",
        "created_at": "2025-01-01T00:00:00Z",
        "last_modified_at": "2025-01-01T00:00:00Z",
        "deleted_at": None,
    }


def extension_row(contact_uid: str, code: str | None) -> dict[str, Any]:
    """Return a loaded extension row of contact `contact_uid` of customer c1 or c2."""
    customer_uid = "c1" if contact_uid == "k1" else "c2"
    return {
        "tenant_uid": "t1",
        "customer_uid": customer_uid,
        "customer_contact_uid": contact_uid,
        "extension_code": code,
        "organization_uid": "o1" if code else None,
        "_tombstone": code is None,
    }


@pytest.mark.postgres
def test_views_work_on_postgres_through_a_full_refresh(
    sandbox: Sandbox, workdir: Path, postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_database)
    load(sandbox, destination="postgres")
    sandbox.churn(0.05, seed=2)

    # NOTE: run_load does not drop the views before a full refresh yet, and PostgreSQL refuses
    # to drop tables that views depend on: without this call the refresh fails.
    drop_views(make_pipeline("postgres"))
    load(sandbox, destination="postgres", full_refresh=True)

    assert sorted(postgres_query(postgres_database, CURRENT_SQL)) == expected_current(sandbox)
    assert sorted(postgres_query(postgres_database, EXTENSIONS_SQL)) == (
        expected_extensions(sandbox)
    )
