"""In-memory records of the sandbox and how the API renders them.

Timestamps are kept as integer milliseconds since the epoch and rendered as ISO 8601 UTC with
milliseconds and a `Z`, the way the real API writes them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

EXTENSION_TWO_INVOICE = "TWO_INVOICE"
EXTENSION_CODES = frozenset({EXTENSION_TWO_INVOICE})

JsonDict = dict[str, Any]


def iso_ms(millis: int) -> str:
    """Render epoch milliseconds as `2025-07-30T17:19:18.781Z`."""
    seconds, rest = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest:03d}Z"


def now_ms() -> int:
    """Return the current wall-clock time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class Contact:
    """One customer contact."""

    uid: str
    firstname: str
    lastname: str
    email: str
    mobile: str
    created: int
    modified: int
    extensions: list[str] = field(default_factory=list)

    def render(self, organization_uid: str) -> JsonDict:
        """Return the contact exactly as the API shows it."""
        return {
            "customerContactUid": self.uid,
            "firstname": self.firstname,
            "lastname": self.lastname,
            "displayName": f"{self.firstname} {self.lastname}",
            "email": self.email,
            "mobile": self.mobile,
            "extensions": [
                {"extensionCode": code, "organizationUid": organization_uid}
                for code in self.extensions
            ],
            "createdAt": iso_ms(self.created),
            "lastModifiedAt": iso_ms(self.modified),
        }

    def touch(self) -> None:
        """Move `lastModifiedAt` to now, strictly after its previous value."""
        self.modified = max(now_ms(), self.modified + 1)


@dataclass(slots=True)
class Customer:
    """One customer with its contacts in creation order."""

    uid: str
    external_id: str
    customer_type: str
    company_name: str
    firstname: str
    lastname: str
    email: str
    mobile: str
    address: str
    postal_code: str
    city: str
    country_code: str
    created: int
    modified: int
    credit_limit: float
    credit_balance: float
    payment_terms: int
    contacts: dict[str, Contact] = field(default_factory=dict)

    def render(self, organization_uid: str, embedded_limit: int) -> JsonDict:
        """Return the customer as the API shows it, with at most `embedded_limit` contacts."""
        is_company = self.customer_type == "B2B"
        embedded: list[JsonDict] = []
        for contact in self.contacts.values():
            if len(embedded) >= embedded_limit:
                break
            embedded.append(contact.render(organization_uid))
        return {
            "customerUid": self.uid,
            "externalId": self.external_id,
            "customerType": self.customer_type,
            "displayName": self.company_name if is_company else self.person_name,
            "companyName": self.company_name,
            "firstname": self.firstname,
            "lastname": self.lastname,
            "email": self.email,
            "mobile": self.mobile,
            "address": self.address,
            "postalCode": self.postal_code,
            "city": self.city,
            "countryCode": self.country_code,
            "vatNumber": f"{self.country_code}{self.external_id[2:]}MVA" if is_company else "",
            "ledgerNumber": self.external_id[2:],
            "pricelistUid": "",
            "loyaltyId": "" if is_company else f"L{self.external_id[2:]}",
            "origin": "POS" if self.created % 3 else "WEBSHOP",
            "internalNote": "",
            "paymentTerms": self.payment_terms,
            "credit": {"limit": self.credit_limit, "balance": self.credit_balance},
            "createdAt": iso_ms(self.created),
            "lastModifiedAt": iso_ms(self.modified),
            "contacts": embedded,
            "extensions": [],
            "addresses": [],
            "consents": [],
            "tags": ["b2b"] if is_company else [],
        }

    @property
    def person_name(self) -> str:
        """Return "firstname lastname" of the customer's own person."""
        return f"{self.firstname} {self.lastname}"


@dataclass(slots=True)
class Tenant:
    """One tenant with its customers in creation order and an index of its contacts."""

    uid: str
    name: str
    country_code: str
    timezone: str
    language_code: str
    created: int
    modified: int
    organization_uid: str
    customers: dict[str, Customer] = field(default_factory=dict)
    contact_owner: dict[str, str] = field(default_factory=dict)
    version: int = 0

    def render(self) -> JsonDict:
        """Return the tenant as the API shows it."""
        return {
            "tenantUid": self.uid,
            "name": self.name,
            "countryCode": self.country_code,
            "timezone": self.timezone,
            "languageCode": self.language_code,
            "createdAt": iso_ms(self.created),
            "lastModifiedAt": iso_ms(self.modified),
            "settings": {"currencyCode": _CURRENCY.get(self.country_code, "EUR")},
        }


_CURRENCY = {"NO": "NOK", "SE": "SEK", "DK": "DKK", "GB": "GBP", "US": "USD", "JP": "JPY"}


class ApiError(Exception):
    """An error answer of the API: HTTP status, a stable code and a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> JsonDict:
        """Return the JSON error body the server sends."""
        return {"error": {"status": self.status, "code": self.code, "message": self.message}}
