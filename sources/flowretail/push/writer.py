"""Write contact and extension changes to Flow Retail so that any write can be repeated safely.

dlt sends a failed batch again whole, and a resumed push repeats the batch it stopped in, so
every write reads the contact first and sends only what still differs:

- upsert: GET; a 404 creates the contact with the row's UID (a 409 then means an earlier
  attempt created it: GET again and diff); otherwise PUT the differing fields, or nothing.
- delete: GET; a contact already gone counts as done, and so does a 404 on the DELETE.
- extension add or remove: GET; nothing is sent when the contact already has (or lacks) the code.

A contact whose `lastModifiedAt` in the API is newer than the copy the row was computed from is
a conflict and is not written unless `force` is set. Dry runs send the GETs only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..client import FlowRetailClient, RetryPolicy
from ..errors import Conflict, NotFound, PermissionDenied, RequestRejected
from ..paging import payload_of
from ..rows import parse_timestamp
from .changes import (
    REQUIRED_ON_CREATE,
    ContactChange,
    ContactKey,
    ExtensionChange,
    InvalidRow,
    contact_change,
    extension_change,
    text,
)
from .outcomes import Kind, Outcome, PushReport, Result

logger = logging.getLogger(__name__)

CONTACTS = "/tenants/{tenantUid}/customers/{customerUid}/contacts"
CONTACT = CONTACTS + "/{customerContactUid}"
EXTENSION = CONTACT + "/extensions/{customerExtensionCode}"

DELETE_DENIED = (
    "the token lacks TENANT.BACKOFFICE in tenant {tenant}, which deleting contacts needs: ask "
    "the tenant admin to grant it to the integration user, then push the deletes again"
)
ACCESS_DENIED = (
    "the token cannot reach tenant {tenant} (403): ask the tenant admin for TENANT.ACCESS, "
    "or push with a token of that tenant"
)


class DeleteDenied(PermissionDenied):
    """A contact DELETE answered 403: the token lacks TENANT.BACKOFFICE."""


@dataclass(frozen=True)
class Decision:
    """What a row came to, before it is recorded with the row."""

    outcome: Outcome
    fields: tuple[str, ...] = ()
    reason: str = ""
    status: int | None = None


class PushSession:
    """One push: one client, the safety rules, and the report of every row.

    The push methods are safe to call from several load threads at once.

    Args:
        client: The API client; one per push, shared by every thread.
        force: Write even when the API's copy is newer than the row's base (no conflicts).
        dry_run: Decide every row with reads only and send no write.
        report: Where results go; a fresh report when not given.
    """

    def __init__(
        self,
        client: FlowRetailClient,
        *,
        force: bool = False,
        dry_run: bool = False,
        report: PushReport | None = None,
    ) -> None:
        self.client = client
        self.force = force
        self.report = report or PushReport(dry_run=dry_run)
        self._lock = threading.Lock()
        self._deletes_allowed: set[str] = set()
        self._delete_probes: dict[str, threading.Lock] = {}

    @classmethod
    def connect(
        cls,
        base_url: str,
        access_token: str,
        *,
        force: bool = False,
        dry_run: bool = False,
        retry: RetryPolicy | None = None,
    ) -> PushSession:
        """Open a session with its own client.

        Example:
            >>> session = PushSession.connect("https://api.flowretail.com/v2", token)
            >>> session.push_contact({"tenant_uid": "t1", "customer_uid": "c1",
            ...     "customer_contact_uid": "k1", "email": "ann@example.com"}).outcome
            <Outcome.UPDATED: 'updated'>
        """
        client = FlowRetailClient(base_url, access_token, pool_size=8, retry=retry)
        return cls(client, force=force, dry_run=dry_run)

    @property
    def dry_run(self) -> bool:
        """Return whether writes are planned rather than sent."""
        return self.report.dry_run

    def push_contact(self, row: Mapping[str, Any]) -> Result:
        """Validate one contact row, then create, update, delete or leave the contact."""
        op = text(row.get("op")) or "upsert"
        try:
            change = contact_change(row)
        except InvalidRow as exc:
            return self._record("contact", op, row, Decision(Outcome.REJECTED, reason=str(exc)))
        return self._guarded("contact", row, change.key, change.op, lambda: self._contact(change))

    def push_extension(self, row: Mapping[str, Any]) -> Result:
        """Validate one extension row, then add or remove the extension when needed."""
        op = text(row.get("op")) or ""
        try:
            change = extension_change(row)
        except InvalidRow as exc:
            return self._record("extension", op, row, Decision(Outcome.REJECTED, reason=str(exc)))
        return self._guarded(
            "extension", row, change.key, change.op, lambda: self._extension(change)
        )

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()

    def _guarded(
        self,
        kind: Kind,
        row: Mapping[str, Any],
        key: ContactKey,
        op: str,
        decide: Callable[[], Decision],
    ) -> Result:
        scopes = ("access", "delete") if kind == "contact" and op == "delete" else ("access",)
        for scope in scopes:
            reason = self.report.denial(key.tenant_uid, scope)
            if reason is not None:
                return self._record(
                    kind, op, row, Decision(Outcome.FAILED, reason=reason, status=403)
                )
        try:
            decision = decide()
        except PermissionDenied as exc:
            decision = Decision(Outcome.FAILED, reason=self._deny(key.tenant_uid, exc), status=403)
        except (NotFound, Conflict, RequestRejected) as exc:
            decision = Decision(Outcome.FAILED, reason=str(exc), status=exc.status)
        return self._record(kind, op, row, decision)

    def _deny(self, tenant_uid: str, exc: PermissionDenied) -> str:
        scope, template = (
            ("delete", DELETE_DENIED)
            if isinstance(exc, DeleteDenied)
            else ("access", ACCESS_DENIED)
        )
        reason = template.format(tenant=tenant_uid)
        if self.report.deny(tenant_uid, scope, reason):
            logger.warning(
                "%s; the push reports the tenant's other such rows without sending", reason
            )
        return reason

    def _record(self, kind: Kind, op: str, row: Mapping[str, Any], decision: Decision) -> Result:
        result = Result(
            kind, op, decision.outcome, row, decision.fields, decision.reason, decision.status
        )
        logger.debug("%s %s %s: %s", kind, op, result.where, decision.outcome)
        return self.report.add(result)

    def _contact(self, change: ContactChange) -> Decision:
        current = self._get(change.key)
        if change.op == "delete":
            return self._delete(change, current)
        if current is None:
            return self._create(change)
        return self._update(change, current)

    def _get(self, key: ContactKey) -> dict[str, Any] | None:
        try:
            response = self.client.request("GET", CONTACT, **key.uids())
        except NotFound:
            return None
        contact = payload_of(response)
        return contact if isinstance(contact, dict) else None

    def _create(self, change: ContactChange) -> Decision:
        missing = [name for name in REQUIRED_ON_CREATE if name not in change.fields]
        if missing:
            reason = f"the contact does not exist, and creating it needs {' and '.join(missing)}"
            return Decision(Outcome.REJECTED, reason=reason)
        if self.dry_run:
            return Decision(Outcome.CREATED, tuple(change.fields))
        key = change.key
        body = {**change.fields, "customerContactUid": key.customer_contact_uid}
        try:
            self.client.request(
                "POST", CONTACTS, json=body, tenantUid=key.tenant_uid, customerUid=key.customer_uid
            )
        except (Conflict, RequestRejected) as exc:
            return self._after_refused_create(change, exc)
        return Decision(Outcome.CREATED, tuple(change.fields))

    def _after_refused_create(self, change: ContactChange, refusal: Exception) -> Decision:
        # NOTE: a create with our own UID refused as taken means an earlier attempt created the
        # contact and its answer was lost (a dropped connection, a retried batch), or another
        # customer of the tenant holds the UID. Only a second GET tells the two apart. The API
        # does not document how it says "taken", so a 400 gets the same second look.
        current = self._get(change.key)
        if current is None and isinstance(refusal, RequestRejected):
            raise refusal
        if current is None:
            raise Conflict(
                f"contact UID {change.key.customer_contact_uid} is taken by a contact of another "
                f"customer in tenant {change.key.tenant_uid}: choose another UID",
                409,
            )
        decision = self._update(change, current)
        if decision.outcome is Outcome.UNCHANGED:
            note = "created by an earlier attempt whose answer was lost"
            return Decision(Outcome.CREATED, tuple(change.fields), note)
        return decision

    def _update(self, change: ContactChange, current: Mapping[str, Any]) -> Decision:
        diff = {name: value for name, value in change.fields.items() if current.get(name) != value}
        if not diff:
            return Decision(Outcome.UNCHANGED)
        conflict = self._conflict(change.base, current)
        if conflict:
            return Decision(Outcome.CONFLICT, tuple(diff), conflict)
        if not self.dry_run:
            self.client.request("PUT", CONTACT, json=diff, **change.key.uids())
        return Decision(Outcome.UPDATED, tuple(diff))

    def _delete(self, change: ContactChange, current: Mapping[str, Any] | None) -> Decision:
        if current is None:
            return Decision(Outcome.UNCHANGED, reason="already gone")
        conflict = self._conflict(change.base, current)
        if conflict:
            return Decision(Outcome.CONFLICT, reason=conflict)
        if self.dry_run:
            return Decision(Outcome.DELETED)
        try:
            self._send_delete(change.key)
        except NotFound:
            return Decision(Outcome.UNCHANGED, reason="already gone")
        return Decision(Outcome.DELETED)

    def _send_delete(self, key: ContactKey) -> None:
        tenant_uid = key.tenant_uid
        with self._lock:
            allowed = tenant_uid in self._deletes_allowed
            probe = self._delete_probes.setdefault(tenant_uid, threading.Lock())
        if allowed:
            self.client.request("DELETE", CONTACT, **key.uids())
            return
        # NOTE: until one DELETE in a tenant succeeds, deletes there go one at a time, so that a
        # token without TENANT.BACKOFFICE gets a single 403 rather than one per load thread.
        with probe:
            reason = self.report.denial(tenant_uid, "delete")
            if reason is not None:
                raise DeleteDenied(reason, 403)
            try:
                self.client.request("DELETE", CONTACT, **key.uids())
            except PermissionDenied as exc:
                denied = DeleteDenied(str(exc), 403)
                self._deny(tenant_uid, denied)
                raise denied from exc
            except NotFound:
                self._allow_deletes(tenant_uid)
                raise
            self._allow_deletes(tenant_uid)

    def _allow_deletes(self, tenant_uid: str) -> None:
        with self._lock:
            self._deletes_allowed.add(tenant_uid)

    def _conflict(self, base: datetime | None, current: Mapping[str, Any]) -> str | None:
        if self.force or base is None:
            return None
        modified = parse_timestamp(current.get("lastModifiedAt"))
        if modified <= base:
            return None
        return (
            f"the contact changed in Flow Retail at {modified.isoformat()}, after the copy this "
            f"change was computed from ({base.isoformat()}): load again and recompute the "
            "change, or push with --force to overwrite"
        )

    def _extension(self, change: ExtensionChange) -> Decision:
        current = self._get(change.key)
        if current is None:
            raise NotFound(f"contact {change.key} does not exist in Flow Retail", 404)
        listed = {
            str(item.get("extensionCode"))
            for item in current.get("extensions") or []
            if isinstance(item, dict)
        }
        adding = change.op == "add"
        if (change.code in listed) == adding:
            note = "already has the extension" if adding else "already without the extension"
            return Decision(Outcome.UNCHANGED, reason=note)
        outcome = Outcome.ADDED if adding else Outcome.REMOVED
        if self.dry_run:
            return Decision(outcome, (change.code,))
        try:
            self.client.request(
                "POST" if adding else "DELETE",
                EXTENSION,
                json={"storeUid": change.store_uid},
                customerExtensionCode=change.code,
                **change.key.uids(),
            )
        except NotFound:
            if adding:
                raise
            return Decision(Outcome.UNCHANGED, reason="already without the extension")
        return Decision(outcome, (change.code,))
