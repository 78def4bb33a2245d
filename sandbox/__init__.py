"""A local, stateful Flow Retail API v2 for demos, tests and benchmarks.

Start one in-process with `start_sandbox`, from the shell with `flowretail sandbox`, or in
tests with the `sandbox` and `sandbox_factory` fixtures of `sandbox.pytest_plugin`.
"""

from sandbox.app import Sandbox, start_sandbox
from sandbox.churn import ChurnReport
from sandbox.config import TOKENS, SandboxConfig
from sandbox.faults import FaultSettings

__all__ = [
    "TOKENS",
    "ChurnReport",
    "FaultSettings",
    "Sandbox",
    "SandboxConfig",
    "start_sandbox",
]
