"""Ready-to-query views over the loaded tables, created (or replaced) by every load."""

from __future__ import annotations

from typing import Any


def create_views(pipeline: Any) -> None:
    """Create or replace the analysts' views in the pipeline's dataset."""
