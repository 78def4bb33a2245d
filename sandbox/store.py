"""The thread-safe state of a sandbox: tenants, customers and contacts, and every operation.

One re-entrant lock guards everything. Operations render their answers while holding it, so a
caller never sees a half-applied write; JSON encoding and network I/O happen outside it.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

from sandbox.config import SandboxConfig
from sandbox.generator import new_uid
from sandbox.model import (
    ApiError,
    Contact,
    Customer,
    JsonDict,
    Tenant,
    now_ms,
)

Record = TypeVar("Record", Tenant, Customer, Contact)

SORT_FIELDS: dict[type, tuple[str, ...]] = {
    Tenant: ("createdAt", "lastModifiedAt", "tenantUid"),
    Customer: ("createdAt", "lastModifiedAt", "customerUid"),
    Contact: ("createdAt", "lastModifiedAt", "customerContactUid"),
}


@dataclass(frozen=True, slots=True)
class ListQuery:
    """Paging and sorting of one list request, already validated and capped."""

    page_number: int
    page_size: int
    sort_by: str | None = None
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    """One page of rendered items and the paging the server answers."""

    items: list[JsonDict]
    query: ListQuery
    total_count: int

    def body(self) -> JsonDict:
        """Return the list response body."""
        paging = {
            "pageNumber": self.query.page_number,
            "pageSize": self.query.page_size,
            "totalCount": self.total_count,
        }
        return {"items": self.items, "paging": paging}


def order(records: list[Record], query: ListQuery) -> list[Record]:
    """Sort `records` (given in creation order) as `query` asks; ties are broken by UID."""
    if query.sort_by is None:
        return records[::-1] if query.descending else records
    if query.sort_by == "createdAt":
        ordered = sorted(records, key=lambda r: (r.created, r.uid))
    elif query.sort_by == "lastModifiedAt":
        ordered = sorted(records, key=lambda r: (r.modified, r.uid))
    else:
        ordered = sorted(records, key=lambda r: r.uid)
    return ordered[::-1] if query.descending else ordered


def check_sort(kind: type, query: ListQuery) -> None:
    """Refuse a `sortBy` the resource `kind` does not know, even when the list is empty."""
    if query.sort_by is not None and query.sort_by not in SORT_FIELDS[kind]:
        fields = ", ".join(SORT_FIELDS[kind])
        raise ApiError(400, "INVALID_SORT", f"sortBy must be one of {fields}")


def page_of(records: list[Record], query: ListQuery) -> list[Record]:
    """Cut the page `query` asks for out of already ordered `records`."""
    start = (query.page_number - 1) * query.page_size
    return records[start : start + query.page_size]


class Store:
    """All tenants of one sandbox and the operations of the API on them."""

    def __init__(self, config: SandboxConfig, tenants: list[Tenant]) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.rng = random.Random(config.seed * 7919 + 1)
        self._tenants = {tenant.uid: tenant for tenant in tenants}
        self._order_cache: dict[tuple[str, ListQuery], tuple[int, list[Customer]]] = {}

    def tenant_uids(self) -> list[str]:
        """Return every tenant UID in creation order."""
        with self.lock:
            return list(self._tenants)

    def tenant(self, tenant_uid: str) -> Tenant:
        """Return the tenant or raise a 404 error."""
        tenant = self._tenants.get(tenant_uid)
        if tenant is None:
            raise ApiError(404, "TENANT_NOT_FOUND", f"No tenant {tenant_uid}")
        return tenant

    def customer(self, tenant_uid: str, customer_uid: str) -> tuple[Tenant, Customer]:
        """Return the tenant and its customer or raise a 404 error."""
        tenant = self.tenant(tenant_uid)
        customer = tenant.customers.get(customer_uid)
        if customer is None:
            raise ApiError(404, "CUSTOMER_NOT_FOUND", f"No customer {customer_uid}")
        return tenant, customer

    def contact(
        self, tenant_uid: str, customer_uid: str, contact_uid: str
    ) -> tuple[Tenant, Customer, Contact]:
        """Return the tenant, customer and contact or raise a 404 error."""
        tenant, customer = self.customer(tenant_uid, customer_uid)
        contact = customer.contacts.get(contact_uid)
        if contact is None:
            raise ApiError(404, "CONTACT_NOT_FOUND", f"No contact {contact_uid}")
        return tenant, customer, contact

    def list_tenants(self, tenant_uids: list[str], query: ListQuery) -> Page:
        """Return a page of the tenants named in `tenant_uids`."""
        check_sort(Tenant, query)
        with self.lock:
            reachable = [self._tenants[uid] for uid in tenant_uids]
            chosen = page_of(order(reachable, query), query)
            return Page([tenant.render() for tenant in chosen], query, len(reachable))

    def list_customers(self, tenant_uid: str, query: ListQuery, external_id: str | None) -> Page:
        """Return a page of a tenant's customers, optionally only those with `external_id`."""
        check_sort(Customer, query)
        limit = self.config.embedded_contacts_limit
        with self.lock:
            tenant = self.tenant(tenant_uid)
            if external_id is None:
                ordered = self._ordered_customers(tenant, query)
            else:
                matching = [c for c in tenant.customers.values() if c.external_id == external_id]
                ordered = order(matching, query)
            chosen = page_of(ordered, query)
            items = [customer.render(tenant.organization_uid, limit) for customer in chosen]
            return Page(items, query, len(ordered))

    def _ordered_customers(self, tenant: Tenant, query: ListQuery) -> list[Customer]:
        key = (tenant.uid, ListQuery(1, 1, query.sort_by, query.descending))
        cached = self._order_cache.get(key)
        if cached is not None and cached[0] == tenant.version:
            return cached[1]
        ordered = order(list(tenant.customers.values()), query)
        self._order_cache[key] = (tenant.version, ordered)
        return ordered

    def list_contacts(self, tenant_uid: str, customer_uid: str, query: ListQuery) -> Page:
        """Return a page of one customer's contacts."""
        check_sort(Contact, query)
        with self.lock:
            tenant, customer = self.customer(tenant_uid, customer_uid)
            ordered = order(list(customer.contacts.values()), query)
            items = [c.render(tenant.organization_uid) for c in page_of(ordered, query)]
            return Page(items, query, len(ordered))

    def get_contact(self, tenant_uid: str, customer_uid: str, contact_uid: str) -> JsonDict:
        """Return one contact as the API shows it."""
        with self.lock:
            tenant, _, contact = self.contact(tenant_uid, customer_uid, contact_uid)
            return contact.render(tenant.organization_uid)

    def create_contact(
        self, tenant_uid: str, customer_uid: str, fields: dict[str, str], uid: str | None = None
    ) -> JsonDict:
        """Create a contact from validated `fields`; a taken `uid` raises `taken_uid_status`."""
        with self.lock:
            tenant, customer = self.customer(tenant_uid, customer_uid)
            if uid is not None and uid in tenant.contact_owner:
                status = self.config.taken_uid_status
                raise ApiError(status, "CONTACT_EXISTS", f"Contact {uid} already exists")
            now = now_ms()
            contact = Contact(
                uid=uid or new_uid(self.rng),
                firstname=fields["firstname"],
                lastname=fields["lastname"],
                email=fields.get("email", ""),
                mobile=fields.get("mobile", ""),
                created=now,
                modified=now,
            )
            customer.contacts[contact.uid] = contact
            tenant.contact_owner[contact.uid] = customer.uid
            self._touch_customer(tenant, customer)
            return contact.render(tenant.organization_uid)

    def update_contact(
        self, tenant_uid: str, customer_uid: str, contact_uid: str, fields: dict[str, str]
    ) -> JsonDict:
        """Apply a partial update of names, email and mobile to a contact."""
        with self.lock:
            tenant, customer, contact = self.contact(tenant_uid, customer_uid, contact_uid)
            contact.firstname = fields.get("firstname", contact.firstname)
            contact.lastname = fields.get("lastname", contact.lastname)
            contact.email = fields.get("email", contact.email)
            contact.mobile = fields.get("mobile", contact.mobile)
            contact.touch()
            self._touch_customer(tenant, customer)
            return contact.render(tenant.organization_uid)

    def delete_contact(self, tenant_uid: str, customer_uid: str, contact_uid: str) -> None:
        """Delete a contact; it simply vanishes."""
        with self.lock:
            tenant, customer, contact = self.contact(tenant_uid, customer_uid, contact_uid)
            del customer.contacts[contact.uid]
            del tenant.contact_owner[contact.uid]
            self._touch_customer(tenant, customer)

    def add_extension(
        self, tenant_uid: str, customer_uid: str, contact_uid: str, code: str
    ) -> JsonDict:
        """Add an extension to a contact; adding one it already has keeps a single entry."""
        with self.lock:
            tenant, customer, contact = self.contact(tenant_uid, customer_uid, contact_uid)
            if code not in contact.extensions:
                contact.extensions.append(code)
            contact.touch()
            self._touch_customer(tenant, customer)
            return contact.render(tenant.organization_uid)

    def remove_extension(
        self, tenant_uid: str, customer_uid: str, contact_uid: str, code: str
    ) -> None:
        """Remove an extension from a contact; an absent one raises a 404 error."""
        with self.lock:
            tenant, customer, contact = self.contact(tenant_uid, customer_uid, contact_uid)
            if code not in contact.extensions:
                raise ApiError(404, "EXTENSION_NOT_FOUND", f"Contact has no extension {code}")
            contact.extensions.remove(code)
            contact.touch()
            self._touch_customer(tenant, customer)

    def _touch_customer(self, tenant: Tenant, customer: Customer) -> None:
        if self.config.touch_customer_on_contact_write:
            customer.modified = max(now_ms(), customer.modified + 1)
            tenant.version += 1

    def add_customer(self, tenant_uid: str, customer: Customer) -> None:
        """Append a new customer to a tenant."""
        with self.lock:
            tenant = self.tenant(tenant_uid)
            tenant.customers[customer.uid] = customer
            for contact_uid in customer.contacts:
                tenant.contact_owner[contact_uid] = customer.uid
            tenant.version += 1

    def delete_customer(self, tenant_uid: str, customer_uid: str) -> None:
        """Remove a customer and its contacts."""
        with self.lock:
            tenant, customer = self.customer(tenant_uid, customer_uid)
            for contact_uid in customer.contacts:
                del tenant.contact_owner[contact_uid]
            del tenant.customers[customer_uid]
            tenant.version += 1

    def walk(self, tenant_uid: str | None = None) -> Iterator[tuple[Tenant, Customer]]:
        """Yield every (tenant, customer) in creation order; hold `lock` while iterating."""
        for tenant in self._tenants.values():
            if tenant_uid is None or tenant.uid == tenant_uid:
                yield from ((tenant, customer) for customer in tenant.customers.values())

    def truth_contacts(self, tenant_uid: str | None = None) -> list[JsonDict]:
        """Return every contact as the API shows it plus `tenantUid` and `customerUid`."""
        with self.lock:
            self._check_known(tenant_uid)
            return [
                {
                    **contact.render(tenant.organization_uid),
                    "tenantUid": tenant.uid,
                    "customerUid": customer.uid,
                }
                for tenant, customer in self.walk(tenant_uid)
                for contact in customer.contacts.values()
            ]

    def truth_customers(self, tenant_uid: str | None = None) -> list[JsonDict]:
        """Return every customer as the API shows it."""
        limit = self.config.embedded_contacts_limit
        with self.lock:
            self._check_known(tenant_uid)
            return [c.render(t.organization_uid, limit) for t, c in self.walk(tenant_uid)]

    def truth_tenants(self) -> list[JsonDict]:
        """Return every tenant as the API shows it."""
        with self.lock:
            return [tenant.render() for tenant in self._tenants.values()]

    def _check_known(self, tenant_uid: str | None) -> None:
        if tenant_uid is not None and tenant_uid not in self._tenants:
            raise KeyError(f"unknown tenant {tenant_uid}")
