"""`flowretail export`, read back with pyarrow, deltalake and fsspec against the ground truth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import fsspec  # type: ignore[import-untyped]
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from pipelines.cli import main
from pipelines.common import EXIT_CONFIG, EXIT_LOCKED, EXIT_OK, duckdb_path, make_pipeline, run_lock
from pipelines.export import run_export
from pipelines.load import run_load
from sandbox import SandboxConfig, start_sandbox
from sandbox.app import Sandbox
from sources.flowretail.rows import parse_timestamp

TABLES = ["contact_extensions", "contacts", "customers"]
CONTACT_COLUMNS = [
    "tenant_uid",
    "customer_uid",
    "customer_contact_uid",
    "firstname",
    "lastname",
    "display_name",
    "email",
    "mobile",
    "created_at",
    "last_modified_at",
]


class Loaded:
    """A warehouse loaded twice from a sandbox, with what the sandbox held at each load."""

    def __init__(self, sb: Sandbox, folder: Path) -> None:
        self.sandbox = sb
        self.folder = folder
        self.first_keys: set[tuple[str, str, str]] = set()


def load(sb: Sandbox) -> None:
    """Load the sandbox into the working folder's DuckDB file."""
    run_load(source_options={"base_url": sb.base_url, "access_token": "sandbox-admin"})


def contact_keys(sb: Sandbox) -> set[tuple[str, str, str]]:
    """Return the keys of the sandbox's contacts."""
    return {
        (c["tenantUid"], c["customerUid"], c["customerContactUid"]) for c in sb.truth_contacts()
    }


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """Load a small sandbox, churn it, delete a customer and load again, once for the module."""
    folder = tmp_path_factory.mktemp("export")
    with (
        pytest.MonkeyPatch.context() as patch,
        start_sandbox(SandboxConfig(seed=11, tenants=2, customers=40)) as sb,
    ):
        patch.chdir(folder)
        patch.setenv("DLT_DATA_DIR", str(folder / "dlt_data"))
        state = Loaded(sb, folder)
        load(sb)
        state.first_keys = contact_keys(sb)
        sb.churn(0.05, seed=5)
        first = sb.truth_contacts()[0]
        sb.delete_customer(first["tenantUid"], first["customerUid"])
        load(sb)
        yield state


@pytest.fixture
def in_loaded(loaded: Loaded, monkeypatch: pytest.MonkeyPatch) -> Loaded:
    """Work in the loaded warehouse's folder."""
    monkeypatch.chdir(loaded.folder)
    monkeypatch.setenv("DLT_DATA_DIR", str(loaded.folder / "dlt_data"))
    return loaded


def read_folder(folder: Path) -> list[dict[str, Any]]:
    """Return the rows of every Parquet file in `folder`."""
    rows: list[dict[str, Any]] = pq.read_table(folder).to_pylist()
    return rows


def expected_contacts(sb: Sandbox) -> set[tuple[Any, ...]]:
    """Return the sandbox's contacts as exported rows."""
    return {
        (
            c["tenantUid"],
            c["customerUid"],
            c["customerContactUid"],
            c["firstname"],
            c["lastname"],
            c["displayName"],
            c["email"],
            c["mobile"],
            parse_timestamp(c["createdAt"]),
            parse_timestamp(c["lastModifiedAt"]),
        )
        for c in sb.truth_contacts()
    }


def expected_customers(sb: Sandbox) -> set[tuple[str, str, str, str]]:
    """Return (tenant, customer, display name, type) of the sandbox's customers."""
    return {
        (tenant["tenantUid"], c["customerUid"], c["displayName"], c["customerType"])
        for tenant in sb.tenants()
        for c in sb.truth_customers(tenant["tenantUid"])
    }


def expected_extensions(sb: Sandbox) -> set[tuple[str, ...]]:
    """Return the sandbox's contact extensions as exported rows."""
    return {
        (
            c["tenantUid"],
            c["customerUid"],
            c["customerContactUid"],
            e["extensionCode"],
            e["organizationUid"],
        )
        for c in sb.truth_contacts()
        for e in c["extensions"]
    }


