"""Read what the warehouse already holds, to tell which contacts the API has deleted.

The API has no change feed and deleted contacts simply vanish, so a delete shows only as a
difference between what the warehouse holds as live and what a full walk of the API returns.
Reads go through the running pipeline's SQL client; a destination without one (or a first run,
before the tables exist) holds nothing and deletes are not inferred.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import dlt
from dlt.common.destination.exceptions import DestinationUndefinedEntity, SqlClientNotAvailable

from .client import UID_PATTERN
from .rows import CONTACT_SCHEMA

logger = logging.getLogger(__name__)

CHUNK = 500


def _literal(uid: str) -> str:
    # UIDs are validated against the API's pattern, so quoting them inline is safe and keeps the
    # SQL portable across destinations whose drivers disagree on placeholders.
    if not UID_PATTERN.match(uid):
        raise ValueError(f"{uid!r} is not a valid UID")
    return f"'{uid}'"


class Warehouse:
    """The warehouse copy of one pipeline, read through its SQL client."""

    def __init__(self, pipeline: Any) -> None:
        self._pipeline = pipeline

    @classmethod
    def of_current_pipeline(cls) -> Warehouse | None:
        """Return the warehouse of the pipeline running this extract, if it can be queried."""
        try:
            pipeline = dlt.current.pipeline()
        except Exception:
            return None
        if pipeline is None or pipeline.destination is None:
            return None
        warehouse = cls(pipeline)
        try:
            warehouse._query("SELECT 1")
        except SqlClientNotAvailable:
            logger.warning(
                "destination %s cannot be queried: deleted contacts will not be marked",
                pipeline.destination.destination_name,
            )
            return None
        return warehouse

    def _query(self, sql: str) -> list[Sequence[Any]]:
        with self._pipeline.sql_client() as client:
            return list(client.execute_sql(sql) or [])

    def _select(self, table: str, columns: str, where: str) -> list[Sequence[Any]]:
        with self._pipeline.sql_client() as client:
            name = client.make_qualified_table_name(table)
            try:
                return list(client.execute_sql(f"SELECT {columns} FROM {name} WHERE {where}") or [])
            except DestinationUndefinedEntity:
                return []

    def live_counts(self, tenant_uid: str) -> dict[str, int]:
        """Return the number of live contacts held per customer of the tenant."""
        rows = self._select(
            "contacts",
            "customer_uid, COUNT(*)",
            f"tenant_uid = {_literal(tenant_uid)} AND deleted_at IS NULL GROUP BY customer_uid",
        )
        return {str(customer): int(count) for customer, count in rows}

    def live_keys(self, tenant_uid: str) -> dict[str, set[str]]:
        """Return the live contact UIDs held per customer of the tenant."""
        # NOTE: this holds every live contact key of the tenant in memory (about 100 bytes a
        # contact); only a reconcile or a run without a cursor needs it.
        keys: dict[str, set[str]] = defaultdict(set)
        where = f"tenant_uid = {_literal(tenant_uid)} AND deleted_at IS NULL"
        for customer, contact in self._select(
            "contacts", "customer_uid, customer_contact_uid", where
        ):
            keys[str(customer)].add(str(contact))
        return keys

    def live_uids(self, tenant_uid: str, customer_uid: str) -> set[str]:
        """Return the live contact UIDs held for one customer."""
        where = (
            f"tenant_uid = {_literal(tenant_uid)} AND customer_uid = {_literal(customer_uid)}"
            " AND deleted_at IS NULL"
        )
        return {str(row[0]) for row in self._select("contacts", "customer_contact_uid", where)}

    def live_customers(self, tenant_uid: str) -> set[str]:
        """Return the UIDs of the tenant's customers held as live."""
        where = f"tenant_uid = {_literal(tenant_uid)} AND deleted_at IS NULL"
        return {str(row[0]) for row in self._select("customers", "customer_uid", where)}

    def contact_rows(
        self, tenant_uid: str, keys: Iterable[tuple[str, str]]
    ) -> Iterator[dict[str, Any]]:
        """Yield the held rows of the given (customer, contact) keys."""
        names = CONTACT_SCHEMA.names
        by_customer: dict[str, list[str]] = defaultdict(list)
        for customer_uid, contact_uid in keys:
            by_customer[customer_uid].append(contact_uid)
        for customer_uid, contact_uids in by_customer.items():
            for start in range(0, len(contact_uids), CHUNK):
                chunk = ", ".join(map(_literal, contact_uids[start : start + CHUNK]))
                where = (
                    f"tenant_uid = {_literal(tenant_uid)} AND customer_uid = "
                    f"{_literal(customer_uid)} AND customer_contact_uid IN ({chunk})"
                )
                for row in self._select("contacts", ", ".join(names), where):
                    yield dict(zip(names, row, strict=True))

    def customer_rows(self, tenant_uid: str, customer_uids: Iterable[str]) -> list[dict[str, Any]]:
        """Return the held customer rows, without dlt's own columns."""
        uids = list(customer_uids)
        rows: list[dict[str, Any]] = []
        with self._pipeline.sql_client() as client:
            name = client.make_qualified_table_name("customers")
            for start in range(0, len(uids), CHUNK):
                chunk = ", ".join(map(_literal, uids[start : start + CHUNK]))
                sql = (
                    f"SELECT * FROM {name} WHERE tenant_uid = {_literal(tenant_uid)} "
                    f"AND customer_uid IN ({chunk})"
                )
                with client.execute_query(sql) as cursor:
                    columns = [column[0] for column in cursor.description]
                    for values in cursor.fetchall():
                        rows.append(dict(zip(columns, values, strict=True)))
        json_columns = {
            name
            for name, column in self._pipeline.default_schema.get_table_columns("customers").items()
            if column.get("data_type") == "json"
        }
        return [_restore(row, json_columns) for row in rows]


def _restore(row: dict[str, Any], json_columns: set[str]) -> dict[str, Any]:
    # Some drivers hand JSON columns back as text; load them back as JSON, not as text.
    restored: dict[str, Any] = {}
    for name, value in row.items():
        if name.startswith("_dlt_"):
            continue
        restored[name] = (
            json.loads(value) if name in json_columns and isinstance(value, str) else value
        )
    return restored
