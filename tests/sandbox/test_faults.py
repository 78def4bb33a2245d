"""Fault knobs and targeted injections, seen from a `requests` client."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from conftest import ApiHelper

from sandbox import Sandbox
from sandbox.admin import SandboxClient
from sandbox.pytest_plugin import SandboxFactory


def test_latency_is_added_per_request(sandbox: Sandbox, api: ApiHelper) -> None:
    sandbox.configure_faults(latency_ms=150)

    started = time.perf_counter()
    response = api.call("GET", "/tenants")
    elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert 0.15 <= elapsed < 1.0


def test_latency_from_config(sandbox_factory: SandboxFactory) -> None:
    api = ApiHelper(sandbox_factory(customers=5, latency_ms=100))

    started = time.perf_counter()
    api.call("GET", "/tenants")

    assert time.perf_counter() - started >= 0.1


@pytest.mark.parametrize("retry_after", ["0", "2"])
def test_rate_limit_answers_429_with_retry_after(
    sandbox: Sandbox, api: ApiHelper, retry_after: str
) -> None:
    sandbox.configure_faults(rate_limit_per_second=5, retry_after=retry_after)

    responses = [api.call("GET", "/tenants") for _ in range(20)]

    limited = [r for r in responses if r.status_code == 429]
    assert 10 <= len(limited) <= 15
    assert {r.headers["Retry-After"] for r in limited} == {retry_after}
    assert limited[0].json()["error"]["code"] == "RATE_LIMITED"
    assert {r.status_code for r in responses} == {200, 429}


def test_rate_limit_refills(sandbox: Sandbox, api: ApiHelper) -> None:
    sandbox.configure_faults(rate_limit_per_second=10)
    while api.call("GET", "/tenants").status_code == 200:
        pass

    time.sleep(0.25)

    assert api.call("GET", "/tenants").status_code == 200


def test_error_rate_answers_share_of_5xx(sandbox: Sandbox, api: ApiHelper) -> None:
    sandbox.configure_faults(error_rate=0.5)

    statuses = [api.call("GET", "/tenants").status_code for _ in range(200)]

    errors = [status for status in statuses if status != 200]
    assert 70 <= len(errors) <= 130
    assert set(errors) == {500, 502, 503}
    assert sandbox.request_count == 200


def test_error_fault_happens_before_the_write(sandbox: Sandbox, api: ApiHelper) -> None:
    sandbox.configure_faults(error_rate=1.0)
    contact = api.first_contact()

    response = api.call("PUT", api.contact_path(contact), json={"email": "lost@example.com"})

    assert response.status_code in {500, 502, 503}
    assert api.first_contact() == contact


def test_drop_rate_closes_connection_without_answer(sandbox: Sandbox, api: ApiHelper) -> None:
    sandbox.configure_faults(drop_rate=1.0)

    with pytest.raises(requests.ConnectionError):
        api.call("GET", "/tenants")
    sandbox.configure_faults(drop_rate=0.0)
    assert api.call("GET", "/tenants").status_code == 200
    assert sandbox.request_count == 2


def test_partial_drop_rate(sandbox: Sandbox, api: ApiHelper) -> None:
    sandbox.configure_faults(drop_rate=0.3)
    outcomes = []

    for _ in range(60):
        try:
            outcomes.append(api.call("GET", "/tenants").status_code)
        except requests.ConnectionError:
            outcomes.append(0)

    assert 8 <= outcomes.count(0) <= 30
    assert set(outcomes) == {0, 200}


def test_ignore_sort_answers_creation_order(sandbox: Sandbox, api: ApiHelper) -> None:
    sandbox.configure_faults(ignore_sort=True)
    params = {"sortBy": "customerUid", "sortDirection": "DESC", "pageSize": 100}

    items = api.call("GET", f"/tenants/{api.tenant_uid}/customers", params=params).json()["items"]

    assert items == sandbox.truth_customers(api.tenant_uid)


def test_reject_sort_and_large_pages_answer_400(sandbox: Sandbox, api: ApiHelper) -> None:
    sandbox.configure_faults(reject_sort=True, reject_page_size_over=20)
    path = f"/tenants/{api.tenant_uid}/customers"

    sorted_list = api.call("GET", path, params={"sortBy": "createdAt", "pageSize": 20})
    large_page = api.call("GET", path, params={"pageSize": 21})
    plain = api.call("GET", path, params={"pageSize": 20})

    assert (sorted_list.status_code, large_page.status_code, plain.status_code) == (400, 400, 200)
    assert "pageSize must be at most 20" in large_page.json()["error"]["message"]
    assert len(plain.json()["items"]) == 20


def test_inject_status_hits_only_matching_requests(sandbox: Sandbox, api: ApiHelper) -> None:
    sandbox.inject(method="PUT", path_contains="/contacts", count=2, action="503")
    path = api.contact_path(api.first_contact())

    statuses = [
        api.call("GET", path).status_code,
        api.call("PUT", path, json={"email": "a@example.com"}).status_code,
        api.call("PUT", path, json={"email": "b@example.com"}).status_code,
        api.call("PUT", path, json={"email": "c@example.com"}).status_code,
    ]

    assert statuses == [200, 503, 503, 200]
    assert api.first_contact()["email"] == "c@example.com"


def test_inject_429_carries_retry_after(sandbox: Sandbox, api: ApiHelper) -> None:
    sandbox.configure_faults(retry_after="0")
    sandbox.inject(path_contains="/tenants", action="429")

    response = api.call("GET", "/tenants")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "0"


def test_inject_drop_loses_the_write(sandbox: Sandbox, api: ApiHelper) -> None:
    sandbox.inject(method="PUT", action="drop")
    contact = api.first_contact()

    with pytest.raises(requests.ConnectionError):
        api.call("PUT", api.contact_path(contact), json={"email": "lost@example.com"})

    assert api.first_contact() == contact


def test_inject_drop_after_write_applies_the_write(sandbox: Sandbox, api: ApiHelper) -> None:
    sandbox.inject(method="POST", path_contains="/contacts", action="drop_after_write")
    customer_uid = api.customer_without_contacts()
    body = {"firstname": "Kari", "lastname": "Dahl", "customerContactUid": "retry-me"}

    with pytest.raises(requests.ConnectionError):
        api.call("POST", api.contacts_path(customer_uid), json=body)
    retried = api.call("POST", api.contacts_path(customer_uid), json=body)

    assert retried.status_code == 409
    stored = [c for c in sandbox.truth_contacts() if c["customerUid"] == customer_uid]
    assert [(c["customerContactUid"], c["firstname"]) for c in stored] == [("retry-me", "Kari")]


def test_unknown_knob_and_action_are_refused(sandbox: Sandbox) -> None:
    with pytest.raises(TypeError):
        sandbox.configure_faults(latency=5)
    with pytest.raises(ValueError):
        sandbox.inject(action="explode")


def test_admin_endpoints_are_never_faulted(sandbox: Sandbox) -> None:
    sandbox.configure_faults(drop_rate=1.0, error_rate=1.0)
    admin = SandboxClient(sandbox.base_url)

    stats = admin.stats()

    assert stats["faults"]["drop_rate"] == 1.0
    assert stats["requestCount"] == 0


def test_clear_faults(sandbox: Sandbox, api: ApiHelper) -> None:
    sandbox.configure_faults(error_rate=1.0)
    sandbox.inject(action="drop", count=5)

    sandbox.clear_faults()

    assert api.call("GET", "/tenants").status_code == 200
    assert sandbox.fault_settings.error_rate == 0.0


def test_fault_sequence_is_deterministic_for_a_seed(sandbox_factory: SandboxFactory) -> None:
    runs = []
    for _ in range(2):
        api = ApiHelper(sandbox_factory(customers=2, error_rate=0.3))
        runs.append([api.call("GET", "/tenants").status_code for _ in range(30)])

    assert runs[0] == runs[1]


def test_latency_does_not_serialize_concurrent_clients(sandbox: Sandbox) -> None:
    sandbox.configure_faults(latency_ms=200)
    helpers = [ApiHelper(sandbox) for _ in range(16)]
    statuses: list[int] = []

    started = time.perf_counter()
    threads = [
        threading.Thread(target=lambda h=h: statuses.append(h.call("GET", "/tenants").status_code))
        for h in helpers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started

    assert statuses == [200] * 16
    assert elapsed < 1.2


def test_concurrent_creates_are_all_kept(sandbox: Sandbox) -> None:
    helpers = [ApiHelper(sandbox) for _ in range(16)]
    customer_uid = helpers[0].customer_without_contacts()
    path = helpers[0].contacts_path(customer_uid)
    statuses: list[int] = []

    def create_five(helper: ApiHelper, worker: int) -> None:
        for index in range(5):
            body = {"firstname": f"W{worker}", "lastname": f"N{index}"}
            statuses.append(helper.call("POST", path, json=body).status_code)

    threads = [threading.Thread(target=create_five, args=(h, n)) for n, h in enumerate(helpers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stored = [c for c in sandbox.truth_contacts() if c["customerUid"] == customer_uid]
    assert statuses == [200] * 80
    assert len(stored) == 80
    assert len({c["customerContactUid"] for c in stored}) == 80
