"""dlt's declarative `rest_api` source as a contender, configured the way a user would.

Customers are the parent resource and contacts a child resource per customer. The API has no
modified-since filter, so `incremental` on `lastModifiedAt` can only filter rows after they
were fetched: every run reads every page. The page-number paginator cannot use `totalCount`
(dlt reads `total_path` as a page count), so it stops on the first empty page, one extra
request per list. Extract workers are set to the benchmark's concurrency by the caller
(`EXTRACT__WORKERS`), and the child resource is `parallelized`.

NOTE: with the cursor, the first load already drops most contacts: one cursor is shared by
every customer's rows (dlt issues #2429 and #2838). A variant without the cursor shows the
cost of loading everything the way a user would after noticing.
"""

from __future__ import annotations

from typing import Any

import dlt
from dlt.sources.rest_api import rest_api_source

from benchmarks.spec import ADMIN_TOKEN, RunSpec

DATASET = "rest_api_peer"
PIPELINE = "rest_api_peer"
LIVE_ROWS_SQL = f"""
    SELECT _customers_customer_uid, customer_contact_uid,
        epoch_ms(CAST(last_modified_at AS TIMESTAMPTZ))
    FROM {DATASET}.contacts
"""


def database() -> str:
    """Return the DuckDB file the peer writes, relative to its working folder."""
    return f"{PIPELINE}_warehouse.duckdb"


def source_config(spec: RunSpec) -> dict[str, Any]:
    """Return the `rest_api` configuration for one tenant's customers and contacts."""
    customers_path = f"tenants/{spec.tenant_uid}/customers"
    contacts_endpoint: dict[str, Any] = {
        "path": customers_path + "/{resources.customers.customerUid}/contacts"
    }
    if spec.cursor:
        contacts_endpoint["incremental"] = {
            "cursor_path": "lastModifiedAt",
            "initial_value": "1970-01-01T00:00:00.000Z",
        }
    return {
        "client": {
            "base_url": spec.base_url,
            "auth": {"type": "bearer", "token": ADMIN_TOKEN},
            "paginator": {
                "type": "page_number",
                "base_page": 1,
                "page_param": "pageNumber",
                "total_path": None,
            },
        },
        "resource_defaults": {
            "write_disposition": "merge",
            "endpoint": {"data_selector": "items", "params": {"pageSize": spec.page_size}},
        },
        "resources": [
            {"name": "customers", "primary_key": "customerUid", "endpoint": customers_path},
            {
                "name": "contacts",
                "primary_key": "customerContactUid",
                "parallelized": True,
                "include_from_parent": ["customerUid"],
                "endpoint": contacts_endpoint,
            },
        ],
    }


def load(spec: RunSpec) -> int:
    """Run the `rest_api` pipeline once; return the contact rows it loaded."""
    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE,
        destination=dlt.destinations.duckdb(database()),
        dataset_name=DATASET,
        pipelines_dir="pipelines",
    )
    source = rest_api_source(source_config(spec))  # type: ignore[arg-type]
    file_format: Any = spec.file_format or None
    info = pipeline.run(source, loader_file_format=file_format)
    info.raise_on_failed_jobs()
    normalized = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    return int(normalized.row_counts.get("contacts", 0)) if normalized else 0
