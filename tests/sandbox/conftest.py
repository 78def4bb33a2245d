"""Fixtures for the sandbox tests: the sandbox fixtures and a thin API helper."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox import Sandbox
from sandbox.pytest_plugin import sandbox, sandbox_factory  # noqa: F401


class ApiHelper:
    """Call one sandbox's `/v2` API with a chosen token; answers are plain responses."""

    def __init__(self, running: Sandbox, token: str = "sandbox-admin") -> None:
        self.sandbox = running
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.tenant_uid = running.tenants()[0]["tenantUid"]

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send `method` to base URL + `path`."""
        return self.session.request(method, self.sandbox.base_url + path, timeout=10, **kwargs)

    def contacts_path(self, customer_uid: str, tenant_uid: str | None = None) -> str:
        """Return the contacts collection path of a customer."""
        return f"/tenants/{tenant_uid or self.tenant_uid}/customers/{customer_uid}/contacts"

    def customer_with_contacts(self, minimum: int = 1) -> str:
        """Return the UID of the first customer of the first tenant with enough contacts."""
        counts: dict[str, int] = {}
        for contact in self.sandbox.truth_contacts(self.tenant_uid):
            counts[contact["customerUid"]] = counts.get(contact["customerUid"], 0) + 1
        return next(uid for uid, count in counts.items() if count >= minimum)

    def customer_without_contacts(self) -> str:
        """Return the UID of a customer of the first tenant without contacts."""
        customers = self.sandbox.truth_customers(self.tenant_uid)
        return next(c["customerUid"] for c in customers if not c["contacts"])

    def first_contact(self) -> dict[str, Any]:
        """Return the ground truth of the first contact of the first tenant."""
        return self.sandbox.truth_contacts(self.tenant_uid)[0]

    def contact_path(self, contact: dict[str, Any]) -> str:
        """Return the path of a contact given its ground-truth record."""
        path = self.contacts_path(contact["customerUid"], contact["tenantUid"])
        return f"{path}/{contact['customerContactUid']}"


@pytest.fixture
def api(sandbox: Sandbox) -> ApiHelper:  # noqa: F811
    """Return an admin-token helper for the default sandbox."""
    return ApiHelper(sandbox)
