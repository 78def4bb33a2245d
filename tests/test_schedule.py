"""Cron safety of `flowretail load`: no overlap, a bounded run time, and JSON logs without secrets.

The loads run as real processes (`python -m pipelines.cli`) against the sandbox over HTTP and
write a real DuckDB file in the test's working folder.
"""

from __future__ import annotations

import inspect
import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import dlt
import duckdb
import pytest

from pipelines.cli import EXIT_TIMEOUT, Watchdog, build_parser
from pipelines.common import EXIT_LOCKED, EXIT_OK
from pipelines.logs import JsonFormatter, JsonLinesStream, RedactingFilter, redact
from sandbox.app import Sandbox

REPO = Path(__file__).resolve().parents[1]
TOKEN = "sandbox-admin"
SandboxFactory = Any


def load_env(sandbox: Sandbox, workdir: Path, **extra: str) -> dict[str, str]:
    """Return the environment of a `flowretail load` process against `sandbox`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "FLOWRETAIL_"))}
    return env | {
        "PYTHONPATH": str(REPO),
        "DLT_DATA_DIR": str(workdir / "dlt_data"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "SOURCES__FLOWRETAIL__BASE_URL": sandbox.base_url,
        "SOURCES__FLOWRETAIL__ACCESS_TOKEN": TOKEN,
        **extra,
    }


def flowretail(*args: str) -> list[str]:
    """Return the command line of `flowretail ARGS` run by this interpreter."""
    return [sys.executable, "-m", "pipelines.cli", *args]


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a command to its end and capture its output."""
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


TABLES = ("customers", "contacts")


def warehouse_counts(workdir: Path) -> dict[str, int]:
    """Return the row counts of the loaded tables in the DuckDB file of the working folder."""
    with duckdb.connect(str(workdir / "flowretail_warehouse.duckdb"), read_only=True) as db:
        counts = {t: db.sql(f"SELECT COUNT(*) FROM flowretail.{t}").fetchall() for t in TABLES}
    return {table: rows[0][0] for table, rows in counts.items()}


def truth_counts(sandbox: Sandbox) -> dict[str, int]:
    """Return how many customers and contacts the sandbox holds."""
    return {
        "customers": len(sandbox.truth_customers()),
        "contacts": len(sandbox.truth_contacts()),
    }


def wait_for_lock(workdir: Path, process: subprocess.Popen[str], timeout: float = 60) -> None:
    """Wait until `process` holds the pipeline's run lock (its pid is in the lock file)."""
    lock = workdir / "dlt_data" / "pipelines" / "flowretail.lock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if lock.exists() and lock.read_text().strip() == str(process.pid):
            return
        time.sleep(0.1)
    raise AssertionError(f"the first load never took the lock (exit code {process.poll()})")


