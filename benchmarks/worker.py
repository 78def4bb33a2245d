"""Run one contender's load in this process and print what it measured as one JSON line.

The parent starts `python -m benchmarks.worker '<RunSpec JSON>'` in the contender's folder and
reads the process's CPU and peak memory from `os.wait4`; this side adds wall and CPU time of
the load alone, without interpreter start-up and imports.
"""

from __future__ import annotations

import importlib
import logging
import resource
import sys
import time

from benchmarks.spec import RunSpec, WorkerReport

# NOTE: imported by name so that each process imports only its own contender's libraries (the
# plain loop never imports dlt); peak memory and process CPU would otherwise include them.
MODULES = {
    "connector": "benchmarks.connector",
    "rest_api": "benchmarks.rest_api_peer",
    "plain_loop": "benchmarks.plain_loop",
}


def cpu_seconds() -> float:
    """Return user plus system CPU time of this process, all threads included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_kib() -> int:
    """Return this process's peak resident memory in KiB, since its `exec`.

    NOTE: `ru_maxrss` of a child (as `os.wait4` reports it) is never below the parent's
    resident memory at fork time, so the benchmark's own memory would hide the contender's;
    Linux's `VmHWM` starts afresh with the new program.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv: list[str]) -> int:
    """Load once as the spec says; print the `WorkerReport`."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for name in ("sources", "pipelines", "benchmarks"):
        logging.getLogger(name).setLevel(logging.INFO)
    spec = RunSpec.from_json(argv[0])
    load = importlib.import_module(MODULES[spec.contender]).load
    started, cpu_before = time.monotonic(), cpu_seconds()
    rows = load(spec)
    wall, cpu = time.monotonic() - started, cpu_seconds() - cpu_before
    report = WorkerReport(wall, cpu, rows, peak_rss_kib())
    print(report.to_json(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
