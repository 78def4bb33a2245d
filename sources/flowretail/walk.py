"""Walk one customer's contacts, newest first, and stop as soon as the rest is unchanged.

`sortBy=lastModifiedAt&sortDirection=DESC` is asked for but never trusted blindly: every page's
order is checked, and a server that does not sort makes every walk a full one for the rest of
the run. A `totalCount` that moves during a walk means rows shifted between pages (a contact was
created or deleted meanwhile), so the walk starts again rather than risk a skipped row.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .client import FlowRetailClient
from .errors import NotFound
from .rows import parse_timestamp

logger = logging.getLogger(__name__)

CONTACTS_PATH = "/tenants/{tenantUid}/customers/{customerUid}/contacts"
NEWEST_FIRST = {"sortBy": "lastModifiedAt", "sortDirection": "DESC"}
WALK_ATTEMPTS = 3


class SortCheck:
    """Track, across threads, whether the server really sorts contacts by `lastModifiedAt`."""

    def __init__(self, tenant_uid: str) -> None:
        self.tenant_uid = tenant_uid
        self.trusted = False
        self.broken = False
        self._lock = threading.Lock()

    def observe(self, stamps: list[datetime], previous: datetime | None) -> bool:
        """Record one page's order; return whether it was newest first."""
        ordered = [previous, *stamps] if previous is not None else stamps
        descending = all(a >= b for a, b in zip(ordered, ordered[1:], strict=False))
        with self._lock:
            if not descending and not self.broken:
                self.broken = True
                logger.warning(
                    "tenant %s: the API does not sort contacts by lastModifiedAt; walking every "
                    "customer's contacts in full for the rest of this run",
                    self.tenant_uid,
                )
            elif descending and len(set(ordered)) > 1:
                self.trusted = True
        return descending

    def refused(self) -> None:
        """Record that the server refused the sort: no walk may stop early from now on."""
        with self._lock:
            if self.broken:
                return
            self.broken = True
        logger.warning(
            "tenant %s: the API refuses sortBy=lastModifiedAt; walking every customer's contacts "
            "in full for the rest of this run",
            self.tenant_uid,
        )

    @property
    def usable(self) -> bool:
        """Return whether a walk may stop early on this tenant."""
        return self.trusted and not self.broken


@dataclass
class Walk:
    """What one customer's walk found."""

    customer_uid: str
    contacts: list[dict[str, Any]] = field(default_factory=list)
    total_count: int | None = None
    complete: bool = False
    all_uids: set[str] = field(default_factory=set)
    vanished: bool = False
    settled: bool = True

    def created_since(self, since: datetime) -> int:
        """Count the walked contacts created at or after `since`."""
        return sum(parse_timestamp(c["createdAt"]) >= since for c in self.contacts)


def walk_contacts(
    client: FlowRetailClient,
    tenant_uid: str,
    customer_uid: str,
    since: datetime | None,
    sort: SortCheck,
    *,
    full: bool = False,
) -> Walk:
    """Return the customer's contacts changed at or after `since` (all when `since` is None).

    With `full`, or while the server's sort order is not established, every page is read and
    `Walk.all_uids` holds every live contact; otherwise the walk stops at the first page that
    reaches contacts older than `since`.
    """
    for attempt in range(1, WALK_ATTEMPTS + 1):
        try:
            walk = _walk_once(client, tenant_uid, customer_uid, since, sort, full)
        except NotFound:
            logger.info("tenant %s: customer %s vanished during the run", tenant_uid, customer_uid)
            return Walk(customer_uid, vanished=True, settled=False)
        if walk.settled:
            return walk
        logger.info(
            "tenant %s, customer %s: contacts changed during the walk (attempt %d), walking again",
            tenant_uid,
            customer_uid,
            attempt,
        )
    return walk


def _walk_once(
    client: FlowRetailClient,
    tenant_uid: str,
    customer_uid: str,
    since: datetime | None,
    sort: SortCheck,
    full: bool,
) -> Walk:
    walk = Walk(customer_uid)
    newest: dict[str, dict[str, Any]] = {}
    previous: datetime | None = None
    pages = client.pages(
        CONTACTS_PATH, NEWEST_FIRST, tenantUid=tenant_uid, customerUid=customer_uid
    )
    for page in pages:
        if not page.sorted:
            sort.refused()
        if walk.total_count is None:
            walk.total_count = page.total_count
        elif page.total_count != walk.total_count:
            walk.settled = False
            return walk
        stamps = [parse_timestamp(contact.get("lastModifiedAt")) for contact in page.items]
        in_order = sort.observe(stamps, previous)
        previous = stamps[-1] if stamps else previous
        for contact, stamp in zip(page.items, stamps, strict=True):
            uid = str(contact.get("customerContactUid"))
            walk.all_uids.add(uid)
            if since is None or stamp >= since:
                newest[uid] = contact  # NOTE: a row seen twice (pages shifted) is kept once.
        if since is not None and not full and in_order and sort.usable and stamps[-1:] < [since]:
            walk.contacts = list(newest.values())
            return walk
    walk.contacts = list(newest.values())
    walk.complete = True
    return walk
