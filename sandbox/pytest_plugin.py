"""Pytest fixtures that run sandboxes for a test and stop them afterwards.

Enable with `pytest_plugins = ["sandbox.pytest_plugin"]` in the root conftest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandbox.app import Sandbox, start_sandbox
from sandbox.config import SandboxConfig

SandboxFactory = Callable[..., Sandbox]

SMALL = SandboxConfig(seed=7, tenants=2, customers=40)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """Run a small sandbox (seed 7, 2 tenants, 40 customers each) for one test."""
    with start_sandbox(SMALL) as running:
        yield running


@pytest.fixture
def sandbox_factory() -> Iterator[SandboxFactory]:
    """Return a callable that starts a sandbox from `SandboxConfig` keyword arguments.

    Example:
        >>> big = sandbox_factory(customers=10_000, latency_ms=5)
    """
    started: list[Sandbox] = []

    def make(**kwargs: Any) -> Sandbox:
        running = start_sandbox(SandboxConfig(**kwargs))
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()
