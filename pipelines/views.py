"""Ready-to-query views over the loaded tables, created (or replaced) by every load.

- `contacts_current`: one row per live contact, with its customer's name and type, and
  `customer_deleted_at` set when the customer itself is gone.
- `contact_extensions`: one row per extension of a live contact, by natural keys.

The SQL is plain ANSI so the same views work on DuckDB and PostgreSQL.

NOTE: PostgreSQL will not drop a table a view depends on, and dlt drops tables without CASCADE,
so a full refresh must call `drop_views` first; the next `create_views` puts them back.
"""

from __future__ import annotations

import logging
from typing import Any

from dlt.common.destination.exceptions import SqlClientNotAvailable

logger = logging.getLogger(__name__)

VIEW_NAMES = ("contacts_current", "contact_extensions")
KEYS = ("tenant_uid", "customer_uid", "customer_contact_uid")
CONTACT_COLUMNS = KEYS + (
    "firstname",
    "lastname",
    "display_name",
    "email",
    "mobile",
    "created_at",
    "last_modified_at",
)
# customers column -> name in contacts_current; a column no customer row ever had is NULL.
CUSTOMER_COLUMNS = {
    "display_name": "customer_display_name",
    "company_name": "customer_company_name",
    "customer_type": "customer_type",
    "deleted_at": "customer_deleted_at",
}
EXTENSION_COLUMNS = ("extension_code", "organization_uid")


def create_views(pipeline: Any) -> None:
    """Create or replace the analysts' views in the pipeline's dataset.

    A destination without a SQL client (the filesystem destination, for one) gets no views.

    Args:
        pipeline: The pipeline whose dataset holds `contacts`, `customers` and
            `contacts__extensions`.
    """
    try:
        client_cm = pipeline.sql_client()
    except SqlClientNotAvailable:
        logger.warning(
            "destination %s has no SQL client: views were not created",
            pipeline.destination.destination_name,
        )
        return
    customer_columns = existing_columns(pipeline, "customers")
    with client_cm as client:
        statements = view_statements(client, customer_columns)
        # NOTE: drop and create rather than CREATE OR REPLACE: PostgreSQL refuses to replace a
        # view whose column types change, which happens when a customer column first appears.
        with client.begin_transaction():
            client.execute_many(statements)
    logger.info("views %s created in dataset %s", ", ".join(VIEW_NAMES), pipeline.dataset_name)


def drop_views(pipeline: Any) -> None:
    """Drop the analysts' views, so a full refresh can drop the tables under them."""
    try:
        client_cm = pipeline.sql_client()
    except SqlClientNotAvailable:
        return
    with client_cm as client:
        client.execute_many(
            [f"DROP VIEW IF EXISTS {client.make_qualified_table_name(v)}" for v in VIEW_NAMES]
        )
    logger.info("views %s dropped from dataset %s", ", ".join(VIEW_NAMES), pipeline.dataset_name)


def existing_columns(pipeline: Any, table: str) -> set[str]:
    """Return the columns of `table` that exist in the destination, per the pipeline's schema."""
    schema = pipeline.default_schema
    if table not in schema.tables:
        return set()
    return set(schema.get_table_columns(table, include_incomplete=False))


def view_statements(client: Any, customer_columns: set[str]) -> list[str]:
    """Return the SQL that drops and creates both views, for one destination's SQL client."""
    statements: list[str] = []
    for view, select in (
        ("contacts_current", contacts_current_sql(client, customer_columns)),
        ("contact_extensions", contact_extensions_sql(client)),
    ):
        name = client.make_qualified_table_name(view)
        statements.append(f"DROP VIEW IF EXISTS {name}")
        statements.append(f"CREATE VIEW {name} AS\n{select}")
    return statements


def contacts_current_sql(client: Any, customer_columns: set[str]) -> str:
    """Return the SELECT of `contacts_current` over the customer columns that exist."""
    quote = client.escape_column_name
    selected = [f"c.{quote(column)}" for column in CONTACT_COLUMNS]
    for column, alias in CUSTOMER_COLUMNS.items():
        source = f"cu.{quote(column)}" if column in customer_columns else "CAST(NULL AS VARCHAR)"
        if column == "deleted_at" and column not in customer_columns:
            source = "CAST(NULL AS TIMESTAMP)"
        selected.append(f"{source} AS {quote(alias)}")
    if not customer_columns:
        return _select(selected, f"{_table(client, 'contacts')} c", "c.", quote)
    joined = (
        f"{_table(client, 'contacts')} c\nLEFT JOIN {_table(client, 'customers')} cu ON "
        + _key_join("cu", "c", ("tenant_uid", "customer_uid"), quote)
    )
    return _select(selected, joined, "c.", quote)


def contact_extensions_sql(client: Any) -> str:
    """Return the SELECT of `contact_extensions`: extensions of live contacts, by natural keys."""
    quote = client.escape_column_name
    selected = [f"e.{quote(column)}" for column in KEYS + EXTENSION_COLUMNS]
    joined = (
        f"{_table(client, 'contacts__extensions')} e\nJOIN {_table(client, 'contacts')} c ON "
        + _key_join("c", "e", KEYS, quote)
    )
    select = _select(selected, joined, "c.", quote)
    return f"{select}\n  AND e.{quote('extension_code')} IS NOT NULL"


def _select(columns: list[str], source: str, live: str, quote: Any) -> str:
    return (
        "SELECT\n  "
        + ",\n  ".join(columns)
        + f"\nFROM {source}\nWHERE {live}{quote('deleted_at')} IS NULL"
    )


def _table(client: Any, table: str) -> str:
    return str(client.make_qualified_table_name(table))


def _key_join(left: str, right: str, keys: tuple[str, ...], quote: Any) -> str:
    return " AND ".join(f"{left}.{quote(key)} = {right}.{quote(key)}" for key in keys)
