"""Checks of push rows before anything is sent: parsing, validation, duplicates, input files."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sources.flowretail.errors import ConfigError
from sources.flowretail.push import ContactKey, InvalidRow, Outcome, PushReport
from sources.flowretail.push.changes import contact_change, extension_change
from sources.flowretail.push.inputs import prepare, read_file

KEY = {"tenant_uid": "t-1", "customer_uid": "c_1", "customer_contact_uid": "k1"}


def test_empty_cells_leave_fields_unchanged_and_op_defaults_to_upsert() -> None:
    row = {**KEY, "firstname": " Ann ", "lastname": "", "email": None, "mobile": float("nan")}

    change = contact_change(row)

    assert change.key == ContactKey("t-1", "c_1", "k1")
    assert (change.op, change.fields, change.base) == ("upsert", {"firstname": "Ann"}, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-07-30T17:19:18.781Z", datetime(2025, 7, 30, 17, 19, 18, 781000, tzinfo=UTC)),
        (datetime(2025, 7, 30, 17, 19, 18), datetime(2025, 7, 30, 17, 19, 18, tzinfo=UTC)),
        ("", None),
    ],
)
def test_base_timestamp_is_read_as_utc(value: object, expected: datetime | None) -> None:
    change = contact_change({**KEY, "op": "DELETE", "last_modified_at": value})

    assert (change.op, change.base) == ("delete", expected)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({**KEY, "tenant_uid": "t/1"}, "tenant_uid 't/1' is not a UID"),
        ({**KEY, "customer_uid": None}, "customer_uid is missing"),
        ({**KEY, "email": "ann@example"}, "email is not an address"),
        ({**KEY, "op": "remove"}, "op must be upsert or delete, got remove"),
        ({**KEY, "last_modified_at": "yesterday"}, "last_modified_at is not an ISO 8601"),
        ({**KEY, "deleted_at": "2025-01-01T00:00:00Z"}, "holds as deleted (deleted_at is set)"),
    ],
)
def test_invalid_contact_rows_name_the_column_to_fix(row: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidRow, match=re.escape(reason)):
        contact_change(row)


def test_deleted_contact_may_still_be_deleted() -> None:
    change = contact_change({**KEY, "op": "delete", "deleted_at": "2025-01-01T00:00:00Z"})

    assert change.op == "delete"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (
            {**KEY, "extension_code": "two_invoice", "store_uid": "s1", "op": "add"},
            "extension_code",
        ),
        ({**KEY, "extension_code": "TWO_INVOICE", "op": "add"}, "store_uid is missing"),
        ({**KEY, "extension_code": "TWO_INVOICE", "store_uid": "s1"}, "op must be add or remove"),
    ],
)
def test_invalid_extension_rows_are_refused(row: dict[str, object], reason: str) -> None:
    with pytest.raises(InvalidRow, match=reason):
        extension_change(row)


def test_prepare_rejects_every_row_of_a_contact_named_twice() -> None:
    report = PushReport()
    rows = [
        {**KEY, "email": "a@example.com"},
        {**KEY, "email": "b@example.com"},
        {**KEY} | {"customer_contact_uid": "k2"},
    ]

    prepared = prepare("contact", rows, report, warehouse=None)

    assert [row["customer_contact_uid"] for row in prepared.rows] == ["k2"]
    assert prepared.without_base == 1
    assert [(r.outcome, r.row["email"]) for r in report.problems()] == [
        (Outcome.REJECTED, "a@example.com"),
        (Outcome.REJECTED, "b@example.com"),
    ]


def test_parquet_input_is_read_with_lower_case_names(tmp_path: Path) -> None:
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"Tenant_UID": ["t-1"], "_dlt_id": ["x"], "Email": [None]}), path)

    rows = read_file(path)

    assert rows == [{"tenant_uid": "t-1", "email": None}]


def test_unknown_input_format_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "rows.xlsx"
    path.write_bytes(b"")

    with pytest.raises(ConfigError, match="must be a .csv or .parquet file"):
        read_file(path)
