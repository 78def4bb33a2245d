"""`flowretail export`: the current contacts, customers and extensions as Parquet or Delta files.

The export reads the loaded dataset (DuckDB by default) and writes one folder per table through
dlt's filesystem destination, so a local folder and a cloud bucket take the same path:

    <to>/contacts/  <to>/customers/  <to>/contact_extensions/  <to>/_manifest.json

One export is one snapshot of one load: the tables are read while the load pipeline's run lock
is held, and the newest load is checked before and after reading. Every run replaces the
previous export as a whole (see `publish_local` and `publish_bucket` for what readers see).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import dlt
from dlt.common.destination.exceptions import DestinationUndefinedEntity

from sources.flowretail.errors import ConfigError, FlowRetailError

from .common import (
    DATASET_NAME,
    EXIT_OK,
    PIPELINE_NAME,
    duckdb_path,
    exit_code_for,
    make_pipeline,
    one_line,
    run_lock,
)

logger = logging.getLogger(__name__)

DEFAULT_TO = "./flowretail_export"
FORMATS = ("parquet", "delta")
MANIFEST = "_manifest.json"
LATEST = "_latest.json"
CHUNK_ROWS = 50_000
STAGING_DATASET = "export"
KEYS = "tenant_uid, customer_uid, customer_contact_uid"


class NoLoadedData(ConfigError):
    """The dataset holds no completed load to export."""


class ExportConflict(FlowRetailError):
    """A load finished while the export read the dataset."""


@dataclass
class ExportSummary:
    """What an export wrote."""

    location: str
    table_format: str
    load_id: str
    tables: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        """Render the summary as text lines."""
        out = [f"{'table':<22}{'rows':>9}"]
        out += [f"{name:<22}{rows:>9}" for name, rows in self.tables.items()]
        out.append(
            f"load {self.load_id} exported to {self.location} ({self.table_format}) "
            f"in {self.seconds:.1f} s"
        )
        return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of `flowretail export`."""
    parser.add_argument(
        "--to",
        default=DEFAULT_TO,
        metavar="DIR_OR_BUCKET_URL",
        help=f"a folder or a bucket URL such as s3://bucket/path (default {DEFAULT_TO})",
    )
    parser.add_argument("--format", choices=FORMATS, default="parquet", help="table format")
    parser.add_argument(
        "--include-deleted", action="store_true", help="also export deleted contacts and customers"
    )
    parser.add_argument(
        "--destination", default="duckdb", help="where the load wrote: duckdb (default), postgres"
    )
    parser.add_argument("--dataset", default=DATASET_NAME, help="dataset (schema) name")
    parser.add_argument("--pipeline-name", default=PIPELINE_NAME, help="dlt pipeline name")


def run(args: argparse.Namespace) -> int:
    """Run `flowretail export` and print what it wrote."""
    try:
        summary = run_export(
            to=args.to,
            table_format=args.format,
            include_deleted=args.include_deleted,
            destination=args.destination,
            dataset_name=args.dataset,
            pipeline_name=args.pipeline_name,
        )
    except Exception as exc:
        logger.debug("export failed", exc_info=True)
        print(f"flowretail export: {one_line(exc)}", file=sys.stderr)
        return exit_code_for(exc)
    print("\n".join(summary.lines()))
    return EXIT_OK


def run_export(
    *,
    to: str = DEFAULT_TO,
    table_format: str = "parquet",
    include_deleted: bool = False,
    destination: str = "duckdb",
    dataset_name: str = DATASET_NAME,
    pipeline_name: str = PIPELINE_NAME,
    pipelines_dir: str | None = None,
) -> ExportSummary:
    """Export the last load's tables to `to` and replace the previous export there.

    Args:
        to: A local folder, or a bucket URL that dlt's filesystem destination accepts.
        table_format: `parquet` (plain files) or `delta` (a Delta table per folder).
        include_deleted: Also export contacts and customers marked deleted.
        destination: The destination the load pipeline wrote to.
        dataset_name: The load pipeline's dataset.
        pipeline_name: The load pipeline's name.
        pipelines_dir: The load pipeline's working folder root, if not dlt's default.

    Returns:
        The rows written per table and the load they came from.

    Raises:
        NoLoadedData: Nothing was loaded into the dataset yet.
        ExportConflict: A load finished while the tables were read.
        RunLocked: A load of the same pipeline is running.
    """
    if table_format not in FORMATS:
        raise ConfigError(f"--format {table_format} is not one of {', '.join(FORMATS)}")
    started = time.monotonic()
    local = local_path(to)
    if local is not None:
        check_replaceable(local)
    if destination == "duckdb" and not Path(duckdb_path(pipeline_name)).exists():
        raise no_loaded_data(pipeline_name, dataset_name)
    source = make_pipeline(
        destination,
        pipeline_name=pipeline_name,
        dataset_name=dataset_name,
        pipelines_dir=pipelines_dir,
    )
    summary = ExportSummary(str(local or to), table_format, "")
    with tempfile.TemporaryDirectory(prefix="flowretail-export-") as scratch:
        staging = make_staging(local)
        writer = export_pipeline(
            pipeline_name, to if staging is None else staging.as_uri(), scratch
        )
        try:
            with run_lock(source):
                summary.load_id = extract_snapshot(source, writer, summary, include_deleted)
            writer.normalize()
            writer.load().raise_on_failed_jobs()
            dataset_path = writer.destination_client().dataset_path
            publish(writer, dataset_path, local, to, manifest(summary, include_deleted))
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
    summary.seconds = time.monotonic() - started
    logger.info("export of load %s finished in %.1f s", summary.load_id, summary.seconds)
    return summary


