"""Run the sandbox API in its own process, so its CPU is not counted against any contender."""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import dataclass
from types import TracebackType

from sandbox.admin import SandboxClient

logger = logging.getLogger(__name__)

URL_PREFIX = "Flow Retail sandbox at "
START_TIMEOUT_SECONDS = 600.0


@dataclass(frozen=True)
class SandboxOptions:
    """The data set and fault knobs the sandbox process starts with."""

    customers: int
    latency_ms: float
    rate_limit: float = 0.0
    max_page_size: int = 100
    seed: int = 7

    def arguments(self) -> list[str]:
        """Return the `python -m sandbox` arguments for one tenant of this size."""
        return [
            "--port=0",
            "--tenants=1",
            f"--customers={self.customers}",
            f"--seed={self.seed}",
            f"--latency-ms={self.latency_ms:g}",
            f"--rate-limit={self.rate_limit:g}",
            f"--max-page-size={self.max_page_size}",
        ]


class SandboxProcess:
    """A `python -m sandbox` child process and an admin client for it."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        command = [sys.executable, "-m", "sandbox", *options.arguments()]
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        self.base_url = self._read_base_url()
        self.admin = SandboxClient(self.base_url, timeout=START_TIMEOUT_SECONDS)
        logger.info("sandbox with %d customers at %s", options.customers, self.base_url)

    def _read_base_url(self) -> str:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            if line.startswith(URL_PREFIX):
                return line[len(URL_PREFIX) :].strip()
        self.stop()
        raise RuntimeError(
            "the sandbox process exited before printing its URL; run "
            f"`python -m sandbox {' '.join(self.options.arguments())}` to see why"
        )

    def stop(self) -> None:
        """Stop the sandbox process and wait for it."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.admin.close()
        self.stop()
