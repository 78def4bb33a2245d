"""`flowretail sandbox`: serve a sandbox on a fixed port until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from sandbox.app import Sandbox
from sandbox.config import SandboxConfig

HELP = "Serve a local, stateful Flow Retail API for demos and tests."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox options to `parser`."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    parser.add_argument("--port", type=int, default=8765, help="port to bind (0: any free port)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated data")
    parser.add_argument("--tenants", type=int, default=2, help="number of tenants")
    parser.add_argument("--customers", type=int, default=1000, help="customers per tenant")
    parser.add_argument("--mean-contacts", type=float, default=4.0, help="contacts per customer")
    parser.add_argument("--max-page-size", type=int, default=100, help="largest page answered")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay per request")
    parser.add_argument(
        "--rate-limit", type=float, default=0.0, help="requests per second (0: unlimited)"
    )
    parser.add_argument("--retry-after", default="1", help="Retry-After value on 429 answers")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share answered 5xx")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="share of dropped requests")
    parser.add_argument("--ignore-sort", action="store_true", help="ignore sortBy/sortDirection")


def config_from(args: argparse.Namespace) -> SandboxConfig:
    """Build the sandbox configuration from parsed arguments."""
    return SandboxConfig(
        seed=args.seed,
        tenants=args.tenants,
        customers=args.customers,
        mean_contacts=args.mean_contacts,
        max_page_size=args.max_page_size,
        latency_ms=args.latency_ms,
        rate_limit_per_second=args.rate_limit,
        retry_after=args.retry_after,
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        ignore_sort=args.ignore_sort,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; print the base URL and the tokens first."""
    sandbox = Sandbox(config_from(args), host=args.host, port=args.port)
    print(f"Flow Retail sandbox at {sandbox.base_url}")
    print(f"Admin endpoints at {sandbox.root_url}/_sandbox/stats")
    for name, token in sandbox.tokens.items():
        print(f"  token {name:<14} Authorization: Bearer {token}")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        print("Sandbox stopped.", file=sys.stderr)
    finally:
        sandbox.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run `python -m sandbox`."""
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=HELP)
    add_arguments(parser)
    return run(parser.parse_args(argv))
