"""Every operation of the contract, answered over real HTTP."""

from __future__ import annotations

from conftest import ApiHelper

from sandbox import Sandbox
from sandbox.pytest_plugin import SandboxFactory

CONTACT_KEYS = {
    "customerContactUid",
    "firstname",
    "lastname",
    "displayName",
    "email",
    "mobile",
    "extensions",
    "createdAt",
    "lastModifiedAt",
}
STORE = {"storeUid": "store-1"}


def test_list_tenants_answers_all_tenants_for_admin(sandbox: Sandbox, api: ApiHelper) -> None:
    response = api.call("GET", "/tenants")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == {
        "items": sandbox.tenants(),
        "paging": {"pageNumber": 1, "pageSize": 25, "totalCount": 2},
    }


def test_list_customers_answers_truth_in_creation_order(sandbox: Sandbox, api: ApiHelper) -> None:
    response = api.call("GET", f"/tenants/{api.tenant_uid}/customers", params={"pageSize": 100})

    assert response.status_code == 200
    body = response.json()
    assert body["items"] == sandbox.truth_customers(api.tenant_uid)
    assert body["paging"] == {"pageNumber": 1, "pageSize": 100, "totalCount": 40}


def test_customer_filter_by_external_id(sandbox: Sandbox, api: ApiHelper) -> None:
    wanted = sandbox.truth_customers(api.tenant_uid)[3]

    response = api.call(
        "GET",
        f"/tenants/{api.tenant_uid}/customers",
        params={"customerExternalId": wanted["externalId"]},
    )

    assert response.json()["items"] == [wanted]
    assert response.json()["paging"]["totalCount"] == 1


def test_customer_embeds_at_most_the_limit_of_contacts(sandbox_factory: SandboxFactory) -> None:
    running = sandbox_factory(customers=60, embedded_contacts_limit=3)
    helper = ApiHelper(running)
    counts: dict[str, int] = {}
    for contact in running.truth_contacts(helper.tenant_uid):
        counts[contact["customerUid"]] = counts.get(contact["customerUid"], 0) + 1

    customers = running.truth_customers(helper.tenant_uid)

    for customer in customers:
        assert len(customer["contacts"]) == min(3, counts.get(customer["customerUid"], 0))
    assert max(counts.values()) > 3


def test_list_contacts_answers_contract_fields_only(sandbox: Sandbox, api: ApiHelper) -> None:
    customer_uid = api.customer_with_contacts(2)
    truth = [c for c in sandbox.truth_contacts() if c["customerUid"] == customer_uid]

    response = api.call("GET", api.contacts_path(customer_uid))

    assert response.status_code == 200
    items = response.json()["items"]
    assert all(set(item) == CONTACT_KEYS for item in items)
    expected = [{k: v for k, v in c.items() if k in CONTACT_KEYS} for c in truth]
    assert items == expected


def test_get_contact(api: ApiHelper) -> None:
    contact = api.first_contact()

    response = api.call("GET", api.contact_path(contact))

    assert response.status_code == 200
    assert response.json() == {k: v for k, v in contact.items() if k in CONTACT_KEYS}


def test_create_contact_with_server_uid(sandbox: Sandbox, api: ApiHelper) -> None:
    customer_uid = api.customer_without_contacts()
    body = {"firstname": "Åsa", "lastname": "Ødegård", "email": "asa@example.no"}

    response = api.call("POST", api.contacts_path(customer_uid), json=body)

    assert response.status_code == 200
    created = response.json()
    assert set(created) == CONTACT_KEYS
    assert created["displayName"] == "Åsa Ødegård"
    assert created["mobile"] == ""
    assert created["extensions"] == []
    assert created["createdAt"] == created["lastModifiedAt"]
    listed = api.call("GET", api.contacts_path(customer_uid)).json()["items"]
    assert listed == [created]


def test_create_contact_with_client_uid(api: ApiHelper) -> None:
    customer_uid = api.customer_without_contacts()
    body = {"firstname": "Ola", "lastname": "Nordmann", "customerContactUid": "my-uid_1"}

    response = api.call("POST", api.contacts_path(customer_uid), json=body)

    assert response.status_code == 200
    assert response.json()["customerContactUid"] == "my-uid_1"
    fetched = api.call("GET", api.contacts_path(customer_uid) + "/my-uid_1")
    assert fetched.json() == response.json()


