"""The benchmark end to end at a tiny size: every contender runs, counts and rows add up."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.cli import main

TINY = ["--customers", "200", "--latency-ms", "2", "--concurrency", "8", "--label", "tiny"]
ROWS = {
    ("connector", "full load"),
    ("rest_api", "full load"),
    ("rest_api", "full load, no cursor"),
    ("plain_loop", "full load"),
    ("connector", "no changes"),
    ("connector", "no changes, lookback 0"),
    ("rest_api", "no changes"),
    ("connector", "1% churn"),
    ("rest_api", "1% churn"),
}


def test_tiny_benchmark_writes_every_row_with_exact_counts(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    argv = [*TINY, "--results-dir", str(results_dir), "--work-dir", str(tmp_path / "work")]

    code = main(argv)

    assert code == 0
    folder = results_dir / "tiny"
    rows = json.loads((folder / "results.json").read_text())["results"]
    by_key = {(row["contender"], row["phase"]): row for row in rows}
    assert set(by_key) == ROWS
    markdown = (folder / "results.md").read_text()
    assert all(f"| {contender} | {phase} |" in markdown for contender, phase in ROWS)
    assert "python -m benchmarks --customers 200" in markdown
    assert (folder / "chart.png").read_bytes().startswith(b"\x89PNG")
    for (contender, phase), row in by_key.items():
        assert row["requests"] == row["expected_requests"], (contender, phase)
        if contender == "connector":
            assert row["matches_truth"], phase
    for key in (
        ("connector", "full load"),
        ("rest_api", "full load, no cursor"),
        ("plain_loop", "full load"),
    ):
        full = by_key[key]
        assert full["rows_loaded"] == full["truth_rows"] == full["live_rows"]
        assert full["matches_truth"]
    # NOTE: the peer's merge on the contact UID never hears of deleted contacts.
    assert not by_key[("rest_api", "1% churn")]["matches_truth"]
