"""Random changes to the data while a sandbox runs, the way a busy tenant changes it.

Every change goes through the same store operations as API writes, so `lastModifiedAt` moves
exactly as it would for a real write.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sandbox.generator import new_contact
from sandbox.model import EXTENSION_TWO_INVOICE, JsonDict
from sandbox.store import Store

ContactRef = tuple[str, str, str]
"""(tenantUid, customerUid, customerContactUid)."""

_MODIFY_SHARE = 0.6
_DELETE_SHARE = 0.2


@dataclass(frozen=True, slots=True)
class ChurnReport:
    """The contacts one churn modified, created and deleted."""

    modified: list[ContactRef]
    created: list[ContactRef]
    deleted: list[ContactRef]

    def to_json(self) -> JsonDict:
        """Return the report as a JSON-ready dict of lists of triples."""
        return {
            "modified": [list(ref) for ref in self.modified],
            "created": [list(ref) for ref in self.created],
            "deleted": [list(ref) for ref in self.deleted],
        }

    @classmethod
    def from_json(cls, data: JsonDict) -> ChurnReport:
        """Rebuild a report from `to_json` output."""
        refs = {
            name: [(t, c, k) for t, c, k in data[name]]
            for name in ("modified", "created", "deleted")
        }
        return cls(refs["modified"], refs["created"], refs["deleted"])


def churn(store: Store, rng: random.Random, share: float) -> ChurnReport:
    """Modify, create and delete about `share` of all contacts (60/20/20), across customers."""
    with store.lock:
        contacts = [(t.uid, c.uid, k) for t, c in store.walk() for k in c.contacts]
        customers = [(t.uid, c.uid) for t, c in store.walk()]
        changes = round(len(contacts) * share) if share > 0 else 0
        if share > 0 and customers:
            changes = max(1, changes)
        deletes = min(round(changes * _DELETE_SHARE), len(contacts))
        modifies = min(changes - 2 * deletes, len(contacts) - deletes)
        picked = rng.sample(contacts, modifies + deletes)
        modified, deleted = picked[:modifies], picked[modifies:]
        for ref in modified:
            _modify(store, rng, ref)
        for tenant_uid, customer_uid, contact_uid in deleted:
            store.delete_contact(tenant_uid, customer_uid, contact_uid)
        created = [_create(store, rng, *rng.choice(customers)) for _ in range(deletes)]
        return ChurnReport(modified, created, deleted)


def _modify(store: Store, rng: random.Random, ref: ContactRef) -> None:
    fake = new_contact(rng, 0, 0)
    kind = rng.randrange(4)
    if kind == 0:
        store.update_contact(*ref, {"email": fake.email})
    elif kind == 1:
        store.update_contact(*ref, {"mobile": fake.mobile})
    elif kind == 2:
        store.update_contact(*ref, {"lastname": fake.lastname})
    elif EXTENSION_TWO_INVOICE in store.contact(*ref)[2].extensions:
        store.remove_extension(*ref, EXTENSION_TWO_INVOICE)
    else:
        store.add_extension(*ref, EXTENSION_TWO_INVOICE)


def _create(store: Store, rng: random.Random, tenant_uid: str, customer_uid: str) -> ContactRef:
    fake = new_contact(rng, 0, 0)
    fields = {
        "firstname": fake.firstname,
        "lastname": fake.lastname,
        "email": fake.email,
        "mobile": fake.mobile,
    }
    contact = store.create_contact(tenant_uid, customer_uid, fields)
    return tenant_uid, customer_uid, contact["customerContactUid"]
