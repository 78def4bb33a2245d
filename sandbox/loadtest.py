"""Measure how many requests per second a sandbox answers to concurrent `requests` sessions.

The sandbox runs in its own process so that client and server do not share one interpreter
lock; the clients are threads, each with its own session, listing contacts of random customers
of one tenant. Run `python -m sandbox.loadtest --help`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event

import requests

from sandbox.admin import SandboxClient
from sandbox.app import Sandbox
from sandbox.config import TOKENS, SandboxConfig


@dataclass(frozen=True, slots=True)
class LoadResult:
    """Outcome of one measurement."""

    latency_ms: float
    clients: int
    requests: int
    failures: int
    seconds: float

    @property
    def per_second(self) -> float:
        """Return answered requests per second."""
        return self.requests / self.seconds


def _serve(config: SandboxConfig, pipe: Connection, stop: Event) -> None:
    with Sandbox(config).start() as sandbox:
        pipe.send(sandbox.root_url)
        stop.wait()


def _client_loop(url: str, customer_uids: list[str], deadline: float, out: list[int]) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKENS['admin']}"
    rng = random.Random(len(out))
    done = failed = 0
    while time.monotonic() < deadline:
        customer_uid = rng.choice(customer_uids)
        response = session.get(f"{url}/{customer_uid}/contacts", params={"pageSize": 100})
        done += 1
        failed += response.status_code != 200
    out.extend([done, failed])


def measure(root_url: str, clients: int, seconds: float, latency_ms: float) -> LoadResult:
    """Run `clients` sessions against a running sandbox for `seconds` at `latency_ms`."""
    admin = SandboxClient(root_url)
    admin.set_faults(clear=True, latency_ms=latency_ms)
    tenant_uid = admin.tenants()[0]["tenantUid"]
    customer_uids = [c["customerUid"] for c in admin.truth_customers(tenant_uid)]
    url = f"{root_url}/v2/tenants/{tenant_uid}/customers"
    results: list[list[int]] = [[] for _ in range(clients)]
    start = time.monotonic()
    threads = [
        threading.Thread(target=_client_loop, args=(url, customer_uids, start + seconds, out))
        for out in results
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    admin.close()
    total = sum(out[0] for out in results)
    failures = sum(out[1] for out in results)
    return LoadResult(latency_ms, clients, total, failures, elapsed)


def main(argv: list[str] | None = None) -> int:
    """Start a sandbox process, measure each latency and print one line per measurement."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.loadtest", description=__doc__)
    parser.add_argument("--customers", type=int, default=10_000, help="customers per tenant")
    parser.add_argument("--clients", type=int, default=16, help="concurrent sessions")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each run")
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 20.0])
    args = parser.parse_args(argv)
    config = SandboxConfig(tenants=1, customers=args.customers)
    receiver, sender = multiprocessing.Pipe(duplex=False)
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=_serve, args=(config, sender, stop), daemon=True)
    server.start()
    root_url = receiver.recv()
    try:
        for latency_ms in args.latency_ms:
            result = measure(root_url, args.clients, args.seconds, latency_ms)
            print(
                f"latency {result.latency_ms:g} ms, {result.clients} clients: "
                f"{result.per_second:.0f} requests/s "
                f"({result.requests} in {result.seconds:.1f} s, {result.failures} failed)"
            )
    finally:
        stop.set()
        server.join(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
