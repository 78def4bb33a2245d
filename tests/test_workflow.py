"""The scheduled GitHub Actions workflow stays valid: its schedule, secrets and command parse."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines.cli import build_parser

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "scheduled-load.yml"
CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    """Return the parsed workflow file."""
    with WORKFLOW.open() as handle:
        parsed: dict[Any, Any] = yaml.safe_load(handle)
    return parsed


def cron_is_valid(expression: str) -> bool:
    """Tell whether a five-field cron expression uses numbers, lists, ranges and steps in range."""
    fields = expression.split()
    if len(fields) != len(CRON_RANGES):
        return False
    for field, (low, high) in zip(fields, CRON_RANGES, strict=True):
        for part in field.split(","):
            match = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", part)
            if match is None:
                return False
            numbers = [int(n) for n in match.groups()[1:3] if n is not None]
            if any(not low <= n <= high for n in numbers):
                return False
    return True


def flowretail_commands(workflow: dict[Any, Any]) -> list[str]:
    """Return every `flowretail ...` command line the workflow's steps run."""
    lines = [
        line.strip()
        for job in workflow["jobs"].values()
        for step in job["steps"]
        for line in str(step.get("run", "")).splitlines()
    ]
    return [line[line.index("flowretail") :] for line in lines if "flowretail " in line]


def test_workflow_runs_on_a_valid_schedule_and_by_hand(workflow: dict[Any, Any]) -> None:
    # NOTE: YAML 1.1 reads the bare key `on` as the boolean True.
    triggers: dict[str, Any] = workflow["on"] if "on" in workflow else workflow[True]

    crons = [entry["cron"] for entry in triggers["schedule"]]

    assert crons and all(cron_is_valid(cron) for cron in crons)
    assert "workflow_dispatch" in triggers
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_workflow_installs_with_uv_and_python_311(workflow: dict[Any, Any]) -> None:
    steps = workflow["jobs"]["load"]["steps"]

    setup = next(s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python"))
    install = "\n".join(str(s.get("run", "")) for s in steps)

    assert setup["with"]["python-version"] == "3.11"
    assert "pip install uv" in install and "uv sync --locked" in install


def test_workflow_takes_token_and_warehouse_from_repository_secrets(
    workflow: dict[Any, Any],
) -> None:
    env = workflow["jobs"]["load"]["env"]

    token = env["SOURCES__FLOWRETAIL__ACCESS_TOKEN"]
    warehouse = env["DESTINATION__POSTGRES__CREDENTIALS"]

    assert token == "${{ secrets.FLOWRETAIL_ACCESS_TOKEN }}"
    assert warehouse.startswith("${{ secrets.") and warehouse.endswith("}}")
    assert env["FLOWRETAIL_LOG_FORMAT"] == "json"


def test_workflow_command_parses_with_the_real_command_line(workflow: dict[Any, Any]) -> None:
    env = workflow["jobs"]["load"]["env"]
    commands = flowretail_commands(workflow)
    sample = {"FLOWRETAIL_DESTINATION": "postgres"}

    argv = [
        re.sub(r"\$\{?(\w+)\}?", lambda match: sample[match.group(1)], arg)
        for arg in shlex.split(commands[0])[1:]
    ]
    args = build_parser(argv).parse_args(argv)

    assert len(commands) == 1
    assert set(sample) <= set(env)
    assert (args.command, args.destination) == ("load", "postgres")
    assert float(env["FLOWRETAIL_MAX_RUNTIME"]) < workflow["jobs"]["load"]["timeout-minutes"] * 60


@pytest.mark.parametrize(
    ("expression", "valid"),
    [
        ("17 3 * * *", True),
        ("*/15 0-6 1,15 * 1-5", True),
        ("61 3 * * *", False),
        ("17 3 * *", False),
    ],
)
def test_cron_check_tells_valid_from_invalid(expression: str, valid: bool) -> None:
    assert cron_is_valid(expression) is valid
