"""Fault injection for `/v2` requests: latency, rate limit, errors, dropped connections.

The knobs can change while the server runs. Random decisions come from one RNG seeded from
the sandbox seed, so a single-threaded client sees the same faults on every run.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from sandbox.config import SandboxConfig

DROP = "drop"
DROP_AFTER_WRITE = "drop_after_write"
_ERROR_STATUSES = (500, 502, 503)


@dataclass(frozen=True, slots=True)
class FaultSettings:
    """The runtime fault knobs; see `SandboxConfig` for their meaning."""

    latency_ms: float = 0.0
    rate_limit_per_second: float = 0.0
    retry_after: str = "1"
    error_rate: float = 0.0
    drop_rate: float = 0.0
    ignore_sort: bool = False
    reject_sort: bool = False
    reject_page_size_over: int = 0

    @classmethod
    def from_config(cls, config: SandboxConfig) -> FaultSettings:
        """Take the initial knobs from a sandbox configuration."""
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls)})

    def to_json(self) -> dict[str, Any]:
        """Return the knobs as a JSON-ready dict."""
        return asdict(self)


@dataclass(slots=True)
class Injection:
    """A targeted fault for the next `remaining` requests that match."""

    method: str | None
    path_contains: str
    remaining: int
    action: str

    def matches(self, method: str, path: str) -> bool:
        """Tell whether a request is a target of this injection."""
        method_ok = self.method is None or self.method.upper() == method
        return self.remaining > 0 and method_ok and self.path_contains in path


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with one request before (or after) handling it.

    Attributes:
        status: Answer this status at once and do nothing else (None: handle normally).
        drop: Close the connection without answering, before doing anything.
        drop_after_write: Handle the request, then close the connection without answering.
        retry_after: `Retry-After` header value for a 429 answer.
    """

    status: int | None = None
    drop: bool = False
    drop_after_write: bool = False
    retry_after: str | None = None


PASS = Verdict()


class Faults:
    """Thread-safe fault state: knobs, a token bucket and targeted injections."""

    def __init__(self, config: SandboxConfig) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(config.seed * 104_729 + 3)
        self._settings = FaultSettings.from_config(config)
        self._injections: list[Injection] = []
        self._tokens = 0.0
        self._refilled = time.monotonic()
        self._reset_bucket()

    @property
    def settings(self) -> FaultSettings:
        """Return the current knobs."""
        with self._lock:
            return self._settings

    def configure(self, **knobs: Any) -> FaultSettings:
        """Change some knobs and keep the others; an unknown knob raises `TypeError`."""
        known = {f.name for f in fields(FaultSettings)}
        unknown = set(knobs) - known
        if unknown:
            raise TypeError(f"unknown fault knobs: {', '.join(sorted(unknown))}")
        if "retry_after" in knobs:
            knobs["retry_after"] = str(knobs["retry_after"])
        with self._lock:
            self._settings = replace(self._settings, **knobs)
            self._reset_bucket()
            return self._settings

    def clear(self) -> None:
        """Switch every fault off and forget pending injections."""
        with self._lock:
            self._settings = FaultSettings()
            self._injections.clear()

    def inject(
        self,
        method: str | None = None,
        path_contains: str = "",
        count: int = 1,
        action: str = "503",
    ) -> None:
        """Fault the next `count` matching requests with `action`.

        Args:
            method: HTTP method to match, or None for any.
            path_contains: Substring the request path must contain.
            count: How many matching requests to fault.
            action: An HTTP status such as "503" or "429", "drop" (close before handling) or
                "drop_after_write" (handle, then close without answering).
        """
        if action not in (DROP, DROP_AFTER_WRITE) and not _is_status(action):
            raise ValueError(f"unknown fault action {action!r}")
        with self._lock:
            self._injections.append(Injection(method, path_contains, count, action))

    def decide(self, method: str, path: str) -> Verdict:
        """Decide the fault, if any, for one incoming request."""
        with self._lock:
            injected = self._take_injection(method, path)
            if injected is not None:
                return injected
            settings = self._settings
            if settings.drop_rate and self._rng.random() < settings.drop_rate:
                return Verdict(drop=True)
            if settings.rate_limit_per_second and not self._take_token():
                return Verdict(status=429, retry_after=settings.retry_after)
            if settings.error_rate and self._rng.random() < settings.error_rate:
                return Verdict(status=self._rng.choice(_ERROR_STATUSES))
            return PASS

    def _take_injection(self, method: str, path: str) -> Verdict | None:
        for injection in self._injections:
            if injection.matches(method, path):
                injection.remaining -= 1
                return _verdict_for(injection.action, self._settings.retry_after)
        return None

    def _take_token(self) -> bool:
        rate = self._settings.rate_limit_per_second
        now = time.monotonic()
        self._tokens = min(max(1.0, rate), self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def _reset_bucket(self) -> None:
        self._tokens = max(1.0, self._settings.rate_limit_per_second)
        self._refilled = time.monotonic()


def _is_status(action: str) -> bool:
    return action.isdigit() and 400 <= int(action) <= 599


def _verdict_for(action: str, retry_after: str) -> Verdict:
    if action == DROP:
        return Verdict(drop=True)
    if action == DROP_AFTER_WRITE:
        return Verdict(drop_after_write=True)
    status = int(action)
    return Verdict(status=status, retry_after=retry_after if status == 429 else None)