def no_loaded_data(pipeline_name: str, dataset_name: str) -> NoLoadedData:
    """Return the error for a dataset that holds no completed load."""
    return NoLoadedData(
        f"dataset {dataset_name} of pipeline {pipeline_name} holds no completed load to export "
        "(looked in the working folder's warehouse): run flowretail load first, from this folder"
    )


def local_path(to: str) -> Path | None:
    """Return the absolute folder `to` names, or None when it is a bucket URL."""
    parsed = urlparse(to)
    if parsed.scheme == "file":
        return Path(parsed.path).resolve()
    if "://" in to:
        return None
    return Path(to).resolve()


def check_replaceable(target: Path) -> None:
    """Refuse to replace a folder that is neither empty nor a previous export."""
    if target.exists() and not target.is_dir():
        raise ConfigError(f"--to {target} is a file; name a folder for the export")
    if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST).exists():
        raise ConfigError(
            f"--to {target} holds files that are not a previous export ({MANIFEST} is missing); "
            "an export replaces its folder as a whole, so name a new or empty folder"
        )


def make_staging(local: Path | None) -> Path | None:
    """Create a fresh hidden folder beside a local export, where the next one is written first."""
    if local is None:
        return None
    local.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{local.name}.staging-", dir=local.parent))


def export_pipeline(pipeline_name: str, bucket_url: str, scratch: str) -> Any:
    """Return a throwaway pipeline that writes into a fresh dataset under `bucket_url`."""
    # A bucket gets a new prefix per export; a local staging folder is new anyway.
    dataset = STAGING_DATASET if bucket_url.startswith("file:") else f"export_{time.time_ns()}"
    return dlt.pipeline(
        pipeline_name=f"{pipeline_name}_export",
        destination=dlt.destinations.filesystem(bucket_url=bucket_url),
        dataset_name=dataset,
        pipelines_dir=scratch,
    )


def newest_load(client: Any) -> str | None:
    """Return the id of the newest completed load in the dataset, or None."""
    loads = client.make_qualified_table_name("_dlt_loads")
    try:
        rows = client.execute_sql(f"SELECT MAX(load_id) FROM {loads} WHERE status = 0")
    except DestinationUndefinedEntity:
        return None
    return str(rows[0][0]) if rows and rows[0][0] is not None else None


def extract_snapshot(
    source: Any, writer: Any, summary: ExportSummary, include_deleted: bool
) -> str:
    """Read the three tables of the newest load into the export pipeline; return the load id."""
    with source.sql_client() as client:
        load_id = newest_load(client)
        if load_id is None:
            raise no_loaded_data(source.pipeline_name, source.dataset_name)
        tables = table_queries(client, include_deleted)
        resource = dlt.resource(
            read_tables(client, tables, summary), name="export", write_disposition="replace"
        )
        writer.extract(
            resource,
            table_format="delta" if summary.table_format == "delta" else None,
            loader_file_format="parquet",
        )
        if newest_load(client) != load_id:
            raise ExportConflict(
                f"a load finished while the export read dataset {source.dataset_name}; nothing "
                "was published: run the export again"
            )
    return load_id


