"""The contacts resource: walk many customers at once, batch rows as arrow, infer deletes.

Per tenant, the cursor is the start of the last complete walk (server clock); a run reads
changes from the cursor minus the lookback window. A customer whose live contact count no
longer adds up (see `_needs_diff`) gets a full walk, and the contacts the warehouse holds but
the API no longer lists are marked deleted at the end of the tenant, after a plausibility guard.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dlt

from .client import FlowRetailClient
from .customers import CustomerPage, TenantDone, guard_deletes, since_of
from .rows import ContactBatch
from .settings import Settings
from .walk import SortCheck, Walk, walk_contacts
from .warehouse import Warehouse

logger = logging.getLogger(__name__)

BATCH_ROWS = 20_000


@dataclass
class TenantContacts:
    """What the contacts resource knows about one tenant during the run."""

    since: datetime | None
    sort: SortCheck
    held: dict[str, int] | None
    held_keys: dict[str, set[str]] | None
    deleted: list[tuple[str, str]] = field(default_factory=list)
    changed: int = 0
    full_walks: int = 0


class ContactsExtract:
    """Turn customer pages into contact and extension tables; one instance per run."""

    def __init__(self, client: FlowRetailClient, settings: Settings, reconcile: bool) -> None:
        self.client = client
        self.settings = settings
        self.reconcile = reconcile
        self.batch = ContactBatch()
        self.tenants: dict[str, TenantContacts] = {}
        self._warehouse: Warehouse | None = None
        self._warehouse_checked = False
        self._pool: ThreadPoolExecutor | None = None
        # Finished walks arrive here in the order they finish; `_pending` counts the rest.
        self._done: queue.SimpleQueue[Future[tuple[str, Walk]]] = queue.SimpleQueue()
        self._pending = 0

    def handle(self, item: CustomerPage | TenantDone) -> Iterator[Any]:
        """Process one item of the customer walk; yield tables as batches fill."""
        if isinstance(item, CustomerPage):
            tenant = self._tenant(item.run.tenant_uid)
            for customer in item.customers:
                self._submit(item.run.tenant_uid, str(customer.get("customerUid")), tenant)
            yield from self._collect(limit=4 * self.settings.concurrency)
        else:
            yield from self._finish(item)

    def _tenant(self, tenant_uid: str) -> TenantContacts:
        if tenant_uid not in self.tenants:
            cursor = dlt.current.resource_state().get("cursors", {}).get(tenant_uid)
            since = None if self.reconcile else since_of(cursor, self.settings.lookback)
            warehouse = self.warehouse()
            held = warehouse.live_counts(tenant_uid) if warehouse else None
            keys_needed = warehouse and held and (since is None)
            self.tenants[tenant_uid] = TenantContacts(
                since=since,
                sort=SortCheck(tenant_uid),
                held=held,
                held_keys=warehouse.live_keys(tenant_uid) if keys_needed and warehouse else None,
            )
            logger.info(
                "tenant %s: reading contacts changed since %s",
                tenant_uid,
                since.isoformat() if since else "the beginning",
            )
        return self.tenants[tenant_uid]

    def warehouse(self) -> Warehouse | None:
        """Return the warehouse of the running pipeline, looked up once."""
        if not self._warehouse_checked:
            self._warehouse = Warehouse.of_current_pipeline()
            self._warehouse_checked = True
        return self._warehouse

    def _submit(self, tenant_uid: str, customer_uid: str, tenant: TenantContacts) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.settings.concurrency, "flowretail-walk")
        future = self._pool.submit(self._walk, tenant_uid, customer_uid, tenant)
        future.add_done_callback(self._done.put)
        self._pending += 1

    def _walk(self, tenant_uid: str, customer_uid: str, tenant: TenantContacts) -> tuple[str, Walk]:
        full = tenant.held_keys is not None
        walk = walk_contacts(
            self.client, tenant_uid, customer_uid, tenant.since, tenant.sort, full=full
        )
        if not walk.complete and not walk.vanished and _needs_diff(walk, tenant):
            walk = walk_contacts(
                self.client, tenant_uid, customer_uid, tenant.since, tenant.sort, full=True
            )
        return tenant_uid, walk

    def _collect(self, limit: int) -> Iterator[Any]:
        while self._pending > limit:
            future = self._done.get()
            self._pending -= 1
            self._absorb(*future.result())
            if len(self.batch) >= BATCH_ROWS:
                yield from self._flush()

    def _absorb(self, tenant_uid: str, walk: Walk) -> None:
        tenant = self.tenants[tenant_uid]
        for contact in walk.contacts:
            self.batch.add(tenant_uid, walk.customer_uid, contact)
        tenant.changed += len(walk.contacts)
        if walk.complete and walk.settled and tenant.held is not None and _needs_diff(walk, tenant):
            tenant.full_walks += 1
            warehouse = self.warehouse()
            held = (
                tenant.held_keys.get(walk.customer_uid, set())
                if tenant.held_keys is not None
                else warehouse.live_uids(tenant_uid, walk.customer_uid)
                if warehouse
                else set()
            )
            tenant.deleted.extend((walk.customer_uid, uid) for uid in held - walk.all_uids)

    def _flush(self) -> Iterator[Any]:
        if self.batch.unknown_fields:
            logger.info(
                "contact fields not in the contract, not loaded: %s", self.batch.unknown_fields
            )
            self.batch.unknown_fields.clear()
        contacts, extensions = self.batch.drain()
        if contacts.num_rows:
            yield dlt.mark.with_table_name(contacts, "contacts")
        if extensions.num_rows:
            yield dlt.mark.with_table_name(extensions, "contacts__extensions")

    def _finish(self, done: TenantDone) -> Iterator[Any]:
        run = done.run
        tenant = self._tenant(run.tenant_uid)
        yield from self._collect(limit=0)
        vanished = self._vanished_customers(done, tenant)
        held_total = sum((tenant.held or {}).values())
        guard_deletes(
            "contacts",
            run.tenant_uid,
            len(tenant.deleted),
            held_total,
            self.settings.max_delete_share,
        )
        warehouse = self.warehouse()
        if warehouse and tenant.deleted:
            now = datetime.now(UTC)
            for row in warehouse.contact_rows(run.tenant_uid, tenant.deleted):
                self.batch.add_deleted(row, now)
        yield from self._flush()
        if run.settled and run.started_at is not None:
            cursors = dlt.current.resource_state().setdefault("cursors", {})
            cursors[run.tenant_uid] = run.started_at.isoformat()
        logger.info(
            "tenant %s: %d customers, %d contacts new or changed, %d deleted (%d of them on "
            "vanished customers), %d customers walked again in full, %d requests so far",
            run.tenant_uid,
            len(run.seen),
            tenant.changed,
            len(tenant.deleted),
            vanished,
            tenant.full_walks,
            self.client.requests_sent,
        )

    def _vanished_customers(self, done: TenantDone, tenant: TenantContacts) -> int:
        if not done.run.settled or tenant.held is None:
            return 0
        gone = [uid for uid in tenant.held if uid not in done.run.seen]
        warehouse = self.warehouse()
        count = 0
        for customer_uid in gone:
            uids = warehouse.live_uids(done.run.tenant_uid, customer_uid) if warehouse else set()
            tenant.deleted.extend((customer_uid, uid) for uid in uids)
            count += len(uids)
        return count

    def close(self) -> None:
        """Stop the walk threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def _needs_diff(walk: Walk, tenant: TenantContacts) -> bool:
    """Tell whether the customer's count leaves room for a deleted contact.

    With `held` live contacts in the warehouse and `created` contacts created since the cursor,
    `totalCount` is `held - deleted + new`, and `created` is `new + already held`, so the two
    are equal exactly when nothing was deleted. Any other count needs an exact comparison of
    UIDs. NOTE: this trusts `createdAt`; a contact new to the API with an older `createdAt` (an
    import) can hide a delete until `--reconcile`.
    """
    if tenant.held_keys is not None:
        return True
    if tenant.held is None or walk.total_count is None:
        return False
    held = tenant.held.get(walk.customer_uid, 0)
    created = walk.created_since(tenant.since) if tenant.since else len(walk.all_uids)
    return walk.total_count != held + created
