"""End-to-end tests of `flowretail push` against the sandbox: round trip, idempotence, dry runs,
conflicts, invalid rows and extensions."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import dlt
import pytest

from pipelines.cli import main
from pipelines.push import PushSummary, run_push
from sandbox import Sandbox
from sources.flowretail.client import FlowRetailClient, RetryPolicy
from sources.flowretail.push import (
    Outcome,
    PushSession,
    contacts_destination,
    extensions_destination,
)
from tests.loadhelp import assert_matches_truth, load, query

FAST = RetryPolicy(backoff_seconds=0.01, max_delay_seconds=0.05)
CONTACT_COLUMNS = ["tenant_uid", "customer_uid", "customer_contact_uid"]
CONTACT_COLUMNS += ["firstname", "lastname", "email", "mobile", "op"]
CONTACT = "/tenants/{tenantUid}/customers/{customerUid}/contacts/{customerContactUid}"
EXTENSION = CONTACT + "/extensions/{customerExtensionCode}"
REJECTIONS_SQL = (
    "SELECT outcome, op, customer_contact_uid, reason, http_status, row_json "
    "FROM flowretail.push_rejections ORDER BY rejected_at, customer_contact_uid"
)


def options(sb: Sandbox, token: str = "sandbox-admin") -> dict[str, str]:
    """Return the push's source options for the sandbox."""
    return {"base_url": sb.base_url, "access_token": token}


def push(
    sb: Sandbox, kind: str = "contacts", token: str = "sandbox-admin", **kw: Any
) -> PushSummary:
    """Push with fast retries against the sandbox."""
    return run_push(kind, source_options=options(sb, token), retry=FAST, **kw)


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str] | None = None) -> Path:
    """Write rows as a CSV file with a header; missing cells stay empty."""
    names = columns or list(dict.fromkeys(name for row in rows for name in row))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)
    return path


def contacts_by_uid(sb: Sandbox) -> dict[str, dict[str, Any]]:
    """Return the sandbox's contacts by contact UID."""
    return {contact["customerContactUid"]: contact for contact in sb.truth_contacts()}


def key_of(contact: dict[str, Any]) -> dict[str, str]:
    """Return the key columns of a push row for a ground-truth contact."""
    return {
        "tenant_uid": contact["tenantUid"],
        "customer_uid": contact["customerUid"],
        "customer_contact_uid": contact["customerContactUid"],
    }


def writes(sb: Sandbox) -> dict[tuple[str, str], int]:
    """Return the sandbox's write requests by (method, route) since the last reset."""
    return {route: n for route, n in sb.request_counts().items() if route[0] != "GET"}


def some_contacts(sb: Sandbox, count: int, tenant: int = 0) -> list[dict[str, Any]]:
    """Return `count` contacts of one tenant with distinct customers and well-formed emails."""
    tenant_uid = sb.tenants()[tenant]["tenantUid"]
    chosen: dict[str, dict[str, Any]] = {}
    for contact in sb.truth_contacts(tenant_uid):
        if "@" in contact["email"] and contact["customerUid"] not in chosen:
            chosen[contact["customerUid"]] = contact
    return list(chosen.values())[:count]


