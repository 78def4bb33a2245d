"""Walk each tenant's customer list once per run and hand its pages to the two resources.

The customer list is read in `createdAt` order, so customers created during the walk land at
its end; a `totalCount` that moves during the walk means rows may have shifted between pages,
so the list is walked a second time for customers not seen yet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .client import FlowRetailClient
from .errors import ConfigError, PermissionDenied, UnsafeChange
from .rows import parse_timestamp

logger = logging.getLogger(__name__)

TENANTS_PATH = "/tenants"
CUSTOMERS_PATH = "/tenants/{tenantUid}/customers"
OLDEST_FIRST = {"sortBy": "createdAt", "sortDirection": "ASC"}
LIST_PASSES = 2


@dataclass
class TenantRun:
    """One tenant's walk in this run, shared by the resources that read its pages."""

    tenant_uid: str
    started_at: datetime | None = None
    seen: set[str] = field(default_factory=set)
    settled: bool = True


@dataclass
class CustomerPage:
    """A page of customers not handed out before in this run."""

    run: TenantRun
    customers: list[dict[str, Any]]


@dataclass
class TenantDone:
    """The tenant's customer list has been read to its end."""

    run: TenantRun


def reachable_tenants(client: FlowRetailClient, wanted: Sequence[str]) -> list[str]:
    """Return the tenants to load: `wanted`, checked against what the token can list."""
    listed = [str(t.get("tenantUid")) for page in client.pages(TENANTS_PATH) for t in page.items]
    if not wanted:
        return listed
    unknown = [t for t in wanted if t not in listed]
    if unknown:
        raise ConfigError(
            f"tenant(s) {', '.join(unknown)} are not reachable with this token; it reaches "
            f"{', '.join(listed) or 'no tenant'}. Fix sources.flowretail.tenants or the token."
        )
    return list(wanted)


def customer_pages(
    client: FlowRetailClient, tenants: Sequence[str], *, skip_forbidden: bool = False
) -> Iterator[CustomerPage | TenantDone]:
    """Yield every tenant's customers page by page, each tenant closed by a `TenantDone`.

    With `skip_forbidden` (tenants found by listing, not configured), a tenant whose first
    customer page answers 403 is left out of the run with a warning; it is not closed, so
    nothing of it is marked deleted and its cursor stays.
    """
    for tenant_uid in tenants:
        run = TenantRun(tenant_uid)
        try:
            yield from _customer_list(client, run)
        except PermissionDenied:
            if not skip_forbidden or run.started_at is not None:
                raise
            logger.warning(
                "tenant %s is listed but its customers answer 403 (no TENANT.ACCESS there); "
                "skipped. Set sources.flowretail.tenants to choose the tenants to load.",
                tenant_uid,
            )
            continue
        yield TenantDone(run)


def _customer_list(client: FlowRetailClient, run: TenantRun) -> Iterator[CustomerPage]:
    """Yield the tenant's customer pages, walking the list again if it shifted meanwhile."""
    for attempt in range(1, LIST_PASSES + 1):
        totals: set[int | None] = set()
        for page in client.pages(CUSTOMERS_PATH, OLDEST_FIRST, tenantUid=run.tenant_uid):
            if run.started_at is None:
                now = datetime.now(UTC)
                run.started_at = min(page.server_time or now, now)
            totals.add(page.total_count)
            fresh = [c for c in page.items if str(c.get("customerUid")) not in run.seen]
            run.seen.update(str(c.get("customerUid")) for c in fresh)
            if fresh:
                yield CustomerPage(run, fresh)
        if len(totals) <= 1:
            break
        logger.info(
            "tenant %s: customers changed during the walk (pass %d)", run.tenant_uid, attempt
        )
    else:
        run.settled = False
    logger.info("tenant %s: %d customers listed", run.tenant_uid, len(run.seen))


def since_of(cursor: str | None, lookback: timedelta) -> datetime | None:
    """Return the time from which to read changes, given the last run's stored cursor."""
    return None if cursor is None else datetime.fromisoformat(cursor) - lookback


def customer_row(tenant_uid: str, customer: dict[str, Any]) -> dict[str, Any]:
    """Return the customer as loaded: without embedded contacts, with its tenant."""
    row = {key: value for key, value in customer.items() if key != "contacts"}
    row["tenantUid"] = tenant_uid
    row["deletedAt"] = None
    return row


def changed_customers(page: CustomerPage, since: datetime | None) -> list[dict[str, Any]]:
    """Return the page's customers modified at or after `since`, as rows."""
    return [
        customer_row(page.run.tenant_uid, c)
        for c in page.customers
        if since is None or parse_timestamp(c.get("lastModifiedAt")) >= since
    ]


def guard_deletes(what: str, tenant_uid: str, deleted: int, held: int, max_share: float) -> None:
    """Refuse to mark an implausible share of the held rows deleted."""
    if deleted and deleted > 10 and deleted > max_share * held:
        raise UnsafeChange(
            f"tenant {tenant_uid}: this run would mark {deleted} of {held} {what} deleted, more "
            f"than max_delete_share={max_share:.0%}; nothing was changed. If the API really lost "
            "them, run again with a higher --max-delete-share."
        )
