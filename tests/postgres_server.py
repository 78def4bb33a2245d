"""A throwaway PostgreSQL server for the warehouse tests, started from the installed binaries."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg2
import pytest


def _bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise RuntimeError("PostgreSQL is not installed: run `apt-get install postgresql` (CI does)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_owner(command: list[str]) -> list[str]:
    # NOTE: initdb and postgres refuse to run as root, which is who CI runs as.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Start a PostgreSQL server on a free loopback port; yield its superuser URL."""
    bin_dir, port = _bin_dir(), _free_port()
    # Not under pytest's temp folder: the server's user must be able to reach its data folder.
    root = Path(tempfile.mkdtemp(prefix="flowretail-pg-"))
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    run: Callable[..., subprocess.CompletedProcess[bytes]] = subprocess.run
    run(
        _as_owner([str(bin_dir / "initdb"), "-D", str(data), "-U", "loader", "-A", "trust"]),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log")]
    run(_as_owner([*start, "-w", "start"]), check=True, capture_output=True)
    url = f"postgresql://loader:loader@127.0.0.1:{port}/postgres"
    try:
        _wait_ready(url)
        yield url
    finally:
        run(
            _as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]), check=False
        )
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            psycopg2.connect(url).close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    """Create an empty database for one test and yield its URL."""
    name = f"test_{os.getpid()}_{time.monotonic_ns()}"
    admin = psycopg2.connect(postgres_url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
