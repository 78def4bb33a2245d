"""What one contender run is told to do; passed to the worker process as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

ADMIN_TOKEN = "sandbox-admin"


@dataclass(frozen=True)
class RunSpec:
    """One load by one contender, run in a fresh process inside `folder`.

    Attributes:
        contender: `connector`, `rest_api` or `plain_loop`.
        base_url: The API root of the sandbox.
        tenant_uid: The tenant to load (a `rest_api` user writes it into the endpoint paths).
        concurrency: Requests in flight at once.
        page_size: Items per page to ask for; the sandbox may answer fewer.
        lookback_seconds: The connector's lookback window for incremental runs.
        file_format: `rest_api` only: the loader file format, empty for dlt's default.
        cursor: `rest_api` only: whether contacts carry an incremental cursor.
    """

    contender: str
    base_url: str
    tenant_uid: str
    concurrency: int = 16
    page_size: int = 1000
    lookback_seconds: int = 300
    file_format: str = ""
    cursor: bool = True

    def to_json(self) -> str:
        """Return the spec as one JSON string."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunSpec:
        """Rebuild a spec from `to_json` output."""
        return cls(**json.loads(text))


@dataclass(frozen=True)
class WorkerReport:
    """What the worker measured inside its process, around the load alone."""

    wall_seconds: float
    cpu_seconds: float
    rows_loaded: int
    peak_rss_kib: int

    def to_json(self) -> str:
        """Return the report as one JSON line."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerReport:
        """Rebuild a report from `to_json` output."""
        return cls(**json.loads(text))
