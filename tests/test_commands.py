"""The `flowretail` commands of the extract: check, load and demo, run as a user would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb

from sandbox import Sandbox
from tests.loadhelp import assert_matches_truth


def _flowretail(
    args: list[str], sb: Sandbox, token: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "SOURCES__FLOWRETAIL__BASE_URL": sb.base_url,
        "SOURCES__FLOWRETAIL__ACCESS_TOKEN": token,
        "SOURCES__FLOWRETAIL__PAGE_SIZE": "10",
    }
    command = [sys.executable, "-m", "pipelines.cli", *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_check_reports_tenants_permissions_and_sorting(sandbox: Sandbox, workdir: Path) -> None:
    result = _flowretail(["check"], sandbox, "sandbox-no-backoffice", workdir)

    assert result.returncode == 0, result.stderr
    for tenant in sandbox.tenants():
        assert f"tenant {tenant['tenantUid']} ({tenant['name']}): 40 customers" in result.stdout
    assert result.stdout.count("delete contacts: no (TENANT.BACKOFFICE missing") == 2
    assert result.stdout.count("sorts contacts by lastModifiedAt: yes") == 2
    assert not list(workdir.iterdir())


def test_check_names_a_listed_tenant_the_token_cannot_read(sandbox: Sandbox, workdir: Path) -> None:
    result = _flowretail(["check"], sandbox, "sandbox-lists-foreign", workdir)

    assert result.returncode == 0, result.stderr
    assert result.stdout.count("read contacts: yes") == 1
    assert result.stdout.count("read contacts: no (403: TENANT.ACCESS missing") == 1


def test_check_with_an_expired_token_says_what_to_do(sandbox: Sandbox, workdir: Path) -> None:
    result = _flowretail(["check"], sandbox, "sandbox-expired", workdir)

    assert result.returncode == 2
    assert "401" in result.stderr and "set a valid token" in result.stderr
    assert "sandbox-expired" not in result.stderr


def test_load_command_logs_each_request_without_the_token(sandbox: Sandbox, workdir: Path) -> None:
    result = _flowretail(["-vv", "load"], sandbox, "sandbox-admin", workdir)

    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"GET http://127\.0\.0\.1:\d+/v2/tenants/[\w-]+/customers\?", result.stderr)
    assert "sandbox-admin" not in result.stderr + result.stdout
    assert re.search(r"^contacts\s+(\d+)\s+\1\s+0\s+0$", result.stdout, re.MULTILINE)
    assert_matches_truth(sandbox)


def test_load_while_a_reader_holds_the_warehouse_exits_75_and_the_next_run_catches_up(
    sandbox: Sandbox, workdir: Path
) -> None:
    assert _flowretail(["load"], sandbox, "sandbox-admin", workdir).returncode == 0
    sandbox.churn(0.2)

    with duckdb.connect(str(workdir / "flowretail_warehouse.duckdb"), read_only=True):
        busy = _flowretail(["load"], sandbox, "sandbox-admin", workdir)
    again = _flowretail(["load"], sandbox, "sandbox-admin", workdir)

    assert busy.returncode == 75, busy.stderr[-2000:]
    assert "is open in another process" in busy.stderr
    assert len(busy.stderr.strip().splitlines()) == 1
    assert again.returncode == 0, again.stderr[-2000:]
    assert_matches_truth(sandbox)


def test_load_command_refuses_an_unknown_tenant(sandbox: Sandbox, workdir: Path) -> None:
    result = _flowretail(["load", "--tenant", "nope"], sandbox, "sandbox-admin", workdir)

    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("flowretail load: ")
    assert "nope" in result.stderr and "not reachable" in result.stderr


def test_demo_loads_changes_and_matches_the_sandbox(workdir: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pipelines.cli",
        "demo",
        "--customers",
        "40",
        "--latency-ms",
        "0",
    ]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r"live contacts in \S+: (\d+) \(the API has (\d+)\)", result.stdout)
    assert found and found.group(1) == found.group(2)
    assert "== incremental load" in result.stdout