def test_round_trip_from_query_puts_the_intended_state_in_the_warehouse(
    sandbox: Sandbox, workdir: Path
) -> None:
    load(sandbox)
    fix_a, fix_b, gone = some_contacts(sandbox, 3)
    sql = f"""
        SELECT tenant_uid, customer_uid, customer_contact_uid,
               NULL AS firstname, NULL AS lastname,
               'fixed.' || customer_contact_uid || '@example.com' AS email,
               CASE WHEN customer_contact_uid = '{gone["customerContactUid"]}'
                    THEN 'delete' ELSE 'upsert' END AS op,
               last_modified_at
        FROM flowretail.contacts
        WHERE customer_contact_uid IN ('{fix_a["customerContactUid"]}',
              '{fix_b["customerContactUid"]}', '{gone["customerContactUid"]}')
        UNION ALL
        SELECT '{fix_a["tenantUid"]}', '{fix_a["customerUid"]}', 'push-new-1',
               'Ann', 'Lee', 'ann.lee@example.com', 'upsert', NULL
    """

    summary = push(sandbox, query=sql)
    load(sandbox)

    assert [summary.counts[o] for o in (Outcome.CREATED, Outcome.UPDATED, Outcome.DELETED)] == [
        1,
        2,
        1,
    ]
    assert summary.problems == 0
    assert_matches_truth(sandbox)
    loaded = {
        row[0]: row[1:]
        for row in query(
            "SELECT customer_contact_uid, firstname, lastname, email, deleted_at IS NOT NULL "
            "FROM flowretail.contacts"
        )
    }
    for contact in (fix_a, fix_b):
        uid = contact["customerContactUid"]
        expected = (contact["firstname"], contact["lastname"], f"fixed.{uid}@example.com", False)
        assert loaded[uid] == expected
    assert loaded["push-new-1"] == ("Ann", "Lee", "ann.lee@example.com", False)
    assert loaded[gone["customerContactUid"]][3] is True


def test_second_identical_push_changes_nothing(sandbox: Sandbox, workdir: Path) -> None:
    first, second, third = some_contacts(sandbox, 3)
    rows = [
        {**key_of(first), "email": "first.fixed@example.com"},
        {**key_of(second), "firstname": "Kari", "lastname": "Nordmann"},
        {**key_of(third), "op": "delete"},
        {
            **key_of(first),
            "customer_contact_uid": "push-new-2",
            "firstname": "Ola",
            "lastname": "Nor",
        },
    ]
    path = write_csv(workdir / "changes.csv", rows, CONTACT_COLUMNS)
    done = push(sandbox, input_path=path)
    after_first = sandbox.truth_contacts()
    sandbox.reset_counters()

    again = push(sandbox, input_path=path)

    assert [done.counts[o] for o in (Outcome.CREATED, Outcome.UPDATED, Outcome.DELETED)] == [
        1,
        2,
        1,
    ]
    assert again.counts[Outcome.UNCHANGED] == 4
    assert again.problems == 0
    assert writes(sandbox) == {}
    assert sandbox.truth_contacts() == after_first
    assert sum(c["customerContactUid"] == "push-new-2" for c in after_first) == 1


