"""Shared fixtures: the sandbox API (see `sandbox.pytest_plugin`) and isolated working folders."""

from __future__ import annotations

pytest_plugins = ["sandbox.pytest_plugin"]
