"""Churn, customer helpers, request counters, admin endpoints and the command line."""

from __future__ import annotations

import subprocess
import sys

import requests
from conftest import ApiHelper

from sandbox import Sandbox
from sandbox.admin import SandboxClient
from sandbox.pytest_plugin import SandboxFactory

CONTACTS_ROUTE = "/tenants/{tenantUid}/customers/{customerUid}/contacts"


def by_ref(contacts: list[dict[str, str]]) -> dict[tuple[str, str, str], dict[str, str]]:
    """Index ground-truth contacts by (tenantUid, customerUid, customerContactUid)."""
    return {(c["tenantUid"], c["customerUid"], c["customerContactUid"]): c for c in contacts}


def test_churn_report_matches_ground_truth(sandbox_factory: SandboxFactory) -> None:
    running = sandbox_factory(customers=500)
    before = by_ref(running.truth_contacts())

    report = running.churn(share=0.05, seed=1)

    after = by_ref(running.truth_contacts())
    changed = {ref for ref in before.keys() & after.keys() if before[ref] != after[ref]}
    assert set(report.deleted) == before.keys() - after.keys()
    assert set(report.created) == after.keys() - before.keys()
    assert changed == set(report.modified)
    assert len(report.modified) + len(report.created) + len(report.deleted) == round(
        0.05 * len(before)
    )
    assert len({ref[1] for ref in report.modified}) > 10
    for ref in report.modified:
        assert after[ref]["lastModifiedAt"] > before[ref]["lastModifiedAt"]


def test_churn_with_seed_is_repeatable(sandbox_factory: SandboxFactory) -> None:
    first = sandbox_factory(customers=100).churn(share=0.1, seed=5)
    second = sandbox_factory(customers=100).churn(share=0.1, seed=5)

    assert first.modified == second.modified
    assert first.deleted == second.deleted
    assert [ref[:2] for ref in first.created] == [ref[:2] for ref in second.created]


def test_delete_and_add_customer(sandbox: Sandbox, api: ApiHelper) -> None:
    customer_uid = api.customer_with_contacts()

    sandbox.delete_customer(api.tenant_uid, customer_uid)
    added = sandbox.add_customer(api.tenant_uid, contacts=3)

    customers = api.call("GET", f"/tenants/{api.tenant_uid}/customers", params={"pageSize": 100})
    uids = [c["customerUid"] for c in customers.json()["items"]]
    assert customer_uid not in uids
    assert uids[-1] == added["customerUid"]
    assert api.call("GET", api.contacts_path(customer_uid)).status_code == 404
    listed = api.call("GET", api.contacts_path(added["customerUid"])).json()
    assert listed["paging"]["totalCount"] == 3
    assert all(c["customerUid"] != customer_uid for c in sandbox.truth_contacts())


def test_counters_by_route_template(sandbox: Sandbox, api: ApiHelper) -> None:
    customer_uid = api.customer_without_contacts()
    sandbox.inject(action="503")

    api.call("GET", "/tenants")
    api.call("GET", "/tenants")
    api.call("GET", api.contacts_path(customer_uid))
    api.call("POST", api.contacts_path(customer_uid), json={"firstname": "A", "lastname": "B"})
    api.call("GET", "/nowhere")

    assert sandbox.request_count == 5
    assert sandbox.request_counts() == {
        ("GET", "/tenants"): 2,
        ("GET", CONTACTS_ROUTE): 1,
        ("POST", CONTACTS_ROUTE): 1,
        ("GET", "<unknown>"): 1,
    }
    sandbox.reset_counters()
    assert sandbox.request_count == 0
    assert sandbox.request_counts() == {}


def test_admin_client_drives_the_sandbox(sandbox: Sandbox, api: ApiHelper) -> None:
    admin = SandboxClient(sandbox.root_url)
    api.call("GET", "/tenants")

    assert admin.request_count() == 1
    assert admin.request_counts() == {("GET", "/tenants"): 1}
    assert admin.tenants() == sandbox.tenants()
    assert admin.truth_contacts(api.tenant_uid) == sandbox.truth_contacts(api.tenant_uid)
    assert admin.truth_customers() == sandbox.truth_customers()
    assert admin.set_faults(latency_ms=5, retry_after=0)["retry_after"] == "0"
    assert sandbox.fault_settings.latency_ms == 5
    admin.inject(method="GET", action="502")
    assert api.call("GET", "/tenants").status_code == 502
    report = admin.churn(share=0.1, seed=2)
    assert set(report.deleted).isdisjoint(by_ref(sandbox.truth_contacts()))
    admin.reset_counters()
    assert sandbox.request_count == 0
    assert admin.set_faults(clear=True)["latency_ms"] == 0.0


def test_admin_endpoint_errors(sandbox: Sandbox) -> None:
    unknown = requests.get(f"{sandbox.root_url}/_sandbox/nothing", timeout=10)
    bad_knob = requests.post(f"{sandbox.root_url}/_sandbox/faults", json={"x": 1}, timeout=10)

    assert unknown.status_code == 404
    assert bad_knob.status_code == 400
    assert bad_knob.json()["error"]["message"] == "unknown fault knobs: x"


def test_stop_cuts_kept_alive_connections(sandbox_factory: SandboxFactory) -> None:
    running = sandbox_factory(customers=2)
    session = requests.Session()
    url = f"{running.base_url}/tenants"
    headers = {"Authorization": "Bearer sandbox-admin"}
    assert session.get(url, headers=headers, timeout=5).status_code == 200

    running.stop()

    try:
        session.get(url, headers=headers, timeout=5)
    except requests.ConnectionError:
        return
    raise AssertionError("a stopped sandbox still answered")


def test_command_line_serves_and_prints_tokens() -> None:
    command = [
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        "0",
        "--customers",
        "5",
        "--latency-ms",
        "1",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().split()[-1]
        lines = [process.stdout.readline() for _ in range(6)]
        response = requests.get(
            f"{base_url}/tenants", headers={"Authorization": "Bearer sandbox-admin"}, timeout=10
        )
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v2")
    assert any("Bearer sandbox-no-backoffice" in line for line in lines)
    assert response.status_code == 200
    assert response.json()["paging"]["totalCount"] == 2


def test_flowretail_dispatcher_knows_sandbox_options() -> None:
    from pipelines.cli import build_parser

    argv = ["sandbox", "--port", "9000", "--ignore-sort", "--rate-limit", "3"]
    args = build_parser(argv).parse_args(argv)

    assert (args.port, args.ignore_sort, args.rate_limit, args.seed) == (9000, True, 3.0, 7)
