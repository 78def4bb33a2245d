"""Runnable jobs on top of the Flow Retail source: load, check, push, export, demo, and the CLI."""