def test_put_is_partial_and_moves_display_name(api: ApiHelper) -> None:
    contact = api.first_contact()

    response = api.call("PUT", api.contact_path(contact), json={"lastname": "Berg"})

    assert response.status_code == 200
    updated = response.json()
    assert updated["lastname"] == "Berg"
    assert updated["firstname"] == contact["firstname"]
    assert updated["email"] == contact["email"]
    assert updated["displayName"] == f"{contact['firstname']} Berg"
    assert updated["lastModifiedAt"] > contact["lastModifiedAt"]
    assert updated["createdAt"] == contact["createdAt"]


def test_delete_contact_then_404(sandbox: Sandbox, api: ApiHelper) -> None:
    contact = api.first_contact()

    response = api.call("DELETE", api.contact_path(contact))

    assert response.status_code == 204
    assert response.content == b""
    assert api.call("GET", api.contact_path(contact)).status_code == 404
    uids = {c["customerContactUid"] for c in sandbox.truth_contacts()}
    assert contact["customerContactUid"] not in uids


def test_add_extension_is_idempotent_and_uses_tenant_organization(
    sandbox: Sandbox, api: ApiHelper
) -> None:
    truth = sandbox.truth_contacts(api.tenant_uid)
    with_extension = next(c for c in truth if c["extensions"])
    contact = next(c for c in truth if not c["extensions"])
    path = api.contact_path(contact) + "/extensions/TWO_INVOICE"

    first = api.call("POST", path, json=STORE)
    second = api.call("POST", path, json=STORE)

    assert first.status_code == second.status_code == 200
    assert second.json()["extensions"] == with_extension["extensions"]
    assert second.json()["extensions"][0]["organizationUid"] != "store-1"
    assert second.json()["lastModifiedAt"] > first.json()["lastModifiedAt"]


def test_delete_extension_with_body_then_404(api: ApiHelper) -> None:
    contact = next(c for c in api.sandbox.truth_contacts(api.tenant_uid) if c["extensions"])
    path = api.contact_path(contact) + "/extensions/TWO_INVOICE"

    response = api.call("DELETE", path, json=STORE)

    assert response.status_code == 204
    assert api.call("GET", api.contact_path(contact)).json()["extensions"] == []
    again = api.call("DELETE", path, json=STORE)
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "EXTENSION_NOT_FOUND"


def test_every_write_moves_last_modified_strictly(api: ApiHelper) -> None:
    contact = api.first_contact()
    path = api.contact_path(contact)
    seen = [contact["lastModifiedAt"]]

    for index in range(5):
        seen.append(
            api.call("PUT", path, json={"mobile": f"+4790000{index}"}).json()["lastModifiedAt"]
        )
        seen.append(
            api.call("POST", path + "/extensions/TWO_INVOICE", json=STORE).json()["lastModifiedAt"]
        )

    assert seen == sorted(seen)
    assert len(set(seen)) == len(seen)


def test_contact_write_leaves_customer_unchanged_by_default(
    sandbox: Sandbox, api: ApiHelper
) -> None:
    contact = api.first_contact()
    before = sandbox.truth_customers(api.tenant_uid)

    api.call("PUT", api.contact_path(contact), json={"email": "x@example.com"})

    after = sandbox.truth_customers(api.tenant_uid)
    assert [c["lastModifiedAt"] for c in after] == [c["lastModifiedAt"] for c in before]


def test_contact_write_touches_customer_when_configured(sandbox_factory: SandboxFactory) -> None:
    running = sandbox_factory(touch_customer_on_contact_write=True)
    helper = ApiHelper(running)
    contact = helper.first_contact()
    customer_uid = contact["customerUid"]

    def customer_modified() -> str:
        customers = running.truth_customers(helper.tenant_uid)
        return next(c["lastModifiedAt"] for c in customers if c["customerUid"] == customer_uid)

    before = customer_modified()
    helper.call("PUT", helper.contact_path(contact), json={"email": "x@example.com"})

    assert customer_modified() > before