def table_queries(client: Any, include_deleted: bool) -> dict[str, str]:
    """Return the SELECT for each exported table."""
    contacts = client.make_qualified_table_name("contacts")
    customers = client.make_qualified_table_name("customers")
    extensions = client.make_qualified_table_name("contacts__extensions")
    live = "" if include_deleted else " WHERE deleted_at IS NULL"
    join = " AND ".join(f"c.{key} = e.{key}" for key in KEYS.split(", "))
    extension_sql = (
        f"SELECT e.tenant_uid, e.customer_uid, e.customer_contact_uid, e.extension_code, "
        f"e.organization_uid FROM {extensions} e"
    )
    if include_deleted:
        extension_sql += " WHERE e.extension_code IS NOT NULL"
    else:
        extension_sql += (
            f" JOIN {contacts} c ON {join}"
            " WHERE c.deleted_at IS NULL AND e.extension_code IS NOT NULL"
        )
    return {
        "contacts": f"SELECT * FROM {contacts}{live} ORDER BY {KEYS}",
        "customers": f"SELECT * FROM {customers}{live} ORDER BY tenant_uid, customer_uid",
        "contact_extensions": f"{extension_sql} ORDER BY {KEYS}, e.extension_code",
    }


def read_tables(client: Any, queries: dict[str, str], summary: ExportSummary) -> Iterator[Any]:
    """Yield each table's rows as arrow batches marked with the exported table's name."""
    # NOTE: one generator reads the tables one after another: DuckDB's cursors share the
    # connection, so reading two result sets in turn would cut the first one short.
    for table, sql in queries.items():
        summary.tables[table] = 0
        with client.execute_query(sql) as cursor:
            for batch in cursor.iter_arrow(chunk_size=CHUNK_ROWS):
                dlt_columns = [name for name in batch.column_names if name.startswith("_dlt_")]
                batch = batch.drop_columns(dlt_columns)
                summary.tables[table] += batch.num_rows
                yield dlt.mark.with_table_name(batch, table)
        logger.info("export: %d rows read from %s", summary.tables[table], table)


def manifest(summary: ExportSummary, include_deleted: bool) -> dict[str, Any]:
    """Return the manifest written beside the tables."""
    return {
        "load_id": summary.load_id,
        "format": summary.table_format,
        "include_deleted": include_deleted,
        "exported_at": datetime.now(UTC).isoformat(),
        "tables": dict(summary.tables),
    }


def publish(
    writer: Any, dataset_path: str, local: Path | None, to: str, content: dict[str, Any]
) -> None:
    """Make the written dataset the export readers see, replacing the previous one."""
    fs = writer.destination_client().fs_client
    for entry in fs.ls(dataset_path, detail=False):
        if Path(entry).name.startswith("_dlt_") or Path(entry).name == "init":
            fs.rm(entry, recursive=True)
    with fs.open(f"{dataset_path.rstrip('/')}/{MANIFEST}", "w") as handle:
        json.dump(content, handle, indent=2)
    if local is not None:
        publish_local(Path(dataset_path), local)
    else:
        publish_bucket(fs, to, Path(dataset_path.rstrip("/")).name, content)


def publish_local(written: Path, target: Path) -> None:
    """Swap the written folder in place of the previous export with two renames.

    NOTE: a folder cannot be swapped in one step, so between the two renames (microseconds)
    the export folder is absent; a reader sees the old export, no export, or the new one,
    never a mix. A reader that lists the old files and opens them after the swap fails and
    must retry; files it already opened stay readable.
    """
    retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.retired-", dir=target.parent))
    if target.exists():
        target.rename(retired / target.name)
    written.rename(target)
    shutil.rmtree(retired, ignore_errors=True)
    logger.info("export published at %s", target)


def publish_bucket(fs: Any, to: str, prefix: str, content: dict[str, Any]) -> None:
    """Point the bucket's `_latest.json` at the new prefix and drop the export before last.

    NOTE: a bucket has no rename, so each export goes to its own prefix and readers follow
    `_latest.json`, whose single write replaces it whole: a reader sees the old prefix or the
    new one. The previous prefix is kept for readers still reading it; the one before is
    deleted.
    """
    root = to.rstrip("/")
    latest = f"{root}/{LATEST}"
    previous: dict[str, Any] = {}
    if fs.exists(latest):
        with fs.open(latest, "r") as handle:
            previous = json.load(handle)
    with fs.open(latest, "w") as handle:
        json.dump(content | {"prefix": prefix, "previous": previous.get("prefix")}, handle)
    stale = previous.get("previous")
    if stale and stale != prefix:
        fs.rm(f"{root}/{stale}", recursive=True)
    logger.info("export published at %s/%s", root, prefix)
