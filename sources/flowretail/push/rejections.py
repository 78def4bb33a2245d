"""The `push_rejections` table: every conflicting, rejected or failed row of every push.

Rows go to the dataset of the loaded tables through a pipeline of their own, so that a full
refresh of the load (which drops the source's tables) keeps the history of rejections.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import dlt

from .outcomes import PushReport

logger = logging.getLogger(__name__)

TABLE = "push_rejections"
COLUMNS: dict[str, Any] = {
    "push_id": {"data_type": "text", "nullable": False},
    "kind": {"data_type": "text", "nullable": False},
    "op": {"data_type": "text"},
    "outcome": {"data_type": "text", "nullable": False},
    "tenant_uid": {"data_type": "text"},
    "customer_uid": {"data_type": "text"},
    "customer_contact_uid": {"data_type": "text"},
    "row_json": {"data_type": "text", "nullable": False},
    "reason": {"data_type": "text", "nullable": False},
    "http_status": {"data_type": "bigint"},
    "rejected_at": {"data_type": "timestamp", "timezone": True, "nullable": False},
}


def rejection_rows(report: PushReport) -> list[dict[str, Any]]:
    """Return the `push_rejections` rows of a push's problems."""
    now = datetime.now(UTC)
    return [result.rejection(report.push_id, now) for result in report.problems()]


def write_rejections(pipeline: Any, report: PushReport) -> int:
    """Append the push's problem rows to `push_rejections` with `pipeline`; return the count."""
    rows = rejection_rows(report)
    if not rows:
        return 0
    resource = dlt.resource(rows, name=TABLE, write_disposition="append", columns=COLUMNS)
    info = pipeline.run(resource, loader_file_format="parquet")
    info.raise_on_failed_jobs()
    logger.info("%s: %d rows of push %s", TABLE, len(rows), report.push_id)
    return len(rows)
