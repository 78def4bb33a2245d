"""The generated data: determinism, skew, shapes and quality problems on purpose."""

from __future__ import annotations

import re
import time
from collections import Counter

from sandbox import Sandbox, SandboxConfig
from sandbox.generator import generate
from sandbox.pytest_plugin import SandboxFactory

ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
UID = re.compile(r"[A-Za-z0-9_-]+")
SEEDED_START, SEEDED_END = "2024-01-01T00:00:00.000Z", "2026-06-30T00:00:00.000Z"


def contacts_per_customer(running: Sandbox, tenant_uid: str) -> list[int]:
    """Return the contact count of every customer of a tenant."""
    counts = Counter(c["customerUid"] for c in running.truth_contacts(tenant_uid))
    return [counts[c["customerUid"]] for c in running.truth_customers(tenant_uid)]


def test_same_seed_same_data_other_seed_other_data(sandbox_factory: SandboxFactory) -> None:
    first = sandbox_factory(seed=3, customers=50)
    again = sandbox_factory(seed=3, customers=50)
    other = sandbox_factory(seed=4, customers=50)

    assert first.tenants() == again.tenants()
    assert first.truth_customers() == again.truth_customers()
    assert first.truth_contacts() == again.truth_contacts()
    assert first.truth_contacts() != other.truth_contacts()


def test_contact_skew(sandbox_factory: SandboxFactory) -> None:
    running = sandbox_factory(tenants=2, customers=400)

    for tenant in running.tenants():
        counts = contacts_per_customer(running, tenant["tenantUid"])
        hundreds = [count for count in counts if count >= 100]
        assert len(hundreds) == 1
        assert sum(count == 0 for count in counts) >= 0.4 * len(counts)
        assert sum(12 <= count < 100 for count in counts) >= 5
        assert 3.4 <= sum(counts) / len(counts) <= 4.6


def test_mean_follows_config_for_large_tenants() -> None:
    tenants = generate(SandboxConfig(tenants=1, customers=5000, mean_contacts=2.0))

    counts = [len(c.contacts) for c in tenants[0].customers.values()]

    assert 1.8 <= sum(counts) / len(counts) <= 2.2


def test_no_customer_has_hundreds_below_fifty_customers(sandbox: Sandbox) -> None:
    for tenant in sandbox.tenants():
        assert max(contacts_per_customer(sandbox, tenant["tenantUid"])) < 100


def test_contacts_shape_and_quality(sandbox_factory: SandboxFactory) -> None:
    contacts = sandbox_factory(tenants=1, customers=300).truth_contacts()

    for contact in contacts:
        assert contact["displayName"] == f"{contact['firstname']} {contact['lastname']}"
        assert UID.fullmatch(contact["customerContactUid"])
        assert ISO_MS.fullmatch(contact["createdAt"]) and ISO_MS.fullmatch(
            contact["lastModifiedAt"]
        )
        assert SEEDED_START <= contact["createdAt"] <= contact["lastModifiedAt"] <= SEEDED_END
    with_extension = [c for c in contacts if c["extensions"]]
    assert 0.2 <= len(with_extension) / len(contacts) <= 0.3
    organizations = {e["organizationUid"] for c in with_extension for e in c["extensions"]}
    assert len(organizations) == 1
    assert {e["extensionCode"] for c in with_extension for e in c["extensions"]} == {"TWO_INVOICE"}
    emails = [c["email"] for c in contacts]
    assert emails.count("") > 0
    assert any(email and "@" not in email for email in emails)
    assert any(c["mobile"] == "" for c in contacts)
    assert any(not c["firstname"].isascii() for c in contacts)
    stamps = Counter(c["lastModifiedAt"] for c in contacts)
    assert sum(1 for count in stamps.values() if count > 1) >= 5


def test_customer_and_tenant_shape(sandbox: Sandbox) -> None:
    customer = sandbox.truth_customers()[0]
    tenant = sandbox.tenants()[0]

    assert {"addresses", "consents", "extensions", "tags", "credit", "companyName"} <= set(customer)
    assert customer["customerType"] in {"B2B", "B2C"}
    assert set(customer["credit"]) == {"limit", "balance"}
    assert ISO_MS.fullmatch(customer["createdAt"])
    assert set(tenant) >= {"tenantUid", "name", "countryCode", "timezone", "languageCode"}
    assert UID.fullmatch(tenant["tenantUid"])


def test_ten_thousand_customers_generate_fast() -> None:
    started = time.perf_counter()

    tenants = generate(SandboxConfig(tenants=1, customers=10_000))

    assert time.perf_counter() - started < 3.0
    assert len(tenants[0].customers) == 10_000
