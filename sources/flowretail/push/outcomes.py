"""What happened to each row of a push, tallied safely from dlt's load threads."""

from __future__ import annotations

import json
import secrets
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from .changes import KEY_NAMES, text

Kind = Literal["contact", "extension"]


class Outcome(StrEnum):
    """The outcome of one row; a dry run reports the outcome the push would have."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    ADDED = "added"
    REMOVED = "removed"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"
    REJECTED = "rejected"
    FAILED = "failed"


PROBLEMS = frozenset({Outcome.CONFLICT, Outcome.REJECTED, Outcome.FAILED})


@dataclass(frozen=True)
class Result:
    """One row's outcome, the fields it sent (or would send) and, for problems, why.

    Attributes:
        kind: `contact` or `extension`.
        op: The row's op as given (`upsert`, `delete`, `add`, `remove`), empty when missing.
        outcome: What happened.
        row: The row as it came in, for the `push_rejections` table.
        fields: The contact fields sent, or the extension code.
        reason: Why the row was not written, or a note such as "already gone".
        status: The HTTP status behind a failure; None when decided locally.
    """

    kind: Kind
    op: str
    outcome: Outcome
    row: Mapping[str, Any]
    fields: tuple[str, ...] = ()
    reason: str = ""
    status: int | None = None

    @property
    def where(self) -> str:
        """Return `tenant/customer/contact` as the row names them."""
        return "/".join(text(self.row.get(name)) or "?" for name in KEY_NAMES)

    def rejection(self, push_id: str, at: datetime) -> dict[str, Any]:
        """Return the `push_rejections` row of a conflicting, rejected or failed row."""
        return {
            "push_id": push_id,
            "kind": self.kind,
            "op": self.op,
            "outcome": str(self.outcome),
            **{name: text(self.row.get(name)) for name in KEY_NAMES},
            "row_json": json.dumps(dict(self.row), default=str, sort_keys=True),
            "reason": self.reason,
            "http_status": self.status,
            "rejected_at": at,
        }


@dataclass
class PushReport:
    """Every row's result in one push; `add` may be called from several threads.

    Attributes:
        push_id: Identifies the push in `push_rejections`.
        dry_run: Whether outcomes are planned rather than done.
        stopped: Why the push stopped partway (an error no retry fixed), or None.
    """

    push_id: str = field(default_factory=lambda: new_push_id())
    dry_run: bool = False
    _results: list[Result] = field(default_factory=list, repr=False)
    stopped: str | None = None
    _denials: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, result: Result) -> Result:
        """Record one row's result and return it."""
        with self._lock:
            self._results.append(result)
        return result

    def deny(self, tenant_uid: str, scope: str, reason: str) -> bool:
        """Remember that `scope` is refused in a tenant; return True the first time only."""
        with self._lock:
            first = (tenant_uid, scope) not in self._denials
            self._denials.setdefault((tenant_uid, scope), reason)
            return first

    def denial(self, tenant_uid: str, scope: str) -> str | None:
        """Return the reason `scope` is refused in a tenant, or None when it is not."""
        with self._lock:
            return self._denials.get((tenant_uid, scope))

    def results(self) -> list[Result]:
        """Return every result so far, in the order they were recorded."""
        with self._lock:
            return list(self._results)

    def problems(self) -> list[Result]:
        """Return the conflicting, rejected and failed rows."""
        return [result for result in self.results() if result.outcome in PROBLEMS]

    def counts(self) -> dict[Outcome, int]:
        """Return the number of rows per outcome, every outcome included."""
        tally = Counter(result.outcome for result in self.results())
        return {outcome: tally.get(outcome, 0) for outcome in Outcome}

    def denials(self) -> dict[tuple[str, str], str]:
        """Return the refused (tenant, scope) pairs and their reasons."""
        with self._lock:
            return dict(self._denials)


def new_push_id() -> str:
    """Return a push id that sorts by time, such as `20250730T171918Z-3f9a`."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"
