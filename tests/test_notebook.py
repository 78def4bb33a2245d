"""The contacts notebook, executed against a loaded sandbox and kept clean in git."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from pipelines.load import run_load
from sandbox import Sandbox

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "contacts.ipynb"
HTML = REPO / "build" / "notebooks" / "contacts.html"
FIGURE_LINE = re.compile(r"^(\S.*?)\s{2,}(\d+)$")


def load(sb: Sandbox) -> None:
    """Load the sandbox into the working folder's DuckDB file."""
    run_load(source_options={"base_url": sb.base_url, "access_token": "sandbox-admin"})


def read_notebook() -> Any:
    """Return the committed notebook."""
    return nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]


def execute(folder: Path) -> Any:
    """Run the committed notebook in `folder` and return it with its outputs."""
    notebook = read_notebook()
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    client.execute()
    return notebook


def key_figures(notebook: Any) -> dict[str, int]:
    """Return the figures printed by the cell tagged `key-figures`."""
    cell = next(c for c in notebook.cells if "key-figures" in c.metadata.get("tags", []))
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    return {
        match.group(1): int(match.group(2))
        for match in map(FIGURE_LINE.match, text.splitlines())
        if match
    }


def expected_figures(sb: Sandbox, deleted_contacts: int) -> dict[str, int]:
    """Return the key figures computed from the sandbox's ground truth."""
    contacts = sb.truth_contacts()
    emails = [str(c["email"]).strip() for c in contacts]
    mobiles = [str(c["mobile"]).strip() for c in contacts]
    shared = Counter(
        (c["tenantUid"], c["customerUid"], email.lower())
        for c, email in zip(contacts, emails, strict=True)
        if email
    )
    return {
        "tenants": len(sb.tenants()),
        "live customers": sum(len(sb.truth_customers(t["tenantUid"])) for t in sb.tenants()),
        "live contacts": len(contacts),
        "deleted contacts held": deleted_contacts,
        "contacts with an extension": sum(1 for c in contacts if c["extensions"]),
        "extensions": sum(len(c["extensions"]) for c in contacts),
        "missing email": emails.count(""),
        "malformed email": sum(1 for e in emails if e and "@" not in e),
        "missing mobile": mobiles.count(""),
        "malformed mobile": sum(1 for m in mobiles if m and not re.fullmatch(r"\+\d{7,15}", m)),
        "duplicate email within customer": sum(n for n in shared.values() if n > 1),
        "on deleted customer": 0,
    }


def test_notebook_runs_on_loaded_data_and_prints_the_true_figures(
    sandbox: Sandbox, workdir: Path
) -> None:
    load(sandbox)
    first = {c["customerContactUid"] for c in sandbox.truth_contacts()}
    sandbox.churn(0.05, seed=4)
    gone = sandbox.truth_contacts()[0]
    sandbox.delete_customer(gone["tenantUid"], gone["customerUid"])
    load(sandbox)
    deleted = len(first - {c["customerContactUid"] for c in sandbox.truth_contacts()})

    started = time.monotonic()
    executed = execute(workdir)
    seconds = time.monotonic() - started

    assert key_figures(executed) == expected_figures(sandbox, deleted)
    assert seconds < 60
    HTML.parent.mkdir(parents=True, exist_ok=True)
    html, _ = HTMLExporter().from_notebook_node(executed)  # type: ignore[no-untyped-call]
    HTML.write_text(html, encoding="utf-8")
    assert str(workdir) not in html
    assert "sandbox-admin" not in html
    plots = [
        o for c in executed.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})
    ]
    assert len(plots) == 4


def test_committed_notebook_has_no_outputs_paths_or_tokens() -> None:
    notebook = read_notebook()
    text = NOTEBOOK.read_text(encoding="utf-8")

    code_cells = [c for c in notebook.cells if c.cell_type == "code"]

    assert [c.outputs for c in code_cells] == [[] for _ in code_cells]
    assert {c.execution_count for c in code_cells} == {None}
    for forbidden in ("/work", "/tmp", "/home", "/root", "sandbox-", "access_token", "Bearer"):
        assert forbidden not in text
