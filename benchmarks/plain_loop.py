"""A hand-written loader as a contender: `requests` threads, a pandas frame, one DuckDB table.

It reads everything on every run: without a modified-since filter, incremental loading needs
per-customer cursors, change detection and delete inference, which is the connector's job, so
this contender runs the full load only.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import duckdb
import pandas as pd
import requests

from benchmarks.spec import ADMIN_TOKEN, RunSpec

LIVE_ROWS_SQL = """
    SELECT customer_uid, customer_contact_uid, epoch_ms(last_modified_at) FROM contacts
"""
CONTACT_FIELDS = (
    "customerContactUid",
    "firstname",
    "lastname",
    "displayName",
    "email",
    "mobile",
    "createdAt",
    "lastModifiedAt",
)

_local = threading.local()


def database() -> str:
    """Return the DuckDB file the loop writes, relative to its working folder."""
    return "plain_loop.duckdb"


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
        session.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    return session


def _all_pages(url: str, page_size: int) -> list[dict[str, Any]]:
    """Return every item of a list, stopping on the page count `totalCount` gives."""
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        response = _session().get(url, params={"pageNumber": page, "pageSize": page_size})
        response.raise_for_status()
        body = response.json()
        items.extend(body["items"])
        paging = body["paging"]
        if page >= math.ceil(paging["totalCount"] / paging["pageSize"]) or not body["items"]:
            return items
        page += 1


def _contacts(spec: RunSpec, customer_uid: str) -> list[dict[str, Any]]:
    url = f"{spec.base_url}/tenants/{spec.tenant_uid}/customers/{customer_uid}/contacts"
    rows = _all_pages(url, spec.page_size)
    return [{"customer_uid": customer_uid, **{k: c[k] for k in CONTACT_FIELDS}} for c in rows]


def load(spec: RunSpec) -> int:
    """Read the tenant list, the customers and every customer's contacts; replace the tables."""
    _session().get(f"{spec.base_url}/tenants").raise_for_status()
    customers = _all_pages(f"{spec.base_url}/tenants/{spec.tenant_uid}/customers", spec.page_size)
    uids = [str(c["customerUid"]) for c in customers]
    with ThreadPoolExecutor(spec.concurrency) as pool:
        batches = list(pool.map(lambda uid: _contacts(spec, uid), uids))
    rows = [row for batch in batches for row in batch]
    contacts = pd.DataFrame(rows, columns=["customer_uid", *CONTACT_FIELDS])
    contacts.columns = [_snake(name) for name in contacts.columns]
    for column in ("created_at", "last_modified_at"):
        contacts[column] = pd.to_datetime(contacts[column], utc=True)
    scalars = [{k: v for k, v in c.items() if not isinstance(v, list | dict)} for c in customers]
    customer_frame = pd.DataFrame(scalars)
    with duckdb.connect(database()) as connection:
        connection.register("contacts_frame", contacts)
        connection.register("customers_frame", customer_frame)
        connection.execute("CREATE OR REPLACE TABLE contacts AS SELECT * FROM contacts_frame")
        connection.execute("CREATE OR REPLACE TABLE customers AS SELECT * FROM customers_frame")
    return len(contacts)


def _snake(name: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name)
