"""`python -m benchmarks`: measure this connector, dlt's `rest_api` source and a plain loop.

Example:
    python -m benchmarks --customers 10000 --latency-ms 20 --concurrency 16 --label 10k
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import tempfile
from pathlib import Path

from benchmarks.report import write_results
from benchmarks.runner import CONTENDERS, BenchmarkFailed, Options, run_benchmark
from benchmarks.sandbox_process import SandboxOptions

RESULTS_ROOT = Path(__file__).resolve().parent / "results"
NOTES = [
    "- Each run is a fresh process; the sandbox runs in another one. `wall s` and `load CPU s`",
    "  cover the load alone; `process CPU s` covers the whole process (interpreter start and",
    "  imports included), read from `os.wait4`; `peak RSS MiB` is the process's `VmHWM`.",
    "- `lower bound s` = requests needed x latency / concurrency (or / rate limit, if slower).",
    "  Needed: 1 tenant list + customer pages + per customer max(1, ceil(contacts / page",
    "  size)) for a full load; 1 + customer pages + customers for an incremental run.",
    "- `expected`: the exact count each contender should send. The connector's churn run adds",
    "  one full walk per customer that lost a contact. The `rest_api` peer stops each list on",
    "  an empty page, one request more per list, and gets the tenant UID from its",
    "  configuration instead of the API.",
    "- `live rows` / `matches truth`: the contender's table (rows not marked deleted) compared",
    "  with the sandbox's ground truth on (customer, contact, lastModifiedAt), duplicates",
    "  counted. The `rest_api` peer merges on the contact UID and never learns of deletes.",
    "- `rest_api` runs with an incremental cursor on `lastModifiedAt`, as a user would set it;",
    "  `full load, no cursor` is the same source without it, in a folder of its own: the one",
    "  that loads every contact, used for the CPU comparison.",
    "- The plain loop replaces its tables on every run, so it has no incremental run.",
    "- The connector's `no changes` run starts within the 300 s lookback of the full load, so",
    "  it re-reads what the full load saw change inside that window; `lookback 0` shows the",
    "  pure cost.",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the benchmark options to `parser`."""
    parser.add_argument("--customers", type=int, default=10_000, help="customers in the tenant")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="delay per request")
    parser.add_argument("--rate-limit", type=float, default=0.0, help="requests/s (0: none)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--label", default=None, help="results folder name (default: size)")
    parser.add_argument("--page-size", type=int, default=1000, help="page size to ask for")
    parser.add_argument("--max-page-size", type=int, default=100, help="sandbox's page cap")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated data")
    parser.add_argument("--churn", type=float, default=0.01, help="share of contacts changed")
    parser.add_argument(
        "--contenders", default=",".join(CONTENDERS), help="comma-separated contenders to run"
    )
    parser.add_argument(
        "--rest-api-format", default="", help="rest_api loader file format (default: dlt's)"
    )
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS_ROOT, help="where <label>/ is written"
    )
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="scratch folder (default: a temporary one)"
    )


def options_from(args: argparse.Namespace) -> Options:
    """Build the benchmark options from parsed arguments."""
    contenders = tuple(name.strip() for name in args.contenders.split(",") if name.strip())
    unknown = set(contenders) - set(CONTENDERS)
    if unknown:
        raise SystemExit(f"unknown contenders {sorted(unknown)}; choose from {CONTENDERS}")
    sandbox = SandboxOptions(
        customers=args.customers,
        latency_ms=args.latency_ms,
        rate_limit=args.rate_limit,
        max_page_size=args.max_page_size,
        seed=args.seed,
    )
    return Options(
        sandbox=sandbox,
        concurrency=args.concurrency,
        page_size=args.page_size,
        churn_share=args.churn,
        contenders=contenders,
        rest_api_file_format=args.rest_api_format,
    )


def run(args: argparse.Namespace, argv: list[str]) -> int:
    """Run the benchmark and write its results; print where they are."""
    options = options_from(args)
    label = args.label or f"{args.customers}-customers"
    command = shlex.join(["python", "-m", "benchmarks", *_without_folders(argv)])
    with tempfile.TemporaryDirectory(prefix="flowretail-bench-") as scratch:
        work_dir = args.work_dir or Path(scratch)
        try:
            results = run_benchmark(options, work_dir)
        except BenchmarkFailed as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
    markdown = write_results(results, options, command, args.results_dir / label, NOTES)
    print(markdown.read_text())
    print(f"Results written to {markdown.parent}")
    return 0


def _without_folders(argv: list[str]) -> list[str]:
    """Drop the folder options: they do not change the results and name local paths."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--results-dir", "--work-dir"):
            skip = True
        elif not arg.startswith(("--results-dir=", "--work-dir=")):
            kept.append(arg)
    return kept


def main(argv: list[str] | None = None) -> int:
    """Run `python -m benchmarks`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    add_arguments(parser)
    arguments = sys.argv[1:] if argv is None else argv
    return run(parser.parse_args(arguments), arguments)
