"""The `/v2` operations: routing, auth, validation, and the call into the store.

`Api.resolve` finds the route template for a path (the server counts requests by template
before it injects faults); `Api.handle` then answers the request as a `Reply`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.config import PERMISSION_ACCESS, PERMISSION_BACKOFFICE, PRINCIPALS, Principal
from sandbox.faults import Faults
from sandbox.model import EXTENSION_CODES, ApiError, JsonDict
from sandbox.store import ListQuery, Store

UID_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
_INTEGER = re.compile(r"-?[0-9]+")
_UID_PARAMS = ("tenantUid", "customerUid", "customerContactUid")
_CONTACT_FIELDS = ("firstname", "lastname", "email", "mobile")


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer: status, JSON body (None for no body) and extra headers."""

    status: int
    body: JsonDict | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated request as the operations see it."""

    principal: Principal
    params: dict[str, str]
    query: dict[str, list[str]]
    body: bytes


Operation = Callable[["Api", Call], Reply]


@dataclass(frozen=True, slots=True)
class Route:
    """A path template of the contract and its operations by HTTP method."""

    template: str
    operations: dict[str, Operation]

    def match(self, segments: list[str]) -> dict[str, str] | None:
        """Return the path parameters when `segments` fit the template, else None."""
        parts = self.template.strip("/").split("/")
        if len(parts) != len(segments):
            return None
        params = {}
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{"):
                params[part[1:-1]] = segment
            elif part != segment:
                return None
        return params


class Api:
    """The operations of Flow Retail API v2 on one store."""

    def __init__(self, store: Store, faults: Faults) -> None:
        self.store = store
        self.faults = faults
        self.config = store.config

    def resolve(self, segments: list[str]) -> tuple[Route | None, dict[str, str]]:
        """Find the route and path parameters for the path segments after `/v2`."""
        for route in ROUTES:
            params = route.match(segments)
            if params is not None:
                return route, params
        return None, {}

    def handle(
        self, route: Route, params: dict[str, str], method: str, request: dict[str, Any]
    ) -> Reply:
        """Answer one request to `route`; `request` holds `query`, `authorization`, `body`."""
        operation = route.operations.get(method)
        if operation is None:
            allowed = ", ".join(sorted(route.operations))
            error = ApiError(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed here")
            return Reply(405, error.body(), {"Allow": allowed})
        try:
            principal = authenticate(request["authorization"])
            check_path(params)
            call = Call(principal, params, request["query"], request["body"])
            return operation(self, call)
        except ApiError as error:
            headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else {}
            return Reply(error.status, error.body(), headers)

    def reachable(self, principal: Principal) -> list[str]:
        """Return the tenant UIDs a principal may reach."""
        uids = self.store.tenant_uids()
        return uids[:1] if principal.first_tenant_only else uids

    def enter_tenant(self, call: Call, permission: str = PERMISSION_ACCESS) -> str:
        """Check that the tenant exists and the principal may do `permission` in it."""
        tenant_uid = call.params["tenantUid"]
        self.store.tenant(tenant_uid)
        if tenant_uid not in self.reachable(call.principal):
            raise ApiError(403, "FORBIDDEN", "The token has no access to this tenant")
        require(call.principal, permission)
        return tenant_uid

    def list_query(self, call: Call) -> ListQuery:
        """Read paging and sorting from the query string, capped at the maximum page size."""
        page_number = int_param(call.query, "pageNumber", 1)
        page_size = int_param(call.query, "pageSize", self.config.default_page_size)
        sort_by = first(call.query, "sortBy")
        direction = first(call.query, "sortDirection") or "ASC"
        if direction not in ("ASC", "DESC"):
            raise ApiError(400, "INVALID_PARAMETER", "sortDirection must be ASC or DESC")
        settings = self.faults.settings
        if settings.reject_sort and sort_by:
            raise ApiError(400, "INVALID_PARAMETER", "sortBy is not supported on this list")
        asked_size = "pageSize" in call.query
        if asked_size and 0 < settings.reject_page_size_over < page_size:
            limit = settings.reject_page_size_over
            raise ApiError(400, "INVALID_PARAMETER", f"pageSize must be at most {limit}")
        page_size = min(page_size, self.config.max_page_size)
        if settings.ignore_sort:
            return ListQuery(page_number, page_size)
        return ListQuery(page_number, page_size, sort_by, direction == "DESC")


def authenticate(authorization: str | None) -> Principal:
    """Return the principal of a `Bearer` header or raise a 401 error."""
    scheme, _, token = (authorization or "").partition(" ")
    principal = PRINCIPALS.get(token.strip()) if scheme.lower() == "bearer" else None
    if principal is None:
        raise ApiError(401, "UNAUTHORIZED", "A valid bearer token is required")
    if principal.expired:
        raise ApiError(401, "TOKEN_EXPIRED", "The token has expired")
    return principal


def require(principal: Principal, permission: str) -> None:
    """Raise a 403 error unless the principal holds `permission`."""
    if permission not in principal.permissions:
        raise ApiError(403, "FORBIDDEN", f"The token lacks the permission {permission}")


def check_path(params: dict[str, str]) -> None:
    """Refuse path UIDs outside the UID pattern and unknown extension codes."""
    for name in _UID_PARAMS:
        if name in params and not UID_PATTERN.fullmatch(params[name]):
            raise ApiError(400, "INVALID_UID", f"{name} does not match ^[A-Za-z0-9-_]+$")
    code = params.get("customerExtensionCode")
    if code is not None and code not in EXTENSION_CODES:
        raise ApiError(400, "INVALID_EXTENSION", f"Unknown extension code {code}")


def first(query: dict[str, list[str]], name: str) -> str | None:
    """Return the first value of a query parameter, or None when absent."""
    values = query.get(name)
    return values[0] if values else None


def int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    """Read a positive integer query parameter or raise a 400 error."""
    raw = first(query, name)
    if raw is None:
        return default
    if not _INTEGER.fullmatch(raw) or int(raw) < 1:
        raise ApiError(400, "INVALID_PARAMETER", f"{name} must be an integer >= 1")
    return int(raw)


def json_object(body: bytes) -> JsonDict:
    """Parse a request body that must be a JSON object, or raise a 400 error."""
    try:
        parsed = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "INVALID_BODY", "The body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise ApiError(400, "INVALID_BODY", "The body must be a JSON object")
    return parsed


def contact_fields(body: JsonDict, *, create: bool) -> dict[str, str]:
    """Validate the contact fields of a create or update body."""
    fields = {name: body[name] for name in _CONTACT_FIELDS if name in body}
    for name, value in fields.items():
        if not isinstance(value, str):
            raise ApiError(400, "INVALID_BODY", f"{name} must be a string")
    for name in ("firstname", "lastname"):
        if create and name not in fields:
            raise ApiError(400, "INVALID_BODY", f"{name} is required")
        if name in fields and not fields[name].strip():
            raise ApiError(400, "INVALID_BODY", f"{name} must not be empty")
    return fields


def uid_field(body: JsonDict, name: str, *, required: bool) -> str | None:
    """Validate an optional or required UID field of a body."""
    value = body.get(name)
    if value is None and not required and name not in body:
        return None
    if not isinstance(value, str) or not UID_PATTERN.fullmatch(value):
        raise ApiError(400, "INVALID_BODY", f"{name} must be a UID matching ^[A-Za-z0-9-_]+$")
    return value


def list_tenants(api: Api, call: Call) -> Reply:
    """GET /tenants."""
    require(call.principal, PERMISSION_ACCESS)
    principal = call.principal
    listed = api.store.tenant_uids() if principal.lists_every_tenant else api.reachable(principal)
    page = api.store.list_tenants(listed, api.list_query(call))
    return Reply(200, page.body())


def list_customers(api: Api, call: Call) -> Reply:
    """GET /tenants/{tenantUid}/customers."""
    tenant_uid = api.enter_tenant(call)
    query = api.list_query(call)
    page = api.store.list_customers(tenant_uid, query, first(call.query, "customerExternalId"))
    return Reply(200, page.body())


def list_contacts(api: Api, call: Call) -> Reply:
    """GET .../customers/{customerUid}/contacts."""
    tenant_uid = api.enter_tenant(call)
    query = api.list_query(call)
    page = api.store.list_contacts(tenant_uid, call.params["customerUid"], query)
    return Reply(200, page.body())


def create_contact(api: Api, call: Call) -> Reply:
    """POST .../customers/{customerUid}/contacts."""
    tenant_uid = api.enter_tenant(call)
    body = json_object(call.body)
    fields = contact_fields(body, create=True)
    uid = uid_field(body, "customerContactUid", required=False)
    contact = api.store.create_contact(tenant_uid, call.params["customerUid"], fields, uid)
    return Reply(200, contact)


def get_contact(api: Api, call: Call) -> Reply:
    """GET .../contacts/{customerContactUid}."""
    tenant_uid = api.enter_tenant(call)
    p = call.params
    return Reply(200, api.store.get_contact(tenant_uid, p["customerUid"], p["customerContactUid"]))


def update_contact(api: Api, call: Call) -> Reply:
    """PUT .../contacts/{customerContactUid} with a partial body."""
    tenant_uid = api.enter_tenant(call)
    fields = contact_fields(json_object(call.body), create=False)
    p = call.params
    contact = api.store.update_contact(
        tenant_uid, p["customerUid"], p["customerContactUid"], fields
    )
    return Reply(200, contact)


def delete_contact(api: Api, call: Call) -> Reply:
    """DELETE .../contacts/{customerContactUid}; needs TENANT.BACKOFFICE."""
    tenant_uid = api.enter_tenant(call, PERMISSION_BACKOFFICE)
    p = call.params
    api.store.delete_contact(tenant_uid, p["customerUid"], p["customerContactUid"])
    return Reply(204)


def add_extension(api: Api, call: Call) -> Reply:
    """POST .../contacts/{customerContactUid}/extensions/{customerExtensionCode}."""
    tenant_uid = api.enter_tenant(call)
    uid_field(json_object(call.body), "storeUid", required=True)
    p = call.params
    contact = api.store.add_extension(
        tenant_uid, p["customerUid"], p["customerContactUid"], p["customerExtensionCode"]
    )
    return Reply(200, contact)


def remove_extension(api: Api, call: Call) -> Reply:
    """DELETE .../contacts/{customerContactUid}/extensions/{customerExtensionCode}."""
    tenant_uid = api.enter_tenant(call)
    uid_field(json_object(call.body), "storeUid", required=True)
    p = call.params
    api.store.remove_extension(
        tenant_uid, p["customerUid"], p["customerContactUid"], p["customerExtensionCode"]
    )
    return Reply(204)


_CONTACTS = "/tenants/{tenantUid}/customers/{customerUid}/contacts"
ROUTES = (
    Route("/tenants", {"GET": list_tenants}),
    Route("/tenants/{tenantUid}/customers", {"GET": list_customers}),
    Route(_CONTACTS, {"GET": list_contacts, "POST": create_contact}),
    Route(
        _CONTACTS + "/{customerContactUid}",
        {"GET": get_contact, "PUT": update_contact, "DELETE": delete_contact},
    ),
    Route(
        _CONTACTS + "/{customerContactUid}/extensions/{customerExtensionCode}",
        {"POST": add_extension, "DELETE": remove_extension},
    ),
)
