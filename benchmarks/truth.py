"""Ground truth from the sandbox, and the request counts each way of loading it needs."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sandbox.admin import SandboxClient

ContactKey = tuple[str, str, int]
"""(customerUid, customerContactUid, lastModifiedAt in epoch milliseconds)."""


def epoch_ms(stamp: str) -> int:
    """Return an ISO 8601 API timestamp as epoch milliseconds."""
    return round(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


@dataclass(frozen=True)
class Truth:
    """What one tenant holds right now, as the sandbox knows it."""

    tenant_uid: str
    contacts: frozenset[ContactKey]
    per_customer: dict[str, int]

    @classmethod
    def read(cls, admin: SandboxClient) -> Truth:
        """Read the only tenant's customers and contacts through the admin endpoints."""
        tenant_uid = str(admin.tenants()[0]["tenantUid"])
        customers = admin.truth_customers(tenant_uid)
        contacts = admin.truth_contacts(tenant_uid)
        per_customer = dict.fromkeys((str(c["customerUid"]) for c in customers), 0)
        per_customer.update(Counter(str(c["customerUid"]) for c in contacts))
        keys = frozenset(
            (str(c["customerUid"]), str(c["customerContactUid"]), epoch_ms(c["lastModifiedAt"]))
            for c in contacts
        )
        return cls(tenant_uid, keys, per_customer)

    @property
    def customers(self) -> int:
        """Return the number of customers."""
        return len(self.per_customer)

    def customer_pages(self, page_size: int) -> int:
        """Return the pages of the customer list, each full but the last."""
        return max(1, math.ceil(self.customers / page_size))

    def full_load_requests(self, page_size: int) -> int:
        """Return the fewest requests that read everything: tenants, customer and contact pages.

        A page-number walk that trusts `totalCount` needs one request per customer even when the
        customer has no contacts, and one per further page of contacts.
        """
        contact_pages = sum(max(1, math.ceil(n / page_size)) for n in self.per_customer.values())
        return 1 + self.customer_pages(page_size) + contact_pages

    def incremental_requests(self, page_size: int) -> int:
        """Return the requests of an incremental run that reads one contact page per customer."""
        return 1 + self.customer_pages(page_size) + self.customers

    def rewalk_requests(self, customers: set[str], page_size: int) -> int:
        """Return the requests of walking these customers' contacts once more, in full."""
        return sum(max(1, math.ceil(self.per_customer.get(c, 0) / page_size)) for c in customers)

    def stop_on_empty_requests(self, page_size: int) -> int:
        """Return the requests of a walk that stops only on an empty page, without tenants.

        Every list then ends with an empty page: the customer list once, and each customer's
        contacts once more after its last full or short page.
        """
        contact_pages = sum(math.ceil(n / page_size) + 1 for n in self.per_customer.values())
        return math.ceil(self.customers / page_size) + 1 + contact_pages


def lower_bound_seconds(
    requests: int, latency_ms: float, concurrency: int, rate_limit: float = 0.0
) -> float:
    """Return the shortest possible time for `requests` at this latency, concurrency and limit."""
    by_latency = requests * latency_ms / 1000 / concurrency
    by_rate = requests / rate_limit if rate_limit > 0 else 0.0
    return max(by_latency, by_rate)
