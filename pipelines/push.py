"""`flowretail push`: write contact and extension changes back to Flow Retail, safely.

Rows come from a CSV or Parquet file or from a query on the loaded dataset. They are checked
before anything is sent, pushed through a dlt pipeline of their own (`<pipeline>_push_contacts`
or `<pipeline>_push_extensions`, whose pending package the next push finishes first), and every
conflicting, rejected or failed row is appended to `push_rejections` in the loaded dataset.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
from dlt.common.destination.exceptions import SqlClientNotAvailable
from dlt.pipeline.exceptions import PipelineStepFailed

from sources.flowretail.client import FlowRetailClient, RetryPolicy
from sources.flowretail.push import (
    Outcome,
    PushReport,
    PushSession,
    Result,
    contacts_destination,
    extensions_destination,
    push_columns,
    push_rows,
    write_rejections,
)
from sources.flowretail.push.inputs import prepare, read_file, read_query
from sources.flowretail.push.rejections import rejection_rows
from sources.flowretail.settings import PRODUCTION_URL, SECTION, Settings
from sources.flowretail.warehouse import Warehouse

from .common import (
    EXIT_FAILED,
    EXIT_OK,
    default_pipelines_dir,
    duckdb_path,
    exit_code_for,
    make_pipeline,
    one_line,
    run_lock,
)

logger = logging.getLogger(__name__)

KINDS: dict[str, Any] = {"contacts": "contact", "extensions": "extension"}
SHOWN = {
    "contacts": (Outcome.CREATED, Outcome.UPDATED, Outcome.DELETED, Outcome.UNCHANGED),
    "extensions": (Outcome.ADDED, Outcome.REMOVED, Outcome.UNCHANGED),
}
PROBLEM_OUTCOMES = (Outcome.CONFLICT, Outcome.REJECTED, Outcome.FAILED)
PROBLEM_LINES = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of `flowretail push`."""
    parser.add_argument("kind", choices=sorted(KINDS), help="what the rows change")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", metavar="FILE", help="a CSV (with header) or Parquet file")
    source.add_argument("--query", metavar="SQL", help="a SELECT on the loaded dataset")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan; read from the API, send nothing"
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite contacts changed since the loaded copy"
    )
    parser.add_argument(
        "--destination", default="duckdb", help="the warehouse holding the loaded dataset"
    )
    parser.add_argument("--dataset", default="flowretail", help="dataset (schema) name")
    parser.add_argument("--pipeline-name", default="flowretail", help="the load's pipeline name")
    parser.add_argument("--batch-size", type=int, default=50, help="rows per destination call")
    parser.add_argument("--workers", type=int, default=8, help="rows pushed at once (1-32)")


@dataclass
class PushSummary:
    """What a push did (or, in a dry run, would do), for the closing summary."""

    kind: str
    report: PushReport
    resumed: bool = False
    waiting: bool = False
    pending: str | None = None
    without_base: int = 0
    rejections_written: int = 0
    rejections_error: str | None = None
    requests: int = 0
    seconds: float = 0.0
    counts: dict[Outcome, int] = field(default_factory=dict)

    @property
    def problems(self) -> int:
        """Return the number of conflicting, rejected and failed rows."""
        return sum(self.counts.get(outcome, 0) for outcome in PROBLEM_OUTCOMES)

    @property
    def ok(self) -> bool:
        """Return whether every row was pushed (or would be) and nothing was left pending."""
        return self.problems == 0 and self.pending is None and self.rejections_error is None

    def lines(self) -> list[str]:
        """Render the summary as text lines."""
        verb = "dry run of push" if self.report.dry_run else "push"
        shown = SHOWN[self.kind] + PROBLEM_OUTCOMES
        tally = ", ".join(f"{self.counts.get(outcome, 0)} {outcome}" for outcome in shown)
        out = [f"{verb} {self.report.push_id} ({self.kind}): {tally}"]
        if self.resumed:
            out.append("resumed the push an earlier run left pending before taking the new input")
        if self.waiting:
            out.append(
                "an earlier push is pending: the next push (not a dry run) finishes it first"
            )
        out.extend(_problem_lines(self.report.problems()))
        if self.without_base:
            out.append(
                f"{self.without_base} rows have no loaded copy (new contacts or not loaded yet): "
                "no conflict check for them"
            )
        if self.pending:
            out.append(f"stopped partway: {self.pending}")
            out.append("the rest stays pending: run the same push again to resume it")
        if self.rejections_written:
            out.append(f"{self.rejections_written} rows written to push_rejections")
        if self.rejections_error:
            out.append(self.rejections_error)
        out.append(f"{self.requests} requests in {self.seconds:.1f} s")
        return out

    def plan_lines(self) -> list[str]:
        """Render a dry run's plan, grouped by outcome, one line per row."""
        grouped: dict[Outcome, list[Result]] = {}
        for result in self.report.results():
            grouped.setdefault(result.outcome, []).append(result)
        out = [f"plan for {self.kind} (dry run: nothing was sent)"]
        for outcome in Outcome:
            for number, result in enumerate(grouped.get(outcome, [])):
                if number == 0:
                    out.append(f"{outcome} ({len(grouped[outcome])})")
                detail = ", ".join(result.fields) or result.reason
                out.append(
                    f"  {result.op or '?'} {result.where}" + (f": {detail}" if detail else "")
                )
        return out


