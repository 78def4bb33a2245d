"""dlt destinations that push contact rows and extension rows to Flow Retail.

Any dlt pipeline can push through them: run rows into a pipeline whose destination is one of
these, then read `session.report`. The `flowretail push` command wraps them with input reading,
conflict bases from the warehouse, a dry run and the `push_rejections` table.

NOTE: dlt stores progress after each batch and sends a failed batch again whole, first in the
same run and, once the package is left pending, in the next run. The session makes every write
repeatable. An error the client already retried (5xx, dropped connections) or one no retry can
fix (401) stops the load at once as a terminal error: the package stays pending and the next
run resumes at the batch that failed.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dlt
from dlt.common.destination.exceptions import DestinationTerminalException

from ..errors import FlowRetailError
from .changes import KEY_NAMES
from .outcomes import Result
from .writer import PushSession

logger = logging.getLogger(__name__)

# Every contact and extension column is text; without hints dlt may read "2025-01-01" in a
# name column as a date, or leave out a column that is empty in every row.
TEXT_COLUMNS = (
    "tenant_uid",
    "customer_uid",
    "customer_contact_uid",
    "firstname",
    "lastname",
    "email",
    "mobile",
    "op",
    "extension_code",
    "store_uid",
)


def contacts_destination(session: PushSession, *, batch_size: int = 50, workers: int = 8) -> Any:
    """Return a dlt destination that upserts and deletes contacts, one row per contact.

    Each batch is pushed by up to `workers` threads; one session may serve several pipelines.

    Example:
        >>> session = PushSession.connect(base_url, token)
        >>> pipeline = dlt.pipeline("my_push", destination=contacts_destination(session))
        >>> pipeline.run(rows, table_name="contacts")
        >>> session.report.counts()
    """
    return _destination("flowretail_contacts", session, session.push_contact, batch_size, workers)


def extensions_destination(session: PushSession, *, batch_size: int = 50, workers: int = 8) -> Any:
    """Return a dlt destination that adds and removes contact extensions, one row per change."""
    return _destination(
        "flowretail_extensions", session, session.push_extension, batch_size, workers
    )


def push_columns() -> dict[str, Any]:
    """Return dlt column hints for push rows: text columns and the base timestamp."""
    columns: dict[str, Any] = {
        name: {"data_type": "text", "nullable": True} for name in TEXT_COLUMNS
    }
    columns["last_modified_at"] = {"data_type": "timestamp", "timezone": True, "nullable": True}
    return columns


def push_rows(
    push: Callable[[Mapping[str, Any]], Result], rows: Sequence[Mapping[str, Any]], workers: int
) -> list[Result]:
    """Push rows with up to `workers` at once; rows of one contact go in order, one at a time.

    Raises:
        FlowRetailError: The first error no retry fixed, after the rows already started finish.
    """
    by_contact: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        by_contact.setdefault(tuple(str(row.get(name)) for name in KEY_NAMES), []).append(row)
    groups = list(by_contact.values())
    if workers <= 1 or len(groups) <= 1:
        return [push(row) for group in groups for row in group]
    with ThreadPoolExecutor(min(workers, len(groups)), thread_name_prefix="push") as pool:
        done = list(pool.map(lambda group: [push(row) for row in group], groups))
    return [result for group_results in done for result in group_results]


def _destination(
    name: str,
    session: PushSession,
    push: Callable[[Mapping[str, Any]], Result],
    batch_size: int,
    workers: int,
) -> Any:
    def push_batch(items: Any, table: Any) -> None:
        try:
            results = push_rows(push, items, workers)
        except FlowRetailError as exc:
            logger.error("%s: the push stopped in a batch of %s: %s", name, table["name"], exc)
            session.report.stopped = str(exc)
            raise DestinationTerminalException(str(exc)) from exc
        outcomes = Counter(str(result.outcome) for result in results)
        logger.info("%s: pushed %d rows of %s: %s", name, len(items), table["name"], dict(outcomes))

    factory = dlt.destination(
        push_batch, batch_size=batch_size, name=name, loader_file_format="typed-jsonl"
    )
    return factory()
