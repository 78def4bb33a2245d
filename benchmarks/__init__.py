"""Benchmarks of this connector against dlt's `rest_api` source and a plain `requests` loop.

Run `python -m benchmarks --help`; results land in `benchmarks/results/<label>/`.
"""
