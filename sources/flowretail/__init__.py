"""dlt source for Flow Retail API v2 customers and their contacts.

Example:
    >>> import dlt
    >>> from sources.flowretail import flowretail_source
    >>> pipeline = dlt.pipeline("flowretail", destination="duckdb", dataset_name="flowretail")
    >>> pipeline.run(flowretail_source(), loader_file_format="parquet")
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import dlt

from .client import FlowRetailClient, RetryPolicy
from .contacts import ContactsExtract
from .customers import (
    CustomerPage,
    TenantDone,
    changed_customers,
    customer_pages,
    guard_deletes,
    reachable_tenants,
    since_of,
)
from .errors import FlowRetailError
from .rows import KEY_COLUMNS
from .settings import PRODUCTION_URL, Settings
from .warehouse import Warehouse

__all__ = ["FlowRetailError", "flowretail_source"]

logger = logging.getLogger(__name__)

# The client of the source built last in this process, so a job can report its request count.
LAST_CLIENT: list[FlowRetailClient | None] = [None]

TIMESTAMP_COLUMN = {"data_type": "timestamp", "nullable": True, "timezone": True}
CONTACT_COLUMNS: dict[str, Any] = {
    name: {"data_type": "timestamp", "timezone": True}
    for name in ("created_at", "last_modified_at")
} | {"deleted_at": TIMESTAMP_COLUMN}


@dlt.source(name="flowretail", section="flowretail", max_table_nesting=0)
def flowretail_source(
    base_url: str = PRODUCTION_URL,
    access_token: str = dlt.secrets.value,
    tenants: Sequence[str] | None = None,
    page_size: int = 1000,
    concurrency: int = 16,
    lookback_seconds: int = 300,
    max_delete_share: float = 0.25,
    reconcile: bool = False,
) -> Any:
    """Load every reachable tenant's customers and contacts, incrementally.

    Args:
        base_url: The API root: production, stage, or a sandbox URL.
        access_token: An integration token; never logged.
        tenants: Tenant UIDs to load; empty loads every tenant the token can list.
        page_size: Items per page to ask for; the server may cap it.
        concurrency: Customers walked at once.
        lookback_seconds: How far before the last run's start changes are read again.
        max_delete_share: The largest share of a tenant's held rows one run may mark deleted.
        reconcile: Walk every customer in full and mark everything the API lost as deleted.

    Returns:
        The resources `customers` and `contacts` (which also fills `contacts__extensions`).
    """
    settings = Settings.validate(
        base_url=base_url,
        access_token=access_token,
        tenants=tenants,
        page_size=page_size,
        concurrency=concurrency,
        lookback_seconds=lookback_seconds,
        max_delete_share=max_delete_share,
    )
    client = FlowRetailClient(
        settings.base_url,
        settings.access_token,
        page_size=settings.page_size,
        pool_size=settings.concurrency,
        retry=RetryPolicy(),
    )

    @dlt.resource(name="customer_pages", selected=False)
    def pages() -> Iterator[CustomerPage | TenantDone]:
        tenants = reachable_tenants(client, settings.tenants)
        yield from customer_pages(client, tenants, skip_forbidden=not settings.tenants)

    @dlt.transformer(  # type: ignore[call-overload,untyped-decorator]
        data_from=pages,
        name="customers",
        write_disposition="merge",
        primary_key=("tenant_uid", "customer_uid"),
        columns={"deleted_at": TIMESTAMP_COLUMN},
    )
    def customers(item: CustomerPage | TenantDone) -> Iterator[Any]:
        state = dlt.current.resource_state().setdefault("cursors", {})
        if isinstance(item, CustomerPage):
            since = (
                None if reconcile else since_of(state.get(item.run.tenant_uid), settings.lookback)
            )
            rows = changed_customers(item, since)
            if rows:
                yield rows
            return
        yield from _vanished_customers(item, settings)
        if item.run.settled and item.run.started_at is not None:
            state[item.run.tenant_uid] = item.run.started_at.isoformat()

    extract = ContactsExtract(client, settings, reconcile)

    @dlt.transformer(  # type: ignore[call-overload,untyped-decorator]
        data_from=pages,
        name="contacts",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
    )
    def contacts(item: CustomerPage | TenantDone) -> Iterator[Any]:
        try:
            yield from extract.handle(item)
        except BaseException:
            extract.close()
            raise

    contacts.apply_hints(
        table_name="contacts__extensions",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        merge_key=KEY_COLUMNS,
        columns={"_tombstone": {"data_type": "bool", "hard_delete": True}},
        create_table_variant=True,
    )
    contacts.apply_hints(
        table_name="contacts",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        primary_key=KEY_COLUMNS,
        columns=CONTACT_COLUMNS
        | {"last_modified_at": {**CONTACT_COLUMNS["last_modified_at"], "dedup_sort": "desc"}},
        create_table_variant=True,
    )
    LAST_CLIENT[0] = client
    return pages, customers, contacts


def _vanished_customers(done: TenantDone, settings: Settings) -> Iterator[Any]:
    warehouse = Warehouse.of_current_pipeline()
    if warehouse is None or not done.run.settled:
        return
    held = warehouse.live_customers(done.run.tenant_uid)
    gone = held - done.run.seen
    guard_deletes("customers", done.run.tenant_uid, len(gone), len(held), settings.max_delete_share)
    if gone:
        logger.info("tenant %s: %d customers vanished from the API", done.run.tenant_uid, len(gone))
        now = datetime.now(UTC)
        rows = warehouse.customer_rows(done.run.tenant_uid, gone)
        yield [row | {"deleted_at": now} for row in rows]
