"""Shared fixtures: the sandbox API (see `sandbox.pytest_plugin`) and isolated working folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# The machines that run the tests reach no telemetry endpoint; dlt should not try.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

pytest_plugins = ["sandbox.pytest_plugin", "tests.postgres_server"]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run in an empty folder with dlt's pipelines kept inside it, not in the home folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    yield tmp_path