def test_dry_run_prints_the_plan_and_sends_nothing(
    sandbox: Sandbox,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SOURCES__FLOWRETAIL__BASE_URL", sandbox.base_url)
    monkeypatch.setenv("SOURCES__FLOWRETAIL__ACCESS_TOKEN", "sandbox-admin")
    update, delete = some_contacts(sandbox, 2)
    rows = [
        {**key_of(update), "email": "planned@example.com", "mobile": update["mobile"]},
        {**key_of(delete), "op": "delete"},
        {**key_of(update), "customer_contact_uid": "push-new-3", "firstname": "A", "lastname": "B"},
        {**key_of(update), "customer_contact_uid": "push-new-4", "firstname": "Only"},
    ]
    path = write_csv(workdir / "plan.csv", rows, CONTACT_COLUMNS)
    before = sandbox.truth_contacts()
    sandbox.reset_counters()

    code = main(["push", "contacts", "--input", str(path), "--dry-run"])

    out = capsys.readouterr().out
    assert code == 1
    assert writes(sandbox) == {}
    assert sandbox.truth_contacts() == before
    assert "created (1)\n  upsert " in out and "/push-new-3: firstname, lastname" in out
    assert f"updated (1)\n  upsert {'/'.join(key_of(update).values())}: email\n" in out
    assert "deleted (1)" in out
    assert "push-new-4: the contact does not exist, and creating it needs lastname" in out
    assert "1 created, 1 updated, 1 deleted, 0 unchanged, 0 conflict, 1 rejected" in out
    assert not (workdir / "flowretail_warehouse.duckdb").exists() or not query(
        "SELECT table_name FROM information_schema.tables WHERE table_name = 'push_rejections'"
    )


def test_conflict_skips_a_contact_changed_since_the_loaded_copy_and_force_overrides(
    sandbox: Sandbox, workdir: Path
) -> None:
    load(sandbox)
    stale, rebased = some_contacts(sandbox, 2)
    client = FlowRetailClient(sandbox.base_url, "sandbox-admin")
    for contact in (stale, rebased):
        client.request("PUT", CONTACT, json={"mobile": "+4799999999"}, **uids(contact))
    newer = contacts_by_uid(sandbox)[rebased["customerContactUid"]]["lastModifiedAt"]
    rows = [
        {**key_of(stale), "email": "stale.edit@example.com"},
        {**key_of(rebased), "email": "rebased.edit@example.com", "last_modified_at": newer},
    ]
    path = write_csv(workdir / "edits.csv", rows)
    sandbox.reset_counters()

    summary = push(sandbox, input_path=path)
    puts_without_force = writes(sandbox)
    forced = push(sandbox, input_path=path, force=True)

    assert (summary.counts[Outcome.CONFLICT], summary.counts[Outcome.UPDATED]) == (1, 1)
    assert puts_without_force == {("PUT", CONTACT): 1}
    rejection = query(REJECTIONS_SQL)
    assert [(r[0], r[2], r[4]) for r in rejection] == [
        ("conflict", stale["customerContactUid"], None)
    ]
    assert "changed in Flow Retail at" in rejection[0][3] and "--force" in rejection[0][3]
    assert json.loads(rejection[0][5])["email"] == "stale.edit@example.com"
    assert (forced.counts[Outcome.UPDATED], forced.counts[Outcome.UNCHANGED]) == (1, 1)
    truth = contacts_by_uid(sandbox)
    assert truth[stale["customerContactUid"]]["email"] == "stale.edit@example.com"
    assert truth[rebased["customerContactUid"]]["email"] == "rebased.edit@example.com"


def uids(contact: dict[str, Any]) -> dict[str, str]:
    """Return the path parameters of a ground-truth contact."""
    return {
        "tenantUid": contact["tenantUid"],
        "customerUid": contact["customerUid"],
        "customerContactUid": contact["customerContactUid"],
    }


def test_invalid_rows_are_rejected_before_anything_is_sent(
    sandbox: Sandbox,
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCES__FLOWRETAIL__BASE_URL", sandbox.base_url)
    monkeypatch.setenv("SOURCES__FLOWRETAIL__ACCESS_TOKEN", "sandbox-admin")
    (contact,) = some_contacts(sandbox, 1)
    key = key_of(contact)
    rows = [
        {**key, "customer_contact_uid": "bad uid!", "firstname": "A", "lastname": "B"},
        {**key, "customer_contact_uid": "", "firstname": "A", "lastname": "B"},
        {**key, "customer_contact_uid": "push-bad-email", "email": "no-at-sign.example"},
        {**key, "customer_contact_uid": "push-bad-op", "op": "merge"},
        {**key, "customer_contact_uid": "push-twice", "firstname": "A", "lastname": "B"},
        {**key, "customer_contact_uid": "push-twice", "firstname": "C", "lastname": "D"},
    ]
    path = write_csv(workdir / "invalid.csv", rows, CONTACT_COLUMNS)
    before = sandbox.truth_contacts()
    sandbox.reset_counters()

    code = main(["push", "contacts", "--input", str(path)])

    err = capsys.readouterr().err
    assert code == 1
    assert "6 rows not pushed (conflict, rejected or failed): see push_rejections" in err
    assert sandbox.request_counts() == {("GET", "/tenants"): 1}
    assert sandbox.truth_contacts() == before
    reasons = {(r[2], r[3]) for r in query(REJECTIONS_SQL)}
    assert reasons == {
        (
            "bad uid!",
            "customer_contact_uid 'bad uid!' is not a UID (letters, digits, - and _ only)",
        ),
        (None, "customer_contact_uid is missing (choose one for a new contact, e.g. a UUID)"),
        (
            "push-bad-email",
            "email is not an address like name@example.com; leave it empty to keep it",
        ),
        ("push-bad-op", "op must be upsert or delete, got merge"),
        ("push-twice", "the push names this contact more than once; keep one row per change"),
    }
    assert [r[0] for r in query(REJECTIONS_SQL)] == ["rejected"] * 6


def test_extensions_are_added_and_removed_once(sandbox: Sandbox, workdir: Path) -> None:
    with_code = next(c for c in sandbox.truth_contacts() if c["extensions"])
    without = next(c for c in sandbox.truth_contacts() if not c["extensions"])
    rows = [
        {**key_of(without), "extension_code": "TWO_INVOICE", "store_uid": "store-1", "op": "add"},
        {
            **key_of(with_code),
            "extension_code": "TWO_INVOICE",
            "store_uid": "store-1",
            "op": "remove",
        },
        {**key_of(without), "extension_code": "KLARNA", "store_uid": "store-1", "op": "add"},
    ]
    path = write_csv(workdir / "extensions.csv", rows)
    sandbox.reset_counters()

    first = push(sandbox, "extensions", input_path=path)
    first_writes = writes(sandbox)
    sandbox.reset_counters()
    second = push(sandbox, "extensions", input_path=path)

    assert (first.counts[Outcome.ADDED], first.counts[Outcome.REMOVED]) == (1, 1)
    assert first_writes == {("POST", EXTENSION): 1, ("DELETE", EXTENSION): 1}
    assert (second.counts[Outcome.UNCHANGED], second.counts[Outcome.REJECTED]) == (2, 1)
    assert writes(sandbox) == {}
    truth = contacts_by_uid(sandbox)
    assert [e["extensionCode"] for e in truth[without["customerContactUid"]]["extensions"]] == [
        "TWO_INVOICE"
    ]
    assert truth[with_code["customerContactUid"]]["extensions"] == []
    assert [r[3] for r in query(REJECTIONS_SQL)] == [
        "extension_code must be one of TWO_INVOICE, got KLARNA"
    ] * 2


def test_any_dlt_pipeline_can_push_through_the_destinations(
    sandbox: Sandbox, workdir: Path
) -> None:
    contact = next(c for c in some_contacts(sandbox, 10) if not c["extensions"])
    session = PushSession.connect(sandbox.base_url, "sandbox-admin", retry=FAST)
    contacts = dlt.pipeline(
        "my_contacts_push",
        destination=contacts_destination(session),
        pipelines_dir=str(workdir / "pipelines"),
    )
    extensions = dlt.pipeline(
        "my_extensions_push",
        destination=extensions_destination(session),
        pipelines_dir=str(workdir / "pipelines"),
    )
    rows = [{**key_of(contact), "mobile": "+4791234567"}, {**key_of(contact), "op": "merge"}]
    enable = {**key_of(contact), "extension_code": "TWO_INVOICE", "store_uid": "s-1", "op": "add"}

    contacts.run(rows, table_name="contacts_to_fix")
    extensions.run([enable], table_name="extensions_to_enable")
    session.close()

    assert [(r.kind, r.outcome) for r in session.report.results()] == [
        ("contact", Outcome.UPDATED),
        ("contact", Outcome.REJECTED),
        ("extension", Outcome.ADDED),
    ]
    pushed = contacts_by_uid(sandbox)[contact["customerContactUid"]]
    assert pushed["mobile"] == "+4791234567"
    assert [e["extensionCode"] for e in pushed["extensions"]] == ["TWO_INVOICE"]
