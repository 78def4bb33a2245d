"""Runs of the Flow Retail loads and pushes on an orchestrator (the `dagster` extra)."""
