"""End to end: load the sandbox into DuckDB and compare with its ground truth, row by row."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox import Sandbox
from sources.flowretail.client import RetryPolicy
from sources.flowretail.errors import AuthError, ConfigError, PermissionDenied, UnsafeChange
from tests.loadhelp import assert_matches_truth, load, query

ADMIN = {"Authorization": "Bearer sandbox-admin"}
CONTACTS_ROUTE = ("GET", "/tenants/{tenantUid}/customers/{customerUid}/contacts")


def _delete(sb: Sandbox, tenant: str, customer: str, contact: str) -> None:
    url = f"{sb.base_url}/tenants/{tenant}/customers/{customer}/contacts/{contact}"
    response = requests.delete(url, headers={"Authorization": "Bearer sandbox-admin"}, timeout=10)
    assert response.status_code == 204


def _contacts_route_count(sb: Sandbox) -> int:
    return sum(
        n for (method, route), n in sb.request_counts().items() if (method, route) == CONTACTS_ROUTE
    )


def test_full_load_equals_ground_truth(sandbox: Sandbox, workdir: Path) -> None:
    summary = load(sandbox)

    assert_matches_truth(sandbox)
    assert summary.tables["contacts"].new == len(sandbox.truth_contacts())
    assert summary.tables["customers"].new == 80


def test_incremental_run_after_churn_equals_ground_truth(sandbox: Sandbox, workdir: Path) -> None:
    load(sandbox)
    report = sandbox.churn(0.2)

    summary = load(sandbox)

    assert_matches_truth(sandbox)
    assert summary.tables["contacts"].deleted == len(report.deleted)
    assert summary.tables["contacts"].new == len(report.created)
    marked = query("SELECT COUNT(*) FROM flowretail.contacts WHERE deleted_at IS NOT NULL")
    assert marked == [(len(report.deleted),)]


def test_unchanged_run_costs_one_request_per_customer(sandbox: Sandbox, workdir: Path) -> None:
    load(sandbox, page_size=100)
    sandbox.reset_counters()

    load(sandbox, page_size=100)

    assert _contacts_route_count(sandbox) == 80
    assert sandbox.request_count == 80 + 2 + 1  # contacts, one customer page a tenant, tenants


def test_vanished_customer_marks_its_contacts_deleted(sandbox: Sandbox, workdir: Path) -> None:
    load(sandbox)
    tenant = sandbox.tenants()[0]["tenantUid"]
    counts: dict[str, int] = {}
    for contact in sandbox.truth_contacts(tenant):
        counts[contact["customerUid"]] = counts.get(contact["customerUid"], 0) + 1
    customer = max(counts, key=lambda uid: counts[uid])
    sandbox.delete_customer(tenant, customer)

    load(sandbox)

    assert_matches_truth(sandbox)
    gone = query(
        "SELECT COUNT(*) FROM flowretail.contacts WHERE deleted_at IS NOT NULL "
        f"AND customer_uid = '{customer}'"
    )
    assert gone == [(counts[customer],)]
    assert query(
        f"SELECT deleted_at IS NOT NULL FROM flowretail.customers WHERE customer_uid = '{customer}'"
    ) == [(True,)]


def _replace_one_contact(sb: Sandbox) -> dict[str, Any]:
    """Load, then delete one contact and create another in its customer; return the new one."""
    load(sb, lookback_seconds=0)
    victim = sb.truth_contacts()[0]
    tenant, customer = victim["tenantUid"], victim["customerUid"]
    _delete(sb, tenant, customer, victim["customerContactUid"])
    url = f"{sb.base_url}/tenants/{tenant}/customers/{customer}/contacts"
    created = requests.post(
        url, json={"firstname": "Åsa", "lastname": "Ny"}, timeout=10, headers=ADMIN
    )
    assert created.status_code == 200
    return {**created.json(), "tenantUid": tenant, "customerUid": customer}


def test_incremental_run_catches_a_delete_hidden_by_a_create(
    sandbox: Sandbox, workdir: Path
) -> None:
    _replace_one_contact(sandbox)

    summary = load(sandbox)

    assert_matches_truth(sandbox)
    assert (summary.tables["contacts"].new, summary.tables["contacts"].deleted) == (1, 1)


def test_reconcile_catches_a_delete_hidden_by_a_backdated_create(
    sandbox: Sandbox, workdir: Path
) -> None:
    created = _replace_one_contact(sandbox)
    # An imported contact: created long ago by its own record, new to the API today.
    uids = (created["tenantUid"], created["customerUid"], created["customerContactUid"])
    _, _, imported = sandbox.store.contact(*uids)
    imported.created = 0
    live = "SELECT COUNT(*) FROM flowretail.contacts WHERE deleted_at IS NULL"

    load(sandbox, lookback_seconds=0)
    hidden = query(live)
    load(sandbox, reconcile=True)

    assert hidden == [(len(sandbox.truth_contacts()) + 1,)]  # NOTE: the documented limit
    assert_matches_truth(sandbox)


def test_implausible_delete_share_changes_nothing(sandbox: Sandbox, workdir: Path) -> None:
    load(sandbox)
    tenant = sandbox.tenants()[0]["tenantUid"]
    victims = sandbox.truth_contacts(tenant)[: len(sandbox.truth_contacts(tenant)) // 2]
    for contact in victims:
        _delete(sandbox, tenant, contact["customerUid"], contact["customerContactUid"])
    before = query("SELECT COUNT(*), COUNT(deleted_at) FROM flowretail.contacts")

    with pytest.raises(Exception) as failure:
        load(sandbox)

    assert "max_delete_share" in str(failure.value) or isinstance(failure.value, UnsafeChange)
    assert query("SELECT COUNT(*), COUNT(deleted_at) FROM flowretail.contacts") == before
    load(sandbox, max_delete_share=1.0)
    assert_matches_truth(sandbox)


@pytest.mark.parametrize(
    "faults",
    [
        {"rate_limit_per_second": 150.0, "retry_after": "0"},
        {"rate_limit_per_second": 150.0, "retry_after": "1"},
        {"error_rate": 0.15},
        {"drop_rate": 0.1},
    ],
    ids=["429-retry-after-0", "429-retry-after-1", "5xx", "dropped"],
)
def test_faults_lose_nothing(sandbox: Sandbox, workdir: Path, faults: dict[str, object]) -> None:
    sandbox.configure_faults(**faults)
    load(sandbox)
    sandbox.clear_faults()
    sandbox.churn(0.2)
    sandbox.configure_faults(**faults)

    load(sandbox)

    sandbox.clear_faults()
    assert_matches_truth(sandbox)


def test_tight_rate_limit_with_retry_after_zero_slows_the_run_down_instead_of_failing(
    sandbox: Sandbox, workdir: Path
) -> None:
    # 16 requests in flight against 25 a second, each 429 saying "retry at once"
    sandbox.configure_faults(rate_limit_per_second=25.0, retry_after="0")

    summary = load(sandbox, concurrency=16, page_size=100)

    sandbox.clear_faults()
    assert_matches_truth(sandbox)
    assert summary.requests > 80 + 2 + 1  # the needed requests, and the answers that were 429


def test_server_that_ignores_sort_is_walked_in_full(
    sandbox_factory: object, workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sb = sandbox_factory(ignore_sort=True)  # type: ignore[operator]
    load(sb)
    sb.churn(0.2)

    load(sb)

    assert_matches_truth(sb)
    assert "does not sort contacts" in caplog.text


def test_server_refusing_sort_and_page_size_is_asked_without_them(
    sandbox_factory: object, workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sb = sandbox_factory(reject_sort=True, reject_page_size_over=5)  # type: ignore[operator]
    load(sb, page_size=50)
    sb.churn(0.2)
    sb.reset_counters()

    load(sb, page_size=50)

    assert_matches_truth(sb)
    assert "refuses sortBy=lastModifiedAt" in caplog.text
    assert "asking without sortBy and pageSize from now on" in caplog.text
    # Refused first pages, once per endpoint and run: tenants 1, customers 3, contacts 3. Then
    # pages of the default size 25: one of tenants, two of customers per tenant, and every
    # customer's contacts in full.
    held = Counter(c["customerUid"] for c in sb.truth_contacts())
    walks = sum(max(1, math.ceil(held[c["customerUid"]] / 25)) for c in sb.truth_customers())
    assert sb.request_count == 7 + 1 + 2 * 2 + walks


def test_failed_run_then_rerun_loses_and_doubles_nothing(sandbox: Sandbox, workdir: Path) -> None:
    load(sandbox)
    sandbox.churn(0.2)
    tenant = sandbox.tenants()[0]["tenantUid"]
    middle = sandbox.truth_customers(tenant)[20]["customerUid"]
    # Every attempt at one customer in the middle of the walk fails, and nothing else does.
    attempts = RetryPolicy().max_attempts
    sandbox.inject("GET", f"/customers/{middle}/contacts", count=attempts, action="503")

    with pytest.raises(Exception, match="503"):
        load(sandbox)
    load(sandbox)

    assert_matches_truth(sandbox)


def test_listed_tenant_without_access_is_skipped_unless_configured(
    sandbox: Sandbox, workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = (tenant["tenantUid"] for tenant in sandbox.tenants())

    load(sandbox, token="sandbox-lists-foreign")

    assert_matches_truth(sandbox, tenant=first)
    assert f"tenant {second} is listed but its customers answer 403" in caplog.text
    with pytest.raises(Exception) as failure:
        load(sandbox, token="sandbox-lists-foreign", tenants=[second])
    assert isinstance(_cause(failure.value), PermissionDenied)
    assert f"tenantUid {second}" in str(_cause(failure.value))


def test_expired_token_is_reported_without_the_token(sandbox: Sandbox, workdir: Path) -> None:
    with pytest.raises(Exception) as failure:
        load(sandbox, token="sandbox-expired")

    assert isinstance(_cause(failure.value), AuthError)
    assert "sandbox-expired" not in str(failure.value)


def test_unknown_tenant_is_a_config_error(sandbox: Sandbox, workdir: Path) -> None:
    with pytest.raises(Exception) as failure:
        load(sandbox, tenants=["no-such-tenant"])

    assert isinstance(_cause(failure.value), ConfigError)
    assert "no-such-tenant" in str(_cause(failure.value))


def test_invalid_page_size_is_a_config_error(sandbox: Sandbox, workdir: Path) -> None:
    with pytest.raises(Exception) as failure:
        load(sandbox, page_size=0)

    assert "page_size" in str(_cause(failure.value))


def _cause(exc: BaseException) -> BaseException:
    from pipelines.common import root_cause

    return root_cause(exc)
