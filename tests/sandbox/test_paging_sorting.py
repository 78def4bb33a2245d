"""Paging edges and sorting of the three list operations."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ApiHelper

from sandbox import Sandbox
from sandbox.pytest_plugin import SandboxFactory

UID_OF = {"tenants": "tenantUid", "customers": "customerUid", "contacts": "customerContactUid"}


def walk(api: ApiHelper, path: str, **params: Any) -> list[dict[str, Any]]:
    """Collect every item of a list by paging until a short page."""
    items: list[dict[str, Any]] = []
    page_number = 1
    while True:
        body = api.call("GET", path, params={**params, "pageNumber": page_number}).json()
        items.extend(body["items"])
        if len(body["items"]) < body["paging"]["pageSize"]:
            return items
        page_number += 1


def expected_order(items: list[dict[str, Any]], field: str, uid: str, desc: bool) -> list[str]:
    """Sort ground-truth items by `field` with ties broken by UID."""
    ordered = sorted(items, key=lambda item: (item[field], item[uid]))
    return [item[uid] for item in (ordered[::-1] if desc else ordered)]


def test_empty_list(api: ApiHelper) -> None:
    response = api.call("GET", api.contacts_path(api.customer_without_contacts()))

    assert response.json() == {
        "items": [],
        "paging": {"pageNumber": 1, "pageSize": 25, "totalCount": 0},
    }


def test_exact_multiple_of_page_size(api: ApiHelper) -> None:
    path = api.contacts_path(api.customer_without_contacts())
    for index in range(10):
        api.call("POST", path, json={"firstname": f"F{index}", "lastname": "L"})

    pages = [
        api.call("GET", path, params={"pageSize": 5, "pageNumber": n}).json() for n in (1, 2, 3)
    ]

    assert [len(page["items"]) for page in pages] == [5, 5, 0]
    assert [page["paging"] for page in pages] == [
        {"pageNumber": n, "pageSize": 5, "totalCount": 10} for n in (1, 2, 3)
    ]
    names = [item["firstname"] for page in pages for item in page["items"]]
    assert names == [f"F{index}" for index in range(10)]


def test_page_size_is_capped_and_the_cap_is_answered(sandbox_factory: SandboxFactory) -> None:
    api = ApiHelper(sandbox_factory(customers=30, max_page_size=10))

    body = api.call("GET", f"/tenants/{api.tenant_uid}/customers", params={"pageSize": 1000}).json()

    assert len(body["items"]) == 10
    assert body["paging"] == {"pageNumber": 1, "pageSize": 10, "totalCount": 30}


def test_default_page_size_and_page_past_the_end(api: ApiHelper) -> None:
    path = f"/tenants/{api.tenant_uid}/customers"

    first = api.call("GET", path).json()
    past = api.call("GET", path, params={"pageNumber": 99}).json()

    assert len(first["items"]) == 25
    assert first["paging"] == {"pageNumber": 1, "pageSize": 25, "totalCount": 40}
    assert past == {"items": [], "paging": {"pageNumber": 99, "pageSize": 25, "totalCount": 40}}


def test_paging_through_customers_yields_each_once(sandbox: Sandbox, api: ApiHelper) -> None:
    items = walk(api, f"/tenants/{api.tenant_uid}/customers", pageSize=7)

    assert items == sandbox.truth_customers(api.tenant_uid)


@pytest.mark.parametrize("desc", [False, True])
@pytest.mark.parametrize("field", ["lastModifiedAt", "createdAt", "customerUid"])
def test_sort_customers(sandbox: Sandbox, api: ApiHelper, field: str, desc: bool) -> None:
    truth = sandbox.truth_customers(api.tenant_uid)
    direction = "DESC" if desc else "ASC"

    items = walk(
        api,
        f"/tenants/{api.tenant_uid}/customers",
        sortBy=field,
        sortDirection=direction,
        pageSize=9,
    )

    assert [c["customerUid"] for c in items] == expected_order(truth, field, "customerUid", desc)


@pytest.mark.parametrize("desc", [False, True])
@pytest.mark.parametrize("field", ["lastModifiedAt", "createdAt", "customerContactUid"])
def test_sort_contacts_with_ties(sandbox_factory: SandboxFactory, field: str, desc: bool) -> None:
    api = ApiHelper(sandbox_factory(tenants=1, customers=60))
    truth = api.sandbox.truth_contacts()
    biggest = max(
        {c["customerUid"] for c in truth},
        key=lambda uid: sum(c["customerUid"] == uid for c in truth),
    )
    mine = [c for c in truth if c["customerUid"] == biggest]
    direction = "DESC" if desc else "ASC"

    items = walk(
        api, api.contacts_path(biggest), sortBy=field, sortDirection=direction, pageSize=50
    )

    assert len({c[field] for c in mine}) < len(mine) or field == "customerContactUid"
    assert [c["customerContactUid"] for c in items] == expected_order(
        mine, field, "customerContactUid", desc
    )


@pytest.mark.parametrize("desc", [False, True])
@pytest.mark.parametrize("field", ["lastModifiedAt", "createdAt", "tenantUid"])
def test_sort_tenants(sandbox_factory: SandboxFactory, field: str, desc: bool) -> None:
    api = ApiHelper(sandbox_factory(tenants=6, customers=1))
    direction = "DESC" if desc else "ASC"

    items = walk(api, "/tenants", sortBy=field, sortDirection=direction, pageSize=4)

    expected = expected_order(api.sandbox.tenants(), field, "tenantUid", desc)
    assert [t["tenantUid"] for t in items] == expected


def test_direction_without_sort_field_reverses_creation_order(
    sandbox: Sandbox, api: ApiHelper
) -> None:
    items = walk(api, f"/tenants/{api.tenant_uid}/customers", sortDirection="DESC", pageSize=50)

    assert items == sandbox.truth_customers(api.tenant_uid)[::-1]


def test_sort_reflects_writes(api: ApiHelper) -> None:
    contact = api.first_contact()
    api.call("PUT", api.contact_path(contact), json={"email": "new@example.com"})
    path = api.contacts_path(contact["customerUid"])

    body = api.call(
        "GET", path, params={"sortBy": "lastModifiedAt", "sortDirection": "DESC"}
    ).json()

    assert body["items"][0]["customerContactUid"] == contact["customerContactUid"]