def _problem_lines(problems: list[Result]) -> list[str]:
    groups = Counter((p.outcome, p.status, p.reason) for p in problems)
    out: list[str] = []
    for (outcome, status, reason), count in groups.items():
        if len(out) == PROBLEM_LINES:
            out.append(f"  ... and more: see push_rejections ({len(problems)} rows)")
            break
        status_text = f" ({status})" if status else ""
        where = next(
            p.where
            for p in problems
            if (p.outcome, p.status, p.reason) == (outcome, status, reason)
        )
        subject = f"{count} rows" if count > 1 else where
        out.append(f"  {outcome}{status_text} {subject}: {reason}")
    return out


def run_push(
    kind: str,
    *,
    input_path: str | Path | None = None,
    query: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    destination: str = "duckdb",
    dataset_name: str = "flowretail",
    pipeline_name: str = "flowretail",
    source_options: dict[str, Any] | None = None,
    pipelines_dir: str | None = None,
    batch_size: int = 50,
    workers: int = 8,
    retry: RetryPolicy | None = None,
) -> PushSummary:
    """Push the rows of a file or query and return the summary; raise only on setup errors.

    Args:
        kind: `contacts` or `extensions`.
        input_path: A CSV or Parquet file of rows (or give `query`).
        query: A SELECT on the loaded dataset that returns the rows.
        dry_run: Decide every row with reads only; send no write, record no rejection.
        force: Write contacts that changed in the API after their loaded copy.
        destination: The warehouse destination of the loaded dataset.
        dataset_name: The loaded dataset; `push_rejections` is written there.
        pipeline_name: The load pipeline's name; the push pipeline is named after it.
        source_options: `base_url` and `access_token`, else from `[sources.flowretail]`.
        pipelines_dir: Where dlt keeps pipelines (and a push's pending package).
        batch_size: Rows per call of the destination.
        workers: Rows pushed at once within a batch.
        retry: The client's retry policy for transient failures.
    """
    started = time.monotonic()
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    settings = _settings(source_options or {})
    client = FlowRetailClient(
        settings.base_url, settings.access_token, pool_size=max(workers, 1), retry=retry
    )
    session = PushSession(client, force=force, dry_run=dry_run)
    summary = PushSummary(kind, session.report)
    warehouse = make_pipeline(
        destination,
        pipeline_name=pipeline_name,
        dataset_name=dataset_name,
        pipelines_dir=pipelines_dir,
    )
    try:
        # One cheap read first: a refused token fails here, before a package is left pending.
        client.request("GET", "/tenants")
        with run_lock(warehouse):
            rows = read_query(warehouse, query) if query else read_file(str(input_path))
            prepared = prepare(KINDS[kind], rows, session.report, _reader(warehouse))
        summary.without_base = prepared.without_base
        if dry_run:
            _plan(session, kind, prepared.rows, workers)
            summary.waiting = _push_pipeline(kind, pipeline_name, pipelines_dir).has_pending_data
        else:
            make = contacts_destination if kind == "contacts" else extensions_destination
            target = make(session, batch_size=batch_size, workers=workers)
            pipeline = _push_pipeline(kind, pipeline_name, pipelines_dir, target)
            _push(pipeline, session, kind, prepared.rows, summary)
            _record_rejections(summary, destination, dataset_name, pipeline_name, pipelines_dir)
    finally:
        session.close()
    summary.counts = session.report.counts()
    summary.requests = client.requests_sent
    summary.seconds = time.monotonic() - started
    logger.info("%s", summary.lines()[0])
    return summary


