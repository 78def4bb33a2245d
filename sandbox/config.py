"""Sandbox configuration and the well-known bearer tokens.

`SandboxConfig` fixes the generated data set and the fault knobs a sandbox starts with; the
knobs can be changed later at runtime. The tokens are fixed strings so that docs, demos and
tests can hard-code them.
"""

from __future__ import annotations

from dataclasses import dataclass

PERMISSION_ACCESS = "TENANT.ACCESS"
PERMISSION_BACKOFFICE = "TENANT.BACKOFFICE"


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """Describe the data set and the initial fault knobs of one sandbox.

    Attributes:
        seed: Seed for the data generator and every random fault decision.
        tenants: Number of tenants.
        customers: Number of customers per tenant.
        mean_contacts: Target mean number of contacts per customer.
        max_page_size: Largest page the server answers; larger requests are capped.
        default_page_size: Page size when the request names none.
        embedded_contacts_limit: Most contacts a customer object embeds in `contacts[]`.
        touch_customer_on_contact_write: Whether a contact write moves the customer's
            `lastModifiedAt` (the real behaviour is unknown).
        taken_uid_status: The status of a create whose UID is taken (409 here; undocumented).
        latency_ms: Delay added to every `/v2` request.
        rate_limit_per_second: Token-bucket rate; 0 disables the limit.
        retry_after: Value of the `Retry-After` header on 429 answers.
        error_rate: Share of `/v2` requests answered 500, 502 or 503.
        drop_rate: Share of `/v2` connections closed without an answer.
        ignore_sort: Whether lists ignore `sortBy`/`sortDirection` (creation order).
        reject_sort: Whether lists answer 400 to any `sortBy` (a server that cannot sort).
        reject_page_size_over: Answer 400 to a `pageSize` above this instead of capping it
            (0: never).
    """

    seed: int = 7
    tenants: int = 2
    customers: int = 40
    mean_contacts: float = 4.0
    max_page_size: int = 100
    default_page_size: int = 25
    embedded_contacts_limit: int = 10
    touch_customer_on_contact_write: bool = False
    taken_uid_status: int = 409
    latency_ms: float = 0.0
    rate_limit_per_second: float = 0.0
    retry_after: str = "1"
    error_rate: float = 0.0
    drop_rate: float = 0.0
    ignore_sort: bool = False
    reject_sort: bool = False
    reject_page_size_over: int = 0


@dataclass(frozen=True, slots=True)
class Principal:
    """What a bearer token may do.

    Attributes:
        first_tenant_only: Whether the token reaches only the first tenant (else all).
        permissions: Permission names the token holds.
        expired: Whether every request with the token is refused with 401.
        lists_every_tenant: Whether `GET /tenants` lists tenants the token cannot reach.
    """

    first_tenant_only: bool
    permissions: frozenset[str]
    expired: bool = False
    lists_every_tenant: bool = False


_BOTH = frozenset({PERMISSION_ACCESS, PERMISSION_BACKOFFICE})

TOKENS: dict[str, str] = {
    "admin": "sandbox-admin",
    "no_backoffice": "sandbox-no-backoffice",
    "first_tenant": "sandbox-first-tenant",
    "expired": "sandbox-expired",
    "lists_foreign": "sandbox-lists-foreign",
}

PRINCIPALS: dict[str, Principal] = {
    "sandbox-admin": Principal(first_tenant_only=False, permissions=_BOTH),
    "sandbox-no-backoffice": Principal(
        first_tenant_only=False, permissions=frozenset({PERMISSION_ACCESS})
    ),
    "sandbox-first-tenant": Principal(first_tenant_only=True, permissions=_BOTH),
    "sandbox-expired": Principal(first_tenant_only=False, permissions=_BOTH, expired=True),
    "sandbox-lists-foreign": Principal(
        first_tenant_only=True, permissions=_BOTH, lists_every_tenant=True
    ),
}
