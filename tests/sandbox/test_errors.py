"""Error answers: status, code and the JSON error shape."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from conftest import ApiHelper

from sandbox import Sandbox

STORE = {"storeUid": "store-1"}


def error_of(response: requests.Response) -> dict[str, Any]:
    """Return the error object of an error answer, checking its shape."""
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"status", "code", "message"}
    assert body["error"]["status"] == response.status_code
    return dict(body["error"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "The body is not valid JSON"),
        (b"[1, 2]", "The body must be a JSON object"),
        (b"", "The body must be a JSON object"),
        (b'{"lastname": "Berg"}', "firstname is required"),
        (b'{"firstname": "Ola"}', "lastname is required"),
        (b'{"firstname": "  ", "lastname": "Berg"}', "firstname must not be empty"),
        (b'{"firstname": 5, "lastname": "Berg"}', "firstname must be a string"),
        (b'{"firstname": "Ola", "lastname": "Berg", "email": null}', "email must be a string"),
        (
            b'{"firstname": "Ola", "lastname": "Berg", "customerContactUid": "a b"}',
            "customerContactUid must be a UID matching ^[A-Za-z0-9-_]+$",
        ),
    ],
)
def test_create_with_invalid_body_is_400(api: ApiHelper, body: bytes, message: str) -> None:
    path = api.contacts_path(api.customer_without_contacts())

    response = api.call("POST", path, data=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert error_of(response) == {"status": 400, "code": "INVALID_BODY", "message": message}


def test_put_with_wrong_type_is_400(api: ApiHelper) -> None:
    response = api.call("PUT", api.contact_path(api.first_contact()), json={"mobile": 47})

    assert response.status_code == 400
    assert error_of(response)["message"] == "mobile must be a string"


@pytest.mark.parametrize("body", [{}, {"storeUid": ""}, {"storeUid": 3}, {"store": "s"}])
@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_extension_without_valid_store_uid_is_400(
    api: ApiHelper, method: str, body: dict[str, Any]
) -> None:
    path = api.contact_path(api.first_contact()) + "/extensions/TWO_INVOICE"

    response = api.call(method, path, json=body)

    assert response.status_code == 400
    assert error_of(response)["code"] == "INVALID_BODY"


def test_unknown_extension_code_is_400(api: ApiHelper) -> None:
    path = api.contact_path(api.first_contact()) + "/extensions/KLARNA"

    response = api.call("POST", path, json=STORE)

    assert response.status_code == 400
    assert error_of(response) == {
        "status": 400,
        "code": "INVALID_EXTENSION",
        "message": "Unknown extension code KLARNA",
    }


@pytest.mark.parametrize("uid", ["a%20b", "caf%C3%A9", "x.y", "%21"])
def test_uid_outside_pattern_is_400(api: ApiHelper, uid: str) -> None:
    response = api.call("GET", f"/tenants/{uid}/customers")

    assert response.status_code == 400
    assert error_of(response)["code"] == "INVALID_UID"


@pytest.mark.parametrize(
    "params",
    [
        {"pageNumber": "x"},
        {"pageNumber": "1.5"},
        {"pageNumber": "0"},
        {"pageNumber": "-1"},
        {"pageSize": "0"},
        {"pageSize": ""},
        {"sortDirection": "asc"},
        {"sortDirection": "UP"},
    ],
)
def test_invalid_paging_or_direction_is_400(api: ApiHelper, params: dict[str, str]) -> None:
    response = api.call("GET", f"/tenants/{api.tenant_uid}/customers", params=params)

    assert response.status_code == 400
    assert error_of(response)["code"] == "INVALID_PARAMETER"


@pytest.mark.parametrize(
    "path", ["/tenants", "/tenants/{t}/customers", "/tenants/{t}/customers/{c}/contacts"]
)
def test_unknown_sort_field_is_400(api: ApiHelper, path: str) -> None:
    path = path.format(t=api.tenant_uid, c=api.customer_without_contacts())

    response = api.call("GET", path, params={"sortBy": "firstname"})

    assert response.status_code == 400
    assert error_of(response)["code"] == "INVALID_SORT"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "UNAUTHORIZED"),
        ({"Authorization": "Bearer nope"}, "UNAUTHORIZED"),
        ({"Authorization": "Basic sandbox-admin"}, "UNAUTHORIZED"),
        ({"Authorization": "Bearer sandbox-expired"}, "TOKEN_EXPIRED"),
    ],
)
def test_missing_unknown_or_expired_token_is_401(
    sandbox: Sandbox, headers: dict[str, str], code: str
) -> None:
    response = requests.get(f"{sandbox.base_url}/tenants", headers=headers, timeout=10)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert error_of(response)["code"] == code


def test_delete_without_backoffice_is_403_and_keeps_contact(sandbox: Sandbox) -> None:
    api = ApiHelper(sandbox, sandbox.tokens["no_backoffice"])
    contact = api.first_contact()

    response = api.call("DELETE", api.contact_path(contact))

    assert response.status_code == 403
    assert error_of(response)["message"] == "The token lacks the permission TENANT.BACKOFFICE"
    assert api.call("GET", api.contact_path(contact)).status_code == 200
    assert api.call("PUT", api.contact_path(contact), json={"email": ""}).status_code == 200


def test_foreign_tenant_is_403_and_hidden_from_tenant_list(sandbox: Sandbox) -> None:
    api = ApiHelper(sandbox, sandbox.tokens["first_tenant"])
    first, second = (tenant["tenantUid"] for tenant in sandbox.tenants())

    foreign = api.call("GET", f"/tenants/{second}/customers")
    own = api.call("GET", f"/tenants/{first}/customers")
    listed = api.call("GET", "/tenants").json()

    assert foreign.status_code == 403
    assert error_of(foreign)["message"] == "The token has no access to this tenant"
    assert own.status_code == 200
    assert [t["tenantUid"] for t in listed["items"]] == [first]
    assert listed["paging"]["totalCount"] == 1


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/tenants/nope/customers", "TENANT_NOT_FOUND"),
        ("/tenants/{t}/customers/nope/contacts", "CUSTOMER_NOT_FOUND"),
        ("/tenants/{t}/customers/{c}/contacts/nope", "CONTACT_NOT_FOUND"),
        ("/customers", "NOT_FOUND"),
        ("/tenants/{t}", "NOT_FOUND"),
        ("/tenants/", "NOT_FOUND"),
    ],
)
def test_unknown_resources_and_routes_are_404(api: ApiHelper, path: str, code: str) -> None:
    path = path.format(t=api.tenant_uid, c=api.customer_without_contacts())

    response = api.call("GET", path)

    assert response.status_code == 404
    assert error_of(response)["code"] == code


def test_write_to_unknown_contact_is_404(api: ApiHelper) -> None:
    path = api.contacts_path(api.customer_without_contacts()) + "/nope"

    assert api.call("PUT", path, json={"email": ""}).status_code == 404
    assert api.call("DELETE", path).status_code == 404
    assert api.call("POST", path + "/extensions/TWO_INVOICE", json=STORE).status_code == 404


def test_path_outside_api_is_404(sandbox: Sandbox) -> None:
    response = requests.get(sandbox.root_url + "/v1/tenants", timeout=10)

    assert response.status_code == 404


def test_create_with_taken_uid_is_409(api: ApiHelper) -> None:
    taken = api.first_contact()["customerContactUid"]
    body = {"firstname": "Ola", "lastname": "Berg", "customerContactUid": taken}

    response = api.call("POST", api.contacts_path(api.customer_without_contacts()), json=body)

    assert response.status_code == 409
    assert error_of(response)["code"] == "CONTACT_EXISTS"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/tenants", "GET"),
        ("DELETE", "/tenants/{t}/customers", "GET"),
        ("PUT", "/tenants/{t}/customers/{c}/contacts", "GET, POST"),
        ("PATCH", "/tenants/{t}/customers/{c}/contacts/x", "DELETE, GET, PUT"),
        ("GET", "/tenants/{t}/customers/{c}/contacts/x/extensions/TWO_INVOICE", "DELETE, POST"),
    ],
)
def test_wrong_method_is_405(api: ApiHelper, method: str, path: str, allow: str) -> None:
    path = path.format(t=api.tenant_uid, c=api.customer_without_contacts())

    response = api.call(method, path)

    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    assert error_of(response)["code"] == "METHOD_NOT_ALLOWED"
