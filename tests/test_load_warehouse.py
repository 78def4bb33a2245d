"""The same end-to-end checks on a real PostgreSQL server, and a run killed midway."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest

from sandbox import Sandbox
from tests.loadhelp import (
    CONTACTS_SQL,
    EXTENSIONS_SQL,
    assert_matches_truth,
    load,
    truth_contacts,
    truth_extensions,
    warehouse_contacts,
)


def _postgres_rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'UTC'")
        cursor.execute(sql)
        return list(cursor.fetchall())


def test_postgres_full_and_incremental_equal_ground_truth(
    sandbox: Sandbox, workdir: Path, postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_database)
    load(sandbox, destination="postgres")
    report = sandbox.churn(0.2)

    summary = load(sandbox, destination="postgres")

    assert warehouse_contacts(_postgres_rows(postgres_database, CONTACTS_SQL)) == truth_contacts(
        sandbox
    )
    assert set(_postgres_rows(postgres_database, EXTENSIONS_SQL)) == truth_extensions(sandbox)
    assert summary.tables["contacts"].deleted == len(report.deleted)


def test_run_killed_midway_then_rerun_loses_and_doubles_nothing(
    sandbox_factory: object, workdir: Path
) -> None:
    sb = sandbox_factory(customers=120, latency_ms=15)  # type: ignore[operator]
    load(sb)
    sb.churn(0.3)
    env = os.environ | {
        "SOURCES__FLOWRETAIL__BASE_URL": sb.base_url,
        "SOURCES__FLOWRETAIL__ACCESS_TOKEN": "sandbox-admin",
        "SOURCES__FLOWRETAIL__PAGE_SIZE": "7",
        "SOURCES__FLOWRETAIL__CONCURRENCY": "2",
    }
    command = [sys.executable, "-m", "pipelines.cli", "load"]
    runner = subprocess.Popen(command, env=env, cwd=workdir, stderr=subprocess.PIPE)
    time.sleep(1.5)
    assert runner.poll() is None, "the load ended before it could be killed"
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=30)

    finished = subprocess.run(command, env=env, cwd=workdir, capture_output=True, timeout=300)

    assert finished.returncode == 0, finished.stderr.decode()
    assert_matches_truth(sb)
