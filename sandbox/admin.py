"""A small client of the `/_sandbox/` admin endpoints, for use from another process.

Example:
    >>> admin = SandboxClient("http://127.0.0.1:8765")
    >>> admin.set_faults(latency_ms=20)
    >>> report = admin.churn(share=0.01)
"""

from __future__ import annotations

from typing import Any

import requests

from sandbox.churn import ChurnReport
from sandbox.model import JsonDict


class SandboxClient:
    """Drive a running sandbox through its admin endpoints."""

    def __init__(self, url: str, *, timeout: float = 60.0) -> None:
        """Take the sandbox root or base URL (`http://host:port` or `http://host:port/v2`)."""
        self.root_url = url.rstrip("/").removesuffix("/v2")
        self.timeout = timeout
        self._session = requests.Session()

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def stats(self) -> JsonDict:
        """Return the request counters, the fault knobs and the base URL."""
        return self._call("GET", "stats")

    def request_count(self) -> int:
        """Return the number of `/v2` requests received since the last reset."""
        return int(self.stats()["requestCount"])

    def request_counts(self) -> dict[tuple[str, str], int]:
        """Return `/v2` request counts by (method, route template)."""
        rows = self.stats()["requestCounts"]
        return {(row["method"], row["route"]): row["count"] for row in rows}

    def reset_counters(self) -> None:
        """Set the request counters back to zero."""
        self._call("POST", "reset-counters")

    def tenants(self) -> list[JsonDict]:
        """Return every tenant as the API shows it."""
        return list(self._call("GET", "tenants")["items"])

    def truth_contacts(self, tenant_uid: str | None = None) -> list[JsonDict]:
        """Return every contact plus `tenantUid` and `customerUid`."""
        params = {} if tenant_uid is None else {"tenantUid": tenant_uid}
        return list(self._call("GET", "truth/contacts", params=params)["items"])

    def truth_customers(self, tenant_uid: str | None = None) -> list[JsonDict]:
        """Return every customer as the API shows it."""
        params = {} if tenant_uid is None else {"tenantUid": tenant_uid}
        return list(self._call("GET", "truth/customers", params=params)["items"])

    def set_faults(self, *, clear: bool = False, **knobs: Any) -> JsonDict:
        """Change fault knobs (after switching all off when `clear`); return the new knobs."""
        return dict(self._call("POST", "faults", json={"clear": clear, **knobs})["faults"])

    def inject(
        self,
        method: str | None = None,
        path_contains: str = "",
        count: int = 1,
        action: str = "503",
    ) -> None:
        """Fault the next `count` matching `/v2` requests with `action`."""
        body = {"method": method, "path_contains": path_contains, "count": count, "action": action}
        self._call("POST", "inject", json=body)

    def churn(self, share: float = 0.01, seed: int | None = None) -> ChurnReport:
        """Modify, create and delete about `share` of all contacts."""
        return ChurnReport.from_json(
            self._call("POST", "churn", json={"share": share, "seed": seed})
        )

    def _call(self, method: str, name: str, **kwargs: Any) -> JsonDict:
        url = f"{self.root_url}/_sandbox/{name}"
        response = self._session.request(method, url, timeout=self.timeout, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else {}
