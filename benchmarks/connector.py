"""This connector as a contender: `pipelines.load.run_load` into DuckDB."""

from __future__ import annotations

from benchmarks.spec import ADMIN_TOKEN, RunSpec
from pipelines.common import duckdb_path
from pipelines.load import run_load

LIVE_ROWS_SQL = """
    SELECT customer_uid, customer_contact_uid, epoch_ms(last_modified_at)
    FROM flowretail.contacts WHERE deleted_at IS NULL
"""


def database() -> str:
    """Return the DuckDB file the connector writes, relative to its working folder."""
    return duckdb_path("flowretail")


def load(spec: RunSpec) -> int:
    """Run one load (full on an empty folder, else incremental); return contact rows loaded."""
    summary = run_load(
        source_options={
            "base_url": spec.base_url,
            "access_token": ADMIN_TOKEN,
            "page_size": spec.page_size,
            "concurrency": spec.concurrency,
            "lookback_seconds": spec.lookback_seconds,
        },
        pipelines_dir="pipelines",
    )
    return summary.tables["contacts"].loaded
