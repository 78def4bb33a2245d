"""`flowretail push` under faults: 403 on delete, 5xx and dropped connections with a resume."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from pipelines.cli import main
from sandbox import Sandbox
from sources.flowretail.push import Outcome
from tests.test_push import CONTACT, CONTACT_COLUMNS, key_of, push, some_contacts, write_csv

CONTACTS = "/tenants/{tenantUid}/customers/{customerUid}/contacts"


def new_contacts(sb: Sandbox, count: int) -> list[dict[str, Any]]:
    """Return create rows for `count` new contacts, each under a different customer."""
    return [
        {**key_of(owner), "customer_contact_uid": f"push-new-{n}", "firstname": f"F{n}"}
        | {"lastname": f"L{n}", "email": f"new{n}@example.com"}
        for n, owner in enumerate(some_contacts(sb, count))
    ]


def contact_uids(sb: Sandbox) -> list[str]:
    """Return every contact UID in the sandbox, duplicates kept."""
    return [contact["customerContactUid"] for contact in sb.truth_contacts()]


def test_delete_without_backoffice_is_refused_once_per_tenant(
    sandbox: Sandbox, workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    doomed = some_contacts(sandbox, 5)
    (edited,) = some_contacts(sandbox, 1, tenant=1)
    rows = [{**key_of(c), "op": "delete"} for c in doomed]
    rows.append({**key_of(edited), "email": "still.pushed@example.com"})
    path = write_csv(workdir / "deletes.csv", rows, CONTACT_COLUMNS)
    sandbox.reset_counters()

    with caplog.at_level(logging.WARNING):
        summary = push(sandbox, token="sandbox-no-backoffice", input_path=path)

    assert sandbox.request_counts()[("DELETE", CONTACT)] == 1
    assert (summary.counts[Outcome.FAILED], summary.counts[Outcome.UPDATED]) == (5, 1)
    problems = summary.report.problems()
    assert {(p.reason, p.status) for p in problems} == {
        (
            f"the token lacks TENANT.BACKOFFICE in tenant {doomed[0]['tenantUid']}, which deleting "
            "contacts needs: ask the tenant admin to grant it to the integration user, then push "
            "the deletes again",
            403,
        )
    }
    assert sum("BACKOFFICE" in r.getMessage() for r in caplog.records) == 1
    problem_lines = [line for line in summary.lines() if "BACKOFFICE" in line]
    assert problem_lines == [f"  failed (403) 5 rows: {problems[0].reason}"]
    assert len(contact_uids(sandbox)) == len(set(contact_uids(sandbox)))
    assert all(c["customerContactUid"] in contact_uids(sandbox) for c in doomed)


def test_server_errors_mid_push_stop_it_and_the_next_push_resumes_without_duplicates(
    sandbox: Sandbox, workdir: Path
) -> None:
    rows = new_contacts(sandbox, 6)
    path = write_csv(workdir / "creates.csv", rows)
    failing_customer = rows[3]["customer_uid"]
    sandbox.inject("POST", f"/customers/{failing_customer}/contacts", count=6, action="503")
    before = len(contact_uids(sandbox))

    stopped = push(sandbox, input_path=path, batch_size=2)
    created_before_resume = len(contact_uids(sandbox)) - before
    planned = push(sandbox, input_path=path, dry_run=True)
    resumed = push(sandbox, input_path=path, batch_size=2)

    assert stopped.counts[Outcome.CREATED] == 3
    assert stopped.pending is not None and "answered 503" in stopped.pending
    assert "the rest stays pending: run the same push again to resume it" in stopped.lines()
    assert created_before_resume == 3
    assert planned.waiting and not planned.resumed
    assert "the next push (not a dry run) finishes it first" in planned.lines()[1]
    assert resumed.resumed and resumed.pending is None
    # The resumed batch repeats row 3 (already created), then rows 4-6; then the new input.
    assert (resumed.counts[Outcome.CREATED], resumed.counts[Outcome.UNCHANGED]) == (3, 7)
    uids = contact_uids(sandbox)
    assert len(uids) == before + 6 and len(set(uids)) == len(uids)
    for row in rows:
        assert uids.count(row["customer_contact_uid"]) == 1


@pytest.mark.parametrize("taken_status", [409, 400])
def test_dropped_answer_to_a_create_still_makes_one_contact(
    sandbox_factory: Any, workdir: Path, taken_status: int
) -> None:
    sandbox = sandbox_factory(taken_uid_status=taken_status)
    (row,) = new_contacts(sandbox, 1)
    path = write_csv(workdir / "create.csv", [row])
    sandbox.inject("POST", "/contacts", count=1, action="drop_after_write")
    sandbox.reset_counters()

    summary = push(sandbox, input_path=path)

    assert summary.counts[Outcome.CREATED] == 1 and summary.problems == 0
    assert sandbox.request_counts()[("POST", CONTACTS)] == 2
    assert contact_uids(sandbox).count(row["customer_contact_uid"]) == 1


def test_dropped_connections_through_every_retry_resume_without_duplicates(
    sandbox: Sandbox, workdir: Path
) -> None:
    rows = new_contacts(sandbox, 2)
    path = write_csv(workdir / "creates.csv", rows)
    sandbox.inject("POST", "/contacts", count=6, action="drop_after_write")

    # One worker, so that the first create meets all six dropped answers.
    stopped = push(sandbox, input_path=path, workers=1)
    resumed = push(sandbox, input_path=path)

    assert stopped.pending is not None and "failed 6 times" in stopped.pending
    assert resumed.resumed and resumed.pending is None and resumed.problems == 0
    uids = contact_uids(sandbox)
    assert [uids.count(row["customer_contact_uid"]) for row in rows] == [1, 1]


def test_expired_token_fails_before_anything_is_sent_or_left_pending(
    sandbox: Sandbox,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SOURCES__FLOWRETAIL__BASE_URL", sandbox.base_url)
    monkeypatch.setenv("SOURCES__FLOWRETAIL__ACCESS_TOKEN", "sandbox-expired")
    path = write_csv(workdir / "create.csv", new_contacts(sandbox, 1))
    sandbox.reset_counters()

    code = main(["push", "contacts", "--input", str(path)])

    err = capsys.readouterr().err
    assert code == 2
    assert "answered 401" in err and "sandbox-expired" not in err
    assert sandbox.request_counts() == {("GET", "/tenants"): 1}
    assert not (workdir / "dlt_data" / "pipelines" / "flowretail_push_contacts").exists()
