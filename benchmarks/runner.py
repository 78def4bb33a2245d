"""Run every contender against one sandbox, phase by phase, and measure each run.

Each run is its own process (`benchmarks.worker`) in the contender's own folder, so the
incremental runs find the state and tables of the full load before them. The sandbox's request
counters are reset before each run; rows are checked against the sandbox's ground truth by
reading the contender's DuckDB file after its process has ended.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from benchmarks import connector, plain_loop, rest_api_peer
from benchmarks.sandbox_process import SandboxOptions, SandboxProcess
from benchmarks.spec import RunSpec, WorkerReport
from benchmarks.truth import ContactKey, Truth, lower_bound_seconds

logger = logging.getLogger(__name__)

CONTENDERS = ("connector", "rest_api", "plain_loop")
REPO_ROOT = Path(__file__).resolve().parents[1]
DATABASES: dict[str, Callable[[], str]] = {
    "connector": connector.database,
    "rest_api": rest_api_peer.database,
    "plain_loop": plain_loop.database,
}
LIVE_ROWS_SQL = {
    "connector": connector.LIVE_ROWS_SQL,
    "rest_api": rest_api_peer.LIVE_ROWS_SQL,
    "plain_loop": plain_loop.LIVE_ROWS_SQL,
}


class BenchmarkFailed(RuntimeError):
    """A contender's run failed; the message names its log file."""


@dataclass(frozen=True)
class Options:
    """Sizes and knobs of one benchmark."""

    sandbox: SandboxOptions
    concurrency: int = 16
    page_size: int = 1000
    churn_share: float = 0.01
    contenders: tuple[str, ...] = CONTENDERS
    rest_api_file_format: str = ""

    @property
    def answered_page_size(self) -> int:
        """Return the page size the sandbox really answers."""
        return min(self.page_size, self.sandbox.max_page_size)


@dataclass(frozen=True)
class Phase:
    """One run of one contender, and the request count it should need."""

    contender: str
    name: str
    incremental: bool = False
    lookback_seconds: int = 300
    cursor: bool = True
    folder: str = ""


PHASES_BEFORE_CHURN = (
    Phase("connector", "full load"),
    Phase("rest_api", "full load"),
    Phase("rest_api", "full load, no cursor", cursor=False, folder="rest_api_no_cursor"),
    Phase("plain_loop", "full load"),
    Phase("connector", "no changes", incremental=True),
    Phase("connector", "no changes, lookback 0", incremental=True, lookback_seconds=0),
    Phase("rest_api", "no changes", incremental=True),
)
PHASES_AFTER_CHURN = (
    Phase("connector", "1% churn", incremental=True),
    Phase("rest_api", "1% churn", incremental=True),
)


@dataclass(frozen=True)
class Result:
    """The measurements of one phase."""

    contender: str
    phase: str
    wall_seconds: float
    cpu_seconds: float
    process_cpu_seconds: float
    peak_rss_mib: float
    requests: int
    expected_requests: int
    needed_requests: int
    lower_bound_seconds: float
    rows_loaded: int
    live_rows: int
    truth_rows: int
    matches_truth: bool
    incremental: bool

    @property
    def bound_ratio(self) -> float:
        """Return wall time over the lower bound."""
        return self.wall_seconds / self.lower_bound_seconds if self.lower_bound_seconds else 0.0

    @property
    def cpu_us_per_contact(self) -> float | None:
        """Return load CPU microseconds per contact loaded, None when none was."""
        return self.cpu_seconds / self.rows_loaded * 1e6 if self.rows_loaded else None


def run_benchmark(options: Options, work_dir: Path) -> list[Result]:
    """Start the sandbox, run every selected phase in order, stop the sandbox."""
    results: list[Result] = []
    with SandboxProcess(options.sandbox) as sandbox:
        truth = Truth.read(sandbox.admin)
        logger.info("%d customers, %d contacts", truth.customers, len(truth.contacts))
        for phase in _selected(PHASES_BEFORE_CHURN, options):
            results.append(_run_phase(phase, options, sandbox, truth, work_dir))
        after = _selected(PHASES_AFTER_CHURN, options)
        if after:
            churn = sandbox.admin.churn(options.churn_share, seed=options.sandbox.seed)
            truth = Truth.read(sandbox.admin)
            rewalked = {customer_uid for _, customer_uid, _ in churn.deleted}
        for phase in after:
            results.append(_run_phase(phase, options, sandbox, truth, work_dir, rewalked))
    return results


