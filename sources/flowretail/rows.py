"""Turn API contacts into arrow tables for the `contacts` and `contacts__extensions` tables.

Arrow tables skip dlt's row-by-row normalizer, which costs more than the HTTP work at this
scale. Extensions therefore go to a table of their own rather than a dlt nested table, keyed
on the contact: each load replaces a changed contact's extension rows (see `EXTENSION_HINTS`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from .errors import ProtocolError

logger = logging.getLogger(__name__)

TIMESTAMP = pa.timestamp("us", tz="UTC")
KEY_COLUMNS = ("tenant_uid", "customer_uid", "customer_contact_uid")
CONTACT_FIELDS = {  # API field -> column
    "customerContactUid": "customer_contact_uid",
    "firstname": "firstname",
    "lastname": "lastname",
    "displayName": "display_name",
    "email": "email",
    "mobile": "mobile",
    "createdAt": "created_at",
    "lastModifiedAt": "last_modified_at",
}
KNOWN_CONTACT_KEYS = frozenset(CONTACT_FIELDS) | {"extensions"}
KEY_FIELDS = [pa.field(name, pa.string(), nullable=False) for name in KEY_COLUMNS]
CONTACT_SCHEMA = pa.schema(
    KEY_FIELDS
    + [(name, pa.string()) for name in ("firstname", "lastname", "display_name", "email", "mobile")]
    + [(name, TIMESTAMP) for name in ("created_at", "last_modified_at", "deleted_at")]
)
# `_tombstone` rows stand for "this contact has no extensions now": the merge deletes the
# contact's old extension rows by the merge key and, as a hard delete, inserts none for it.
EXTENSION_SCHEMA = pa.schema(
    KEY_FIELDS
    + [("extension_code", pa.string()), ("organization_uid", pa.string())]
    + [("_tombstone", pa.bool_())]
)
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_timestamp(value: Any) -> datetime:
    """Parse an API timestamp (ISO 8601) into an aware UTC datetime."""
    if not isinstance(value, str):
        raise ProtocolError(f"expected an ISO 8601 timestamp, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:  # padded, lower-case `t`/`z` (RFC 3339 allows them), or over six fraction digits
            parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value.strip().upper()))
        except ValueError as exc:
            raise ProtocolError(f"{value!r} is not an ISO 8601 timestamp") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class ContactBatch:
    """Collect contacts column by column and hand them out as arrow tables."""

    def __init__(self) -> None:
        self._contacts: dict[str, list[Any]] = {name: [] for name in CONTACT_SCHEMA.names}
        self._extensions: dict[str, list[Any]] = {name: [] for name in EXTENSION_SCHEMA.names}
        self.unknown_fields: set[str] = set()

    def __len__(self) -> int:
        return len(self._contacts["customer_contact_uid"])

    def add(self, tenant_uid: str, customer_uid: str, contact: Mapping[str, Any]) -> None:
        """Add one contact as the API returned it, with its extensions."""
        columns = self._contacts
        uid = _required(contact, "customerContactUid")
        columns["tenant_uid"].append(tenant_uid)
        columns["customer_uid"].append(customer_uid)
        columns["customer_contact_uid"].append(uid)
        for field in ("firstname", "lastname", "displayName", "email", "mobile"):
            value = contact.get(field)
            columns[CONTACT_FIELDS[field]].append(None if value is None else str(value))
        columns["created_at"].append(parse_timestamp(_required(contact, "createdAt")))
        columns["last_modified_at"].append(parse_timestamp(_required(contact, "lastModifiedAt")))
        columns["deleted_at"].append(None)
        self.unknown_fields.update(contact.keys() - KNOWN_CONTACT_KEYS)
        self._add_extensions((tenant_uid, customer_uid, uid), contact.get("extensions") or [])

    def add_deleted(self, row: Mapping[str, Any], deleted_at: datetime) -> None:
        """Add a contact row read from the warehouse, marked deleted, without extensions."""
        for name in CONTACT_SCHEMA.names:
            self._contacts[name].append(deleted_at if name == "deleted_at" else row.get(name))
        tenant_uid, customer_uid, contact_uid = (str(row[name]) for name in KEY_COLUMNS)
        self._add_extensions((tenant_uid, customer_uid, contact_uid), [])

    def _add_extensions(self, key: tuple[str, str, str], extensions: Iterable[Any]) -> None:
        codes: dict[str, Any] = {}
        for extension in extensions:
            if isinstance(extension, Mapping) and extension.get("extensionCode"):
                codes.setdefault(str(extension["extensionCode"]), extension.get("organizationUid"))
        rows: list[tuple[str | None, Any]] = list(codes.items()) or [(None, None)]
        for code, organization_uid in rows:
            for name, value in zip(KEY_COLUMNS, key, strict=True):
                self._extensions[name].append(value)
            self._extensions["extension_code"].append(code)
            self._extensions["organization_uid"].append(organization_uid)
            self._extensions["_tombstone"].append(code is None)

    def drain(self) -> tuple[pa.Table, pa.Table]:
        """Return the collected contacts and extension rows as tables, and start afresh."""
        contacts = pa.table(self._contacts, schema=CONTACT_SCHEMA)
        extensions = pa.table(self._extensions, schema=EXTENSION_SCHEMA)
        for columns in (self._contacts, self._extensions):
            for values in columns.values():
                values.clear()
        return contacts, extensions


def _required(contact: Mapping[str, Any], field: str) -> Any:
    value = contact.get(field)
    if value in (None, ""):
        raise ProtocolError(f"a contact came without {field}, which the contract requires")
    return value
