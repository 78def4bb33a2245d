"""`flowretail demo`: the main job end to end on a local sandbox and DuckDB.

It starts a sandbox, loads it in full, lets the sandbox change some contacts, runs the
incremental load, and shows what changed. It replaces the data of the `flowretail` pipeline in
the working folder, so run it in a folder of its own.
"""

from __future__ import annotations

import argparse
import logging

import duckdb

from sandbox import SandboxConfig, start_sandbox

from .common import duckdb_path
from .load import LoadSummary, run_load

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of `flowretail demo`."""
    parser.add_argument("--customers", type=int, default=500, help="customers per tenant")
    parser.add_argument("--tenants", type=int, default=2)
    parser.add_argument("--latency-ms", type=float, default=5.0, help="added to every request")
    parser.add_argument("--churn", type=float, default=0.02, help="share of contacts changed")


def _show(title: str, summary: LoadSummary) -> None:
    print(f"\n== {title}")
    print("\n".join(summary.lines()))


def run(args: argparse.Namespace) -> int:
    """Run the demo and print each step's summary."""
    config = SandboxConfig(
        seed=7, tenants=args.tenants, customers=args.customers, latency_ms=args.latency_ms
    )
    with start_sandbox(config) as sandbox:
        print(f"sandbox serving {sandbox.base_url} with {len(sandbox.truth_contacts())} contacts")
        options = {"base_url": sandbox.base_url, "access_token": sandbox.tokens["admin"]}
        _show("full load", run_load(full_refresh=True, source_options=options))
        report = sandbox.churn(args.churn)
        print(
            f"\nthe sandbox changed contacts: {len(report.modified)} modified, "
            f"{len(report.created)} created, {len(report.deleted)} deleted"
        )
        _show("incremental load", run_load(source_options=options))
        truth = len(sandbox.truth_contacts())
    path = duckdb_path()
    with duckdb.connect(path, read_only=True) as con:
        live = con.execute(
            "SELECT COUNT(*) FROM flowretail.contacts WHERE deleted_at IS NULL"
        ).fetchone()
        recent = con.execute(
            "SELECT customer_contact_uid, display_name, email, last_modified_at, deleted_at "
            "FROM flowretail.contacts ORDER BY last_modified_at DESC NULLS LAST LIMIT 5"
        ).fetchall()
    print(f"\nlive contacts in {path}: {live[0] if live else 0} (the API has {truth})")
    print("most recently changed:")
    for uid, name, email, modified, deleted in recent:
        state = f"deleted {deleted:%Y-%m-%d %H:%M}" if deleted else "live"
        print(f"  {uid}  {name:<28.28} {email or '-':<32.32} {modified:%Y-%m-%d %H:%M:%S} {state}")
    print("\nNext: query it with duckdb, open notebooks/contacts.ipynb, or `flowretail export`.")
    return 0