def _selected(phases: tuple[Phase, ...], options: Options) -> list[Phase]:
    return [phase for phase in phases if phase.contender in options.contenders]


def expected_requests(
    phase: Phase, truth: Truth, page_size: int, rewalked: set[str] | None = None
) -> int:
    """Return the requests a phase should send, given the customers that lost a contact.

    NOTE: the connector walks a customer that lost a contact once more in full to find which
    one, even when its first page held every contact (`walk.py` stops early without marking
    the walk complete), so each such customer costs its page count again.
    """
    if phase.contender == "rest_api":
        return truth.stop_on_empty_requests(page_size)
    if phase.incremental:
        return truth.incremental_requests(page_size) + truth.rewalk_requests(
            rewalked or set(), page_size
        )
    return truth.full_load_requests(page_size)


def _run_phase(
    phase: Phase,
    options: Options,
    sandbox: SandboxProcess,
    truth: Truth,
    work_dir: Path,
    rewalked: set[str] | None = None,
) -> Result:
    spec = RunSpec(
        contender=phase.contender,
        base_url=sandbox.base_url,
        tenant_uid=truth.tenant_uid,
        concurrency=options.concurrency,
        page_size=options.page_size,
        lookback_seconds=phase.lookback_seconds,
        file_format=options.rest_api_file_format,
        cursor=phase.cursor,
    )
    folder = work_dir / (phase.folder or phase.contender)
    sandbox.admin.reset_counters()
    logger.info("running %s, %s", phase.contender, phase.name)
    report, process_cpu = run_worker(spec, folder)
    requests = sandbox.admin.request_count()
    live = live_rows(folder / DATABASES[phase.contender](), LIVE_ROWS_SQL[phase.contender])
    page_size = options.answered_page_size
    needed = (truth.incremental_requests if phase.incremental else truth.full_load_requests)(
        page_size
    )
    sandbox_options = options.sandbox
    return Result(
        contender=phase.contender,
        phase=phase.name,
        wall_seconds=report.wall_seconds,
        cpu_seconds=report.cpu_seconds,
        process_cpu_seconds=process_cpu,
        peak_rss_mib=report.peak_rss_kib / 1024,
        requests=requests,
        expected_requests=expected_requests(phase, truth, page_size, rewalked),
        needed_requests=needed,
        lower_bound_seconds=lower_bound_seconds(
            needed, sandbox_options.latency_ms, options.concurrency, sandbox_options.rate_limit
        ),
        rows_loaded=report.rows_loaded,
        live_rows=len(live),
        truth_rows=len(truth.contacts),
        matches_truth=len(live) == len(truth.contacts) and set(live) == truth.contacts,
        incremental=phase.incremental,
    )


def run_worker(spec: RunSpec, folder: Path) -> tuple[WorkerReport, float]:
    """Run one load in a child process; return its report and the process's CPU seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / "worker.log"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.getenv("PYTHONPATH")])),
        "DLT_DATA_DIR": str(folder / "dlt_data"),
        "RUNTIME__LOG_LEVEL": "WARNING",
    }
    if spec.contender == "rest_api":
        env["EXTRACT__WORKERS"] = str(spec.concurrency)
    command = [sys.executable, "-m", "benchmarks.worker", spec.to_json()]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=log)
        assert process.stdout is not None
        output = process.stdout.read().decode()
        process.stdout.close()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 or not output.strip():
        raise BenchmarkFailed(
            f"{spec.contender} failed with exit code {process.returncode}; see {log_path}"
        )
    report = WorkerReport.from_json(output.strip().splitlines()[-1])
    return report, usage.ru_utime + usage.ru_stime


def live_rows(database: Path, sql: str) -> list[ContactKey]:
    """Return the live contact rows a contender's DuckDB file holds, duplicates kept."""
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(sql).fetchall()
    return [(str(c), str(k), int(m)) for c, k, m in rows]
