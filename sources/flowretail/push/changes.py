"""Rows of a push: parse contact and extension changes and reject invalid rows before any request.

A contact row names `tenant_uid`, `customer_uid`, `customer_contact_uid`, the fields to set
(`firstname`, `lastname`, `email`, `mobile`; an empty value leaves the field unchanged), an
optional `op` (`upsert`, the default, or `delete`) and optionally `last_modified_at`, the time of
the copy the change was computed from. An extension row names the contact, `extension_code`,
`store_uid` and `op` (`add` or `remove`). Other columns are ignored, so `SELECT *` works.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ..client import UID_PATTERN

CONTACT_FIELDS = ("firstname", "lastname", "email", "mobile")
REQUIRED_ON_CREATE = ("firstname", "lastname")
EXTENSION_CODES = frozenset({"TWO_INVOICE"})
KEY_NAMES = ("tenant_uid", "customer_uid", "customer_contact_uid")
# Deliberately loose: one @, no spaces, a dot in the domain. The API's own rule is unknown.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")

ContactOp = Literal["upsert", "delete"]
ExtensionOp = Literal["add", "remove"]


class InvalidRow(ValueError):
    """A row cannot be pushed as it is; the message says which column to fix."""


@dataclass(frozen=True)
class ContactKey:
    """The path of one contact: tenant, customer and contact UIDs."""

    tenant_uid: str
    customer_uid: str
    customer_contact_uid: str

    def uids(self) -> dict[str, str]:
        """Return the path parameters of the contact endpoints."""
        return {
            "tenantUid": self.tenant_uid,
            "customerUid": self.customer_uid,
            "customerContactUid": self.customer_contact_uid,
        }

    def __str__(self) -> str:
        return f"{self.tenant_uid}/{self.customer_uid}/{self.customer_contact_uid}"


@dataclass(frozen=True)
class ContactChange:
    """A validated contact row: what to set (or delete) and the base it was computed from."""

    key: ContactKey
    op: ContactOp
    fields: dict[str, str] = field(default_factory=dict)
    base: datetime | None = None


@dataclass(frozen=True)
class ExtensionChange:
    """A validated extension row: add or remove one extension code on a contact."""

    key: ContactKey
    op: ExtensionOp
    code: str
    store_uid: str


def contact_change(row: Mapping[str, Any]) -> ContactChange:
    """Validate a contact row and return the change it asks for.

    Raises:
        InvalidRow: A UID, the op, the email or `last_modified_at` is malformed, or an upsert row
            is a contact the warehouse holds as deleted.
    """
    key = contact_key(row)
    op = _op(row, ("upsert", "delete"), default="upsert")
    fields = {name: value for name in CONTACT_FIELDS if (value := text(row.get(name)))}
    email = fields.get("email")
    if email is not None and not EMAIL_PATTERN.match(email):
        raise InvalidRow("email is not an address like name@example.com; leave it empty to keep it")
    if op == "upsert" and row.get("deleted_at") not in (None, ""):
        raise InvalidRow(
            "the row is a contact the warehouse holds as deleted (deleted_at is set): "
            "leave it out, or set op to delete"
        )
    base = timestamp(row.get("last_modified_at"), "last_modified_at")
    return ContactChange(key, op, fields, base)  # type: ignore[arg-type]


def extension_change(row: Mapping[str, Any]) -> ExtensionChange:
    """Validate an extension row and return the change it asks for.

    Raises:
        InvalidRow: A UID, the extension code or the op is missing or malformed.
    """
    key = contact_key(row)
    code = text(row.get("extension_code"))
    if code not in EXTENSION_CODES:
        known = ", ".join(sorted(EXTENSION_CODES))
        raise InvalidRow(f"extension_code must be one of {known}, got {code or 'nothing'}")
    store_uid = _uid(row, "store_uid")
    op = _op(row, ("add", "remove"), default=None)
    return ExtensionChange(key, op, code, store_uid)  # type: ignore[arg-type]


def contact_key(row: Mapping[str, Any]) -> ContactKey:
    """Return the contact a row names, or raise `InvalidRow` naming the bad UID column."""
    tenant_uid, customer_uid, contact_uid = (_uid(row, name) for name in KEY_NAMES)
    return ContactKey(tenant_uid, customer_uid, contact_uid)


def duplicates(keys: Iterable[object]) -> set[object]:
    """Return the keys that occur more than once."""
    return {key for key, count in Counter(keys).items() if count > 1}


def text(value: Any) -> str | None:
    """Return a cell as text, or None when it is empty (None, NaN or only spaces)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    value = str(value).strip()
    return value or None


def timestamp(value: Any, column: str) -> datetime | None:
    """Return a cell as an aware UTC datetime, or None when it is empty."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    raw = text(value)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRow(f"{column} is not an ISO 8601 timestamp: {raw[:40]!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _uid(row: Mapping[str, Any], column: str) -> str:
    value = text(row.get(column))
    if value is None:
        hint = " (choose one for a new contact, e.g. a UUID)" if column == KEY_NAMES[2] else ""
        raise InvalidRow(f"{column} is missing{hint}")
    if not UID_PATTERN.match(value):
        raise InvalidRow(f"{column} {value[:60]!r} is not a UID (letters, digits, - and _ only)")
    return value


def _op(row: Mapping[str, Any], allowed: tuple[str, ...], default: str | None) -> str:
    op = (text(row.get("op")) or default or "").lower()
    if op not in allowed:
        raise InvalidRow(
            f"op must be {' or '.join(allowed)}, got {text(row.get('op')) or 'nothing'}"
        )
    return op
