"""`flowretail check`: reach the API, validate the token, and report what it can do.

Nothing is loaded and nothing is changed: the permission probe deletes a contact UID that
cannot exist, so the answer (403 or 404) tells whether the token may delete.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from dataclasses import dataclass
from typing import Any

import dlt

from sources.flowretail.client import FlowRetailClient
from sources.flowretail.customers import CUSTOMERS_PATH, TENANTS_PATH
from sources.flowretail.errors import FlowRetailError, NotFound, PermissionDenied
from sources.flowretail.rows import parse_timestamp
from sources.flowretail.settings import PRODUCTION_URL, Settings
from sources.flowretail.walk import CONTACTS_PATH

from .common import EXIT_FAILED, EXIT_OK, exit_code_for, one_line

CONTACT_PATH = CONTACTS_PATH + "/{customerContactUid}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of `flowretail check`."""
    parser.add_argument("--tenant", action="append", default=None, metavar="UID")


@dataclass
class TenantReport:
    """What the check found for one tenant."""

    tenant_uid: str
    name: str
    customers: int | None = None
    can_read: str = "yes"
    can_delete: str = "unknown"
    sorted_by_last_modified: str = "unknown"


def check(settings: Settings) -> list[TenantReport]:
    """Probe the API with the configured token and report per tenant."""
    client = FlowRetailClient(settings.base_url, settings.access_token, page_size=100)
    tenants = [t for page in client.pages(TENANTS_PATH) for t in page.items]
    reports = []
    for tenant in tenants:
        uid = str(tenant.get("tenantUid"))
        if settings.tenants and uid not in settings.tenants:
            continue
        report = TenantReport(uid, str(tenant.get("name", "")))
        try:
            first_page = next(client.pages(CUSTOMERS_PATH, tenantUid=uid), None)
        except PermissionDenied:
            report.can_read = "no (403: TENANT.ACCESS missing; a load of every tenant skips it)"
            reports.append(report)
            continue
        customers = first_page.items if first_page else []
        report.customers = first_page.total_count if first_page else 0
        if customers:
            report.can_delete = _probe_delete(client, uid, str(customers[0]["customerUid"]))
            report.sorted_by_last_modified = _probe_sort(client, uid, customers)
        reports.append(report)
    return reports


def _probe_delete(client: FlowRetailClient, tenant_uid: str, customer_uid: str) -> str:
    uids = {
        "tenantUid": tenant_uid,
        "customerUid": customer_uid,
        "customerContactUid": f"flowretail-check-{uuid.uuid4().hex}",
    }
    try:
        client.request("DELETE", CONTACT_PATH, **uids)
    except PermissionDenied:
        return "no (TENANT.BACKOFFICE missing: pushes cannot delete contacts)"
    except NotFound:
        return "yes"
    return "yes"


def _probe_sort(client: FlowRetailClient, tenant_uid: str, customers: list[dict[str, Any]]) -> str:
    for customer in customers:
        params = {"sortBy": "lastModifiedAt", "sortDirection": "DESC", "pageSize": 100}
        uids = {"tenantUid": tenant_uid, "customerUid": str(customer["customerUid"])}
        page = next(client.pages(CONTACTS_PATH, params, **uids), None)
        if page is not None and not page.sorted:
            return "no (the API refuses sortBy=lastModifiedAt; every customer is walked in full)"
        stamps = [parse_timestamp(c["lastModifiedAt"]) for c in (page.items if page else [])]
        if len(set(stamps)) > 1:
            ordered = all(a >= b for a, b in zip(stamps, stamps[1:], strict=False))
            return "yes" if ordered else "no (every customer will be walked in full)"
    return "unknown (no customer on the first page has two contacts)"


def run(args: argparse.Namespace) -> int:
    """Run `flowretail check` and print the report."""
    try:
        settings = Settings.validate(
            base_url=dlt.config.get("sources.flowretail.base_url") or PRODUCTION_URL,
            access_token=dlt.secrets.get("sources.flowretail.access_token") or "",
            tenants=args.tenant or dlt.config.get("sources.flowretail.tenants") or [],
            page_size=100,
            concurrency=1,
            lookback_seconds=0,
            max_delete_share=0.25,
        )
        reports = check(settings)
    except FlowRetailError as exc:
        print(f"flowretail check: {one_line(exc)}", file=sys.stderr)
        return exit_code_for(exc)
    print(f"API {settings.base_url}: reachable, token accepted")
    if not reports:
        print("the token reaches no tenant")
        return EXIT_FAILED
    for report in reports:
        print(f"tenant {report.tenant_uid} ({report.name}): {report.customers} customers")
        print(f"  read contacts: {report.can_read}; delete contacts: {report.can_delete}")
        print(f"  sorts contacts by lastModifiedAt: {report.sorted_by_last_modified}")
    return EXIT_OK
