"""Where push rows come from (a CSV or Parquet file, or a query on the loaded dataset).

Also fills in each contact row's conflict base, the `last_modified_at` of the loaded copy, and
checks the whole input before anything is sent: invalid rows and rows naming the same contact
(or the same extension) twice are rejected here.
"""

from __future__ import annotations

import csv
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ..errors import ConfigError
from ..warehouse import Warehouse
from .changes import (
    ContactKey,
    InvalidRow,
    contact_change,
    duplicates,
    extension_change,
    text,
)
from .outcomes import Kind, Outcome, PushReport, Result

logger = logging.getLogger(__name__)

_READ_ONLY = re.compile(r"^\s*(select|with|from)\b", re.IGNORECASE)


def read_file(path: str | Path) -> list[dict[str, Any]]:
    """Read the rows of a CSV (UTF-8, header row) or Parquet file; column names lower-cased."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"push input {file} does not exist or is not a file")
    suffix = file.suffix.lower()
    if suffix == ".csv":
        with file.open(newline="", encoding="utf-8-sig") as handle:
            rows: list[dict[str, Any]] = list(csv.DictReader(handle))
    elif suffix in (".parquet", ".pq"):
        rows = pq.read_table(file).to_pylist()
    else:
        raise ConfigError(f"push input {file.name} must be a .csv or .parquet file")
    return [_clean_names(row) for row in rows]


def read_query(pipeline: Any, sql: str) -> list[dict[str, Any]]:
    """Run a SELECT on the loaded dataset and return its rows; column names lower-cased."""
    if not _READ_ONLY.match(sql):
        raise ConfigError("--query must be a SELECT (or WITH ... SELECT) on the loaded dataset")
    try:
        with pipeline.sql_client() as client, client.execute_query(sql) as cursor:
            columns = [column[0] for column in cursor.description]
            rows = [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
    except Exception as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"the push query failed on the loaded dataset: {first_line}") from exc
    return [_clean_names(row) for row in rows]


def _clean_names(row: Mapping[Any, Any]) -> dict[str, Any]:
    # dlt's own columns (from `SELECT *`) would clash with the push pipeline's.
    names = {name: str(name).strip().lower() for name in row if name is not None}
    return {clean: row[name] for name, clean in names.items() if not clean.startswith("_dlt_")}


@dataclass
class Prepared:
    """The rows that passed the checks, ready for the push pipeline.

    Attributes:
        rows: Valid rows; contact rows carry `last_modified_at` when the warehouse knows it.
        without_base: Contact rows the warehouse holds no copy of: no conflict check for them.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    without_base: int = 0


def prepare(
    kind: Kind, rows: list[dict[str, Any]], report: PushReport, warehouse: Warehouse | None
) -> Prepared:
    """Reject invalid and duplicate rows into `report`, fill in bases, return the rest."""
    parse: Callable[[Mapping[str, Any]], Any] = (
        contact_change if kind == "contact" else extension_change
    )
    valid: list[tuple[dict[str, Any], Any]] = []
    for row in rows:
        try:
            valid.append((row, parse(row)))
        except InvalidRow as exc:
            report.add(_rejected(kind, row, str(exc)))
    identity = _contact_identity if kind == "contact" else _extension_identity
    twice = duplicates(identity(change) for _, change in valid)
    prepared = Prepared()
    for row, change in valid:
        if identity(change) in twice:
            reason = "the push names this contact more than once; keep one row per change"
            report.add(_rejected(kind, row, reason))
        else:
            prepared.rows.append(row)
    if kind == "contact":
        prepared.without_base = _fill_bases(prepared.rows, warehouse)
    logger.info(
        "%d %s rows to push, %d rejected before sending",
        len(prepared.rows),
        kind,
        len(report.problems()),
    )
    return prepared


def _contact_identity(change: Any) -> object:
    return change.key


def _extension_identity(change: Any) -> object:
    return (change.key, change.code)


def _rejected(kind: Kind, row: Mapping[str, Any], reason: str) -> Result:
    op = text(row.get("op")) or ("upsert" if kind == "contact" else "")
    return Result(kind, op, Outcome.REJECTED, row, reason=reason)


def _fill_bases(rows: list[dict[str, Any]], warehouse: Warehouse | None) -> int:
    """Set `last_modified_at` from the loaded copy where a row lacks it; count rows left without."""
    missing = [row for row in rows if row.get("last_modified_at") in (None, "")]
    by_tenant: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in missing:
        key = _key(row)
        by_tenant[key.tenant_uid].append((key.customer_uid, key.customer_contact_uid))
    held: dict[ContactKey, Any] = {}
    if warehouse is not None:
        for tenant_uid, keys in by_tenant.items():
            for copy in warehouse.contact_rows(tenant_uid, keys):
                held[_key(copy)] = copy["last_modified_at"]
    for row in missing:
        row["last_modified_at"] = held.get(_key(row))
    return sum(1 for row in missing if row["last_modified_at"] is None)


def _key(row: Mapping[str, Any]) -> ContactKey:
    return ContactKey(
        str(row["tenant_uid"]).strip(),
        str(row["customer_uid"]).strip(),
        str(row["customer_contact_uid"]).strip(),
    )