def test_second_load_is_refused_while_the_first_runs(
    sandbox_factory: SandboxFactory, workdir: Path
) -> None:
    sandbox = sandbox_factory(seed=7, tenants=2, customers=40, latency_ms=2000)
    env = load_env(sandbox, workdir)
    first = subprocess.Popen(
        flowretail("load"),
        env=env,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_lock(workdir, first)

    second = run(flowretail("load"), env, workdir)
    sandbox.clear_faults()
    first_out, first_err = first.communicate(timeout=120)

    assert second.returncode == EXIT_LOCKED
    assert f"another run of pipeline flowretail is in progress (pid {first.pid})" in second.stderr
    assert first.returncode == EXIT_OK, first_err[-2000:]
    assert warehouse_counts(workdir) == truth_counts(sandbox)


def test_max_runtime_stops_the_extract_and_the_next_run_loads_everything(
    sandbox_factory: SandboxFactory, workdir: Path
) -> None:
    sandbox = sandbox_factory(seed=7, tenants=2, customers=40, latency_ms=500)
    env = load_env(sandbox, workdir)

    stopped = run(
        flowretail("-v", "--log-format", "json", "--max-runtime", "2", "load"), env, workdir
    )
    events = [json.loads(line) for line in stopped.stderr.splitlines()]
    pipeline = dlt.attach("flowretail", pipelines_dir=str(workdir / "dlt_data" / "pipelines"))
    pending = pipeline.has_pending_data
    written = (workdir / "flowretail_warehouse.duckdb").exists() and has_table(workdir)
    sandbox.clear_faults()
    again = run(flowretail("load"), env, workdir)

    assert stopped.returncode == EXIT_TIMEOUT
    started = next(e for e in events if e["message"].startswith("flowretail load starting"))
    last = events[-1]
    assert last["message"].startswith("flowretail load: stopped after --max-runtime 2 s")
    assert seconds_between(started["ts"], last["ts"]) < 2 + 5
    assert not pending
    assert not written
    assert again.returncode == EXIT_OK, again.stderr[-2000:]
    assert warehouse_counts(workdir) == truth_counts(sandbox)


def seconds_between(start: str, end: str) -> float:
    """Return the seconds between two ISO timestamps."""
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def has_table(workdir: Path, table: str = "contacts") -> bool:
    """Tell whether the DuckDB file holds `flowretail.<table>`."""
    with duckdb.connect(str(workdir / "flowretail_warehouse.duckdb"), read_only=True) as db:
        found = db.sql(
            "SELECT COUNT(*) FROM information_schema.tables "
            f"WHERE table_schema = 'flowretail' AND table_name = '{table}'"
        ).fetchone()
    return bool(found and found[0])


def test_json_logs_parse_line_by_line_and_hold_no_token(sandbox: Sandbox, workdir: Path) -> None:
    env = load_env(sandbox, workdir, RUNTIME__LOG_LEVEL="INFO", FLOWRETAIL_LOG_FORMAT="json")

    result = run(flowretail("-vv", "load"), env, workdir)
    events = [json.loads(line) for line in result.stderr.splitlines()]

    assert result.returncode == EXIT_OK
    assert TOKEN not in result.stderr and TOKEN not in result.stdout
    assert all({"ts", "level", "logger", "message"} <= event.keys() for event in events)
    loggers = {event["logger"] for event in events}
    assert {"dlt", "pipelines.load", "sources.flowretail.client"} <= loggers
    contacts = len(sandbox.truth_contacts())
    summary = f"contacts: {contacts} loaded, {contacts} new, 0 updated, 0 deleted"
    assert summary in [event["message"] for event in events]


def test_redaction_masks_bearer_pairs_url_passwords_and_configured_secrets() -> None:
    text = (
        "GET /v2/tenants Authorization: Bearer abc.def-123 access_token=s3cr3t&page=2 "
        'postgresql://loader:pa55word@db:5432/dw {"token": "xyz789"} value sandbox-admin'
    )

    masked = redact(text, secrets=["sandbox-admin"])

    assert masked == (
        "GET /v2/tenants Authorization: Bearer *** access_token=***&page=2 "
        'postgresql://loader:***@db:5432/dw {"token": "***"} value ***'
    )


def test_json_formatter_writes_one_masked_line_with_extra_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(secrets=["tok-123456"]))
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("tests.schedule.formatter")
    log.addHandler(handler)
    log.propagate = False

    try:
        raise RuntimeError("refused tok-123456")
    except RuntimeError:
        log.exception("push %s failed", "tok-123456", extra={"tenant": "t-1", "n": 3})
    log.removeHandler(handler)

    lines = stream.getvalue().splitlines()
    event = json.loads(lines[0])
    assert len(lines) == 1
    assert event["message"] == "push *** failed"
    assert (event["level"], event["logger"]) == ("ERROR", "tests.schedule.formatter")
    assert (event["tenant"], event["n"]) == ("t-1", 3)
    assert "RuntimeError: refused ***" in event["exception"]
    assert "tok-123456" not in stream.getvalue()


def test_plain_stderr_lines_become_json_events() -> None:
    target = io.StringIO()
    stream = JsonLinesStream(target, "flowretail.load", secrets=["tok-123456"])

    stream.write("flowretail load: refused tok-123456\npartial")
    stream.flush()

    events = [json.loads(line) for line in target.getvalue().splitlines()]
    assert [(e["logger"], e["level"], e["message"]) for e in events] == [
        ("flowretail.load", "ERROR", "flowretail load: refused ***"),
        ("flowretail.load", "ERROR", "partial"),
    ]


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["--max-runtime", "90", "load"], {}, (90.0, "text")),
        (
            ["load"],
            {"FLOWRETAIL_MAX_RUNTIME": "30", "FLOWRETAIL_LOG_FORMAT": "json"},
            (30.0, "json"),
        ),
        (["load"], {}, (None, "text")),
    ],
)
def test_global_options_come_from_flags_or_environment(
    argv: list[str],
    env: dict[str, str],
    expected: tuple[float | None, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("FLOWRETAIL_MAX_RUNTIME", "FLOWRETAIL_LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    args = build_parser(argv).parse_args(argv)

    assert (args.max_runtime, args.log_format) == expected


@pytest.mark.parametrize("argv", [["--max-runtime", "0", "load"], ["--log-format", "xml", "load"]])
def test_bad_global_options_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser(argv).parse_args(argv)

    assert exit_info.value.code == 2


def test_time_limit_is_ignored_with_a_warning_off_the_main_thread(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[float | None] = []

    def guarded() -> None:
        with Watchdog(5) as watchdog:
            seen.append(watchdog.seconds)

    worker = threading.Thread(target=guarded)
    worker.start()
    worker.join()

    assert seen == [None]
    assert "--max-runtime is ignored" in caplog.text


class Pipeline:
    """Stands in for dlt's `Pipeline` so a frame reads as its load step."""

    def load(self) -> FrameType | None:
        """Return the frame of this method, as the alarm would see it during a load."""
        return inspect.currentframe()

    def extract(self) -> FrameType | None:
        """Return the frame of this method, as the alarm would see it during an extract."""
        return inspect.currentframe()


def test_deadline_waits_for_a_running_load_step_but_stops_an_extract() -> None:
    from dlt.common.runtime import signals

    watchdog = Watchdog(30)

    with watchdog:
        watchdog._on_alarm(signal.SIGALRM, Pipeline().load())
        during_load = (watchdog.fired, signals.was_signal_received())
        watchdog._on_alarm(signal.SIGALRM, Pipeline().extract())
        during_extract = (watchdog.fired, signals.was_signal_received())
    signals._clear_signals()

    assert during_load == (False, False)
    assert during_extract == (True, True)