def _settings(options: dict[str, Any]) -> Settings:
    base_url = options.get("base_url") or dlt.config.get(f"{SECTION}.base_url") or PRODUCTION_URL
    token = options.get("access_token") or dlt.secrets.get(f"{SECTION}.access_token") or ""
    return Settings.validate(
        base_url=str(base_url),
        access_token=str(token),
        tenants=None,
        page_size=1000,
        concurrency=8,
        lookback_seconds=0,
        max_delete_share=1.0,
    )


def _reader(warehouse: Any) -> Warehouse | None:
    try:
        with warehouse.sql_client():
            return Warehouse(warehouse)
    except SqlClientNotAvailable:
        logger.warning("the warehouse cannot be queried: no conflict checks against loaded copies")
        return None


def _plan(session: PushSession, kind: str, rows: list[dict[str, Any]], workers: int) -> None:
    push_rows(session.push_contact if kind == "contacts" else session.push_extension, rows, workers)


def _push(
    pipeline: Any,
    session: PushSession,
    kind: str,
    rows: list[dict[str, Any]],
    summary: PushSummary,
) -> None:
    with run_lock(pipeline):
        try:
            if pipeline.has_pending_data:
                # NOTE: while a package is pending, dlt's run() finishes it and ignores new
                # data, so the pending rows go first and the new input after them.
                logger.warning("resuming the push an earlier run left pending")
                summary.resumed = True
                pipeline.normalize()
                pipeline.load()
            if rows:
                pipeline.run(dlt.resource(rows, name=kind, columns=push_columns()))
        except PipelineStepFailed as exc:
            summary.pending = session.report.stopped or one_line(exc)
            logger.debug("push stopped", exc_info=True)


def _push_pipeline(
    kind: str, pipeline_name: str, pipelines_dir: str | None, destination: Any = None
) -> Any:
    """Return the push pipeline; its working folder keeps a pending package between runs."""
    return dlt.pipeline(
        pipeline_name=f"{pipeline_name}_push_{kind}",
        destination=destination,
        pipelines_dir=pipelines_dir or default_pipelines_dir(),
    )


def _record_rejections(
    summary: PushSummary,
    destination: str,
    dataset_name: str,
    pipeline_name: str,
    pipelines_dir: str | None,
) -> None:
    if not summary.report.problems():
        return
    target: Any = dlt.destinations.duckdb(os.path.abspath(duckdb_path(pipeline_name)))
    if destination != "duckdb":
        target = destination
    pipeline = dlt.pipeline(
        pipeline_name=f"{pipeline_name}_push_rejections",
        destination=target,
        dataset_name=dataset_name,
        pipelines_dir=pipelines_dir or default_pipelines_dir(),
    )
    try:
        with run_lock(
            make_pipeline(destination, pipeline_name=pipeline_name, pipelines_dir=pipelines_dir)
        ):
            summary.rejections_written = write_rejections(pipeline, summary.report)
    except Exception as exc:
        saved = Path(f"push_rejections-{summary.report.push_id}.jsonl")
        with saved.open("w", encoding="utf-8") as handle:
            for row in rejection_rows(summary.report):
                handle.write(json.dumps(row, default=str) + "\n")
        summary.rejections_error = (
            f"could not write push_rejections ({one_line(exc)}); the rows are in {saved}"
        )


def run(args: argparse.Namespace) -> int:
    """Run `flowretail push`, print the plan or summary, and return the exit code."""
    try:
        summary = run_push(
            args.kind,
            input_path=args.input,
            query=args.query,
            dry_run=args.dry_run,
            force=args.force,
            destination=args.destination,
            dataset_name=args.dataset,
            pipeline_name=args.pipeline_name,
            batch_size=args.batch_size,
            workers=args.workers,
        )
    except Exception as exc:
        logger.debug("push failed", exc_info=True)
        print(f"flowretail push: {one_line(exc)}", file=sys.stderr)
        return exit_code_for(exc)
    if summary.report.dry_run:
        print("\n".join(summary.plan_lines()))
    print("\n".join(summary.lines()))
    if summary.ok:
        return EXIT_OK
    where = "see the plan" if summary.report.dry_run else "see push_rejections"
    what = f"{summary.problems} rows not pushed (conflict, rejected or failed): {where}"
    if summary.pending:
        what += "; the push stopped partway and stays pending"
    print(f"flowretail push: {what}", file=sys.stderr)
    return EXIT_FAILED
