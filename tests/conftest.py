"""Shared fixtures: the sandbox API (see `sandbox.pytest_plugin`) and isolated working folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["sandbox.pytest_plugin", "tests.postgres_server"]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Run in an empty folder with dlt's pipelines kept inside it, not in the home folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    yield tmp_path
