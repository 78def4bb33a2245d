"""Write a benchmark's results: Markdown table, JSON rows and a chart, in one folder."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from matplotlib.figure import Figure

from benchmarks.runner import Options, Result

COLUMNS = (
    "contender",
    "run",
    "wall s",
    "lower bound s",
    "x bound",
    "requests",
    "expected",
    "rows loaded",
    "live rows",
    "matches truth",
    "load CPU s",
    "CPU µs/contact",
    "process CPU s",
    "peak RSS MiB",
)


def table(results: list[Result]) -> str:
    """Return the results as a Markdown table, one row per run."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in results:
        per_contact = f"{r.cpu_us_per_contact:.0f}" if r.cpu_us_per_contact else "-"
        cells = (
            r.contender,
            r.phase,
            f"{r.wall_seconds:.1f}",
            f"{r.lower_bound_seconds:.1f}",
            f"{r.bound_ratio:.2f}",
            str(r.requests),
            str(r.expected_requests),
            str(r.rows_loaded),
            f"{r.live_rows} of {r.truth_rows}",
            "yes" if r.matches_truth else "**no**",
            f"{r.cpu_seconds:.1f}",
            per_contact,
            f"{r.process_cpu_seconds:.1f}",
            f"{r.peak_rss_mib:.0f}",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(results: list[Result]) -> list[str]:
    """Return one line per target of the issue that these results can judge."""
    by_key = {(r.contender, r.phase): r for r in results}
    lines = []
    full = by_key.get(("connector", "full load"))
    if full:
        lines.append(f"- Full load: {full.bound_ratio:.2f}x the lower bound (target 1.3x or less).")
    for phase in ("no changes", "no changes, lookback 0"):
        run = by_key.get(("connector", phase))
        if run:
            lines.append(
                f"- Incremental, {phase}: {run.requests} requests for at most "
                f"{run.needed_requests} (one per customer, the customer pages and the tenant "
                "list)."
            )
    peer = by_key.get(("rest_api", "full load, no cursor"))
    if full and peer and full.cpu_us_per_contact and peer.cpu_us_per_contact:
        ratio = full.cpu_us_per_contact / peer.cpu_us_per_contact
        lines.append(
            f"- CPU per loaded contact, full load: {ratio:.2f}x the `rest_api` peer's without "
            "cursor, the one that loads every contact (target 0.5x or less)."
        )
    return lines


def memory_across_sizes(results_root: Path) -> list[str]:
    """Return a Markdown table of the connector's full-load peak RSS in every results folder."""
    rows = []
    for path in sorted(results_root.glob("*/results.json")):
        data = json.loads(path.read_text())
        for result in data["results"]:
            if result["contender"] == "connector" and result["phase"] == "full load":
                customers = data["options"]["sandbox"]["customers"]
                rows.append((customers, path.parent.name, result["peak_rss_mib"]))
    if len(rows) < 2:
        return []
    rows.sort()
    smallest = rows[0][2]
    lines = ["| label | customers | peak RSS MiB | vs smallest |", "|---|---|---|---|"]
    lines += [f"| {lbl} | {n} | {rss:.0f} | {rss / smallest:.2f}x |" for n, lbl, rss in rows]
    return lines


def machine() -> str:
    """Describe the machine and the library versions in one line."""
    versions = ", ".join(f"{name} {version(name)}" for name in ("dlt", "duckdb", "pandas"))
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {versions}"
    )


def write_results(
    results: list[Result], options: Options, command: str, folder: Path, notes: list[str]
) -> Path:
    """Write `results.md`, `results.json` and `chart.png` into `folder`; return the Markdown."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"options": asdict(options), "results": [asdict(r) for r in results]}
    (folder / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    chart(results, folder / "chart.png")
    markdown = folder / "results.md"
    markdown.write_text("\n".join(_document(results, options, command, folder, notes)) + "\n")
    return markdown


def _document(
    results: list[Result], options: Options, command: str, folder: Path, notes: list[str]
) -> list[str]:
    sandbox = options.sandbox
    memory = memory_across_sizes(folder.parent)
    return [
        f"# Benchmark `{folder.name}`: {sandbox.customers} customers, "
        f"{results[0].truth_rows if results else 0} contacts",
        "",
        f"Command: `{command}`",
        "",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Machine: {machine()}.",
        "",
        f"Sandbox: 1 tenant, latency {sandbox.latency_ms:g} ms, rate limit "
        f"{sandbox.rate_limit:g}/s (0: none), page size {options.answered_page_size} answered "
        f"for {options.page_size} asked, concurrency {options.concurrency}, "
        f"churn {options.churn_share:.0%}.",
        "",
        table(results),
        "",
        "## Targets",
        "",
        *targets(results),
        *(["", "## Connector memory across sizes", "", *memory] if memory else []),
        "",
        "## How to read it",
        "",
        *notes,
    ]


def chart(results: list[Result], path: Path) -> None:
    """Draw wall time per run against its lower bound, and CPU per loaded contact."""
    labels = [f"{r.contender}\n{r.phase}" for r in results]
    figure = Figure(figsize=(14, 5.5))
    walls, cpu = figure.subplots(1, 2, width_ratios=(3, 2))
    positions = range(len(results))
    walls.bar(positions, [r.wall_seconds for r in results], color="#4c72b0")
    for x, r in zip(positions, results, strict=True):
        walls.hlines(r.lower_bound_seconds, x - 0.4, x + 0.4, colors="#c44e52", linewidth=2)
    walls.set_xticks(list(positions), labels, rotation=60, ha="right", fontsize=8)
    walls.set_ylabel("wall time, s (red: lower bound from requests)")
    walls.set_title("Wall time per run")
    full = [r for r in results if not r.incremental and r.cpu_us_per_contact]
    cpu.bar(range(len(full)), [r.cpu_us_per_contact or 0 for r in full], color="#55a868")
    names = [f"{r.contender}\n{r.phase}" for r in full]
    cpu.set_xticks(range(len(full)), names, fontsize=8)
    cpu.set_ylabel("load CPU per loaded contact, µs")
    cpu.set_title("CPU per contact, full load")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
