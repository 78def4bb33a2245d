"""What the jobs share: the pipeline, the run lock, and turning failures into one-line reasons."""

from __future__ import annotations

import fcntl
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dlt
from dlt.pipeline.exceptions import PipelineStepFailed

from sources.flowretail.errors import AuthError, ConfigError, FlowRetailError

logger = logging.getLogger(__name__)

PIPELINE_NAME = "flowretail"
DATASET_NAME = "flowretail"
LOCAL_PIPELINES = os.path.join(".flowretail", "pipelines")
EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_LOCKED = 0, 1, 2, 75


class RunLocked(FlowRetailError):
    """Another run of the same pipeline holds the lock."""


def make_pipeline(
    destination: str = "duckdb",
    *,
    pipeline_name: str = PIPELINE_NAME,
    dataset_name: str = DATASET_NAME,
    pipelines_dir: str | None = None,
) -> Any:
    """Return the pipeline; DuckDB writes `<pipeline_name>_warehouse.duckdb` in the working folder.

    NOTE: DuckDB cannot tell a database and a schema of the same name apart, so the file is not
    named after the dataset (`flowretail.duckdb` with dataset `flowretail` fails to load).
    """
    target: Any = destination
    if destination == "duckdb":
        target = dlt.destinations.duckdb(os.path.abspath(duckdb_path(pipeline_name)))
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=target,
        dataset_name=dataset_name,
        pipelines_dir=pipelines_dir or default_pipelines_dir(),
    )


def default_pipelines_dir() -> str:
    """Return where pipelines keep state and pending packages: beside the DuckDB file.

    NOTE: dlt's own default is one folder per user, shared by every project; a pipeline there
    remembers the DuckDB file of whichever folder ran it first. Keeping it in the working folder
    (or under DLT_DATA_DIR when set) ties state, pending packages and data together.
    """
    data_dir = os.environ.get("DLT_DATA_DIR")
    return os.path.join(data_dir, "pipelines") if data_dir else os.path.abspath(LOCAL_PIPELINES)


def duckdb_path(pipeline_name: str = PIPELINE_NAME) -> str:
    """Return the DuckDB file of the pipeline: dlt config if set, else one in the working folder."""
    for key in ("destination.duckdb.credentials", "destination.duckdb.credentials.database"):
        configured: Any = dlt.secrets.get(key) or dlt.config.get(key)
        if isinstance(configured, str) and configured:
            return configured
    return f"{pipeline_name}_warehouse.duckdb"


@contextmanager
def run_lock(pipeline: Any) -> Iterator[None]:
    """Hold an exclusive lock on the pipeline for the whole run, or raise `RunLocked`."""
    path = Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise RunLocked(
                f"another run of pipeline {pipeline.pipeline_name} is in progress (pid {holder}); "
                "this one did nothing"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def root_cause(exc: BaseException) -> BaseException:
    """Return the connector's own error behind dlt's wrappers, or the innermost cause."""
    seen: set[int] = set()
    current: BaseException | None = exc
    deepest = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, FlowRetailError):
            return current
        deepest = current
        current = current.__cause__ or current.__context__
    return deepest


def exit_code_for(exc: BaseException) -> int:
    """Map a failure to the exit code a scheduler can act on."""
    cause = root_cause(exc)
    if isinstance(cause, RunLocked) or _warehouse_holder(cause):
        return EXIT_LOCKED
    if isinstance(cause, ConfigError | AuthError):
        return EXIT_CONFIG
    return EXIT_FAILED


def one_line(exc: BaseException) -> str:
    """Describe a failure in one line, without dlt's stack of wrappers."""
    cause = root_cause(exc)
    holder = _warehouse_holder(cause)
    if holder:
        return (
            f"the DuckDB file is open in another process ({holder}), so nothing can write it: "
            "close that connection (a notebook kernel, a duckdb shell) and run again; the next "
            "run loads what this one could not"
        )
    text = " ".join(str(cause).split()) or type(cause).__name__
    if isinstance(exc, PipelineStepFailed) and cause is not exc:
        return f"{exc.step} failed: {text}"
    return text


def _warehouse_holder(cause: BaseException) -> str:
    """Name the process holding the DuckDB file when DuckDB refused to open it, else ''.

    NOTE: DuckDB lets one process write a file, or several read it, never both: a notebook's
    open connection, even a read-only one, makes every load fail until it is closed.
    """
    text = str(cause)
    if "Could not set lock on file" not in text:
        return ""
    pid = re.search(r"\(PID (\d+)\)", text)
    return f"pid {pid.group(1)}" if pid else "unknown pid"