def as_contacts(rows: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """Return exported contact rows as tuples of the compared columns."""
    return {tuple(row[name] for name in CONTACT_COLUMNS) for row in rows}


def as_customers(rows: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """Return exported customer rows as (tenant, customer, display name, type)."""
    return {
        (r["tenant_uid"], r["customer_uid"], r["display_name"], r["customer_type"]) for r in rows
    }


def as_extensions(rows: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """Return exported extension rows as tuples."""
    return {tuple(row.values()) for row in rows}


def newest_load_id() -> str:
    """Return the newest completed load id of the working folder's warehouse."""
    with duckdb.connect(duckdb_path(), read_only=True) as con:
        rows = con.execute("SELECT MAX(load_id) FROM flowretail._dlt_loads WHERE status = 0")
        return str(rows.fetchall()[0][0])


def test_export_writes_the_current_rows_of_each_table(
    in_loaded: Loaded, capsys: pytest.CaptureFixture[str]
) -> None:
    sb = in_loaded.sandbox
    target = in_loaded.folder / "flowretail_export"

    code = main(["export"])

    assert code == EXIT_OK
    assert sorted(p.name for p in target.iterdir()) == ["_manifest.json", *TABLES]
    contacts = read_folder(target / "contacts")
    assert len(contacts) == len(sb.truth_contacts())
    assert as_contacts(contacts) == expected_contacts(sb)
    assert {row["deleted_at"] for row in contacts} == {None}
    assert as_customers(read_folder(target / "customers")) == expected_customers(sb)
    assert as_extensions(read_folder(target / "contact_extensions")) == expected_extensions(sb)
    manifest = json.loads((target / "_manifest.json").read_text())
    assert manifest["load_id"] == newest_load_id()
    assert manifest["tables"] == {
        "contacts": len(sb.truth_contacts()),
        "customers": len(expected_customers(sb)),
        "contact_extensions": len(expected_extensions(sb)),
    }
    assert f"load {manifest['load_id']} exported to" in capsys.readouterr().out


def test_export_include_deleted_adds_the_deleted_rows(in_loaded: Loaded) -> None:
    sb = in_loaded.sandbox
    deleted = in_loaded.first_keys - contact_keys(sb)

    run_export(to="with_deleted", include_deleted=True)

    contacts = read_folder(Path("with_deleted/contacts"))
    marked = {
        (r["tenant_uid"], r["customer_uid"], r["customer_contact_uid"])
        for r in contacts
        if r["deleted_at"] is not None
    }
    assert marked == deleted
    assert len(contacts) == len(sb.truth_contacts()) + len(deleted)
    customers = read_folder(Path("with_deleted/customers"))
    assert len([r for r in customers if r["deleted_at"] is not None]) == 1
    assert as_extensions(read_folder(Path("with_deleted/contact_extensions"))) == (
        expected_extensions(sb)
    )


def test_export_as_delta_reads_back_with_deltalake(in_loaded: Loaded) -> None:
    sb = in_loaded.sandbox

    run_export(to="delta_export", table_format="delta")

    contacts = DeltaTable("delta_export/contacts").to_pyarrow_table().to_pylist()
    assert as_contacts(contacts) == expected_contacts(sb)
    extensions = DeltaTable("delta_export/contact_extensions").to_pyarrow_table().to_pylist()
    assert as_extensions(extensions) == expected_extensions(sb)


def test_export_to_a_bucket_moves_the_latest_pointer(in_loaded: Loaded) -> None:
    sb = in_loaded.sandbox
    fs = fsspec.filesystem("memory")

    for _ in range(3):
        run_export(to="memory://analytics/flowretail")

    latest = json.loads(fs.cat("/analytics/flowretail/_latest.json"))
    prefixes = {Path(p).name for p in fs.ls("/analytics/flowretail", detail=False)}
    assert prefixes == {"_latest.json", latest["prefix"], latest["previous"]}
    files = fs.glob(f"/analytics/flowretail/{latest['prefix']}/contacts/*.parquet")
    with fs.open(files[0], "rb") as handle:
        assert as_contacts(pq.read_table(handle).to_pylist()) == expected_contacts(sb)
    assert latest["load_id"] == newest_load_id()


def test_export_while_a_load_runs_does_nothing(
    in_loaded: Loaded, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = make_pipeline()

    with run_lock(pipeline):
        code = main(["export", "--to", "while_locked"])

    assert code == EXIT_LOCKED
    assert not Path("while_locked").exists()
    assert "in progress" in capsys.readouterr().err


def test_export_refuses_to_replace_a_folder_it_did_not_write(
    in_loaded: Loaded, capsys: pytest.CaptureFixture[str]
) -> None:
    foreign = Path("notes")
    foreign.mkdir(exist_ok=True)
    (foreign / "keep.txt").write_text("mine")

    code = main(["export", "--to", "notes"])

    assert code == EXIT_CONFIG
    assert [p.name for p in foreign.iterdir()] == ["keep.txt"]
    assert "not a previous export" in capsys.readouterr().err


def test_export_before_any_load_says_to_load_first(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["export"])

    assert code == EXIT_CONFIG
    assert "run flowretail load first" in capsys.readouterr().err
    assert list(workdir.glob("*.duckdb")) == []


def test_export_again_replaces_the_previous_export_whole(sandbox: Sandbox, workdir: Path) -> None:
    load(sandbox)
    run_export()
    first_files = set(Path("flowretail_export").rglob("*.parquet"))
    sandbox.churn(0.05, seed=9)
    load(sandbox)

    run_export()

    files = set(Path("flowretail_export").rglob("*.parquet"))
    assert files.isdisjoint(first_files)
    assert len(files) == 3
    assert as_contacts(read_folder(Path("flowretail_export/contacts"))) == (
        expected_contacts(sandbox)
    )
    manifest = json.loads(Path("flowretail_export/_manifest.json").read_text())
    assert manifest["load_id"] == newest_load_id()
    assert sorted(p.name for p in workdir.iterdir() if p.name.startswith(".")) == []
