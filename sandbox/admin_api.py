"""The `/_sandbox/` admin endpoints: ground truth, counters, faults and churn over HTTP.

They need no token and are never faulted, so a benchmark in another process can steer the
sandbox and read its truth while the connector under test sees only `/v2`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from sandbox.model import ApiError, JsonDict
from sandbox.routes import Reply

if TYPE_CHECKING:
    from sandbox.app import Sandbox


class AdminApi:
    """Answer admin requests for one sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def handle(self, method: str, path: str, query_string: str, body: bytes) -> Reply:
        """Answer one admin request; errors come back in the API's error shape."""
        name = path[len("/_sandbox/") :]
        endpoint = _ENDPOINTS.get((method, name))
        if endpoint is None:
            return Reply(404, ApiError(404, "NOT_FOUND", "No such admin endpoint").body())
        try:
            options = json.loads(body) if body else {}
            if not isinstance(options, dict):
                raise ValueError("the body must be a JSON object")
            options.update({k: v[0] for k, v in parse_qs(query_string).items()})
            return endpoint(self.sandbox, options)
        except (ValueError, TypeError, KeyError) as error:
            return Reply(400, ApiError(400, "INVALID_BODY", str(error)).body())


def _stats(sandbox: Sandbox, options: dict[str, Any]) -> Reply:
    counts = [
        {"method": method, "route": route, "count": count}
        for (method, route), count in sorted(sandbox.request_counts().items())
    ]
    body: JsonDict = {
        "requestCount": sandbox.request_count,
        "requestCounts": counts,
        "faults": sandbox.fault_settings.to_json(),
        "baseUrl": sandbox.base_url,
    }
    return Reply(200, body)


def _truth_contacts(sandbox: Sandbox, options: dict[str, Any]) -> Reply:
    return Reply(200, {"items": sandbox.truth_contacts(first_option(options, "tenantUid"))})


def _truth_customers(sandbox: Sandbox, options: dict[str, Any]) -> Reply:
    return Reply(200, {"items": sandbox.truth_customers(first_option(options, "tenantUid"))})


def _tenants(sandbox: Sandbox, options: dict[str, Any]) -> Reply:
    return Reply(200, {"items": sandbox.tenants()})


def _faults(sandbox: Sandbox, options: dict[str, Any]) -> Reply:
    if options.pop("clear", False):
        sandbox.clear_faults()
    settings = sandbox.configure_faults(**options)
    return Reply(200, {"faults": settings.to_json()})


def _inject(sandbox: Sandbox, options: dict[str, Any]) -> Reply:
    sandbox.inject(**options)
    return Reply(204)


def _churn(sandbox: Sandbox, options: dict[str, Any]) -> Reply:
    seed = options.get("seed")
    report = sandbox.churn(float(options.get("share", 0.01)), None if seed is None else int(seed))
    return Reply(200, report.to_json())


def _reset_counters(sandbox: Sandbox, options: dict[str, Any]) -> Reply:
    sandbox.reset_counters()
    return Reply(204)


def first_option(options: dict[str, Any], name: str) -> str | None:
    """Return an option as a string, or None when absent."""
    value = options.get(name)
    return None if value is None else str(value)


_ENDPOINTS = {
    ("GET", "stats"): _stats,
    ("GET", "tenants"): _tenants,
    ("GET", "truth/contacts"): _truth_contacts,
    ("GET", "truth/customers"): _truth_customers,
    ("POST", "faults"): _faults,
    ("POST", "inject"): _inject,
    ("POST", "churn"): _churn,
    ("POST", "reset-counters"): _reset_counters,
}
