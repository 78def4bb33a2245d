"""The running sandbox: data, faults and counters behind a loopback HTTP server.

Example:
    >>> with start_sandbox(SandboxConfig(seed=1, customers=100)) as sandbox:
    ...     headers = {"Authorization": f"Bearer {sandbox.tokens['admin']}"}
    ...     requests.get(f"{sandbox.base_url}/tenants", headers=headers).json()
"""

from __future__ import annotations

import logging
import random
import threading
from types import TracebackType
from typing import Any

from sandbox.admin_api import AdminApi
from sandbox.churn import ChurnReport, churn
from sandbox.config import TOKENS, SandboxConfig
from sandbox.faults import Faults, FaultSettings
from sandbox.generator import contacts_for, generate, new_customer
from sandbox.model import JsonDict, now_ms
from sandbox.routes import Api
from sandbox.server import Counters, SandboxServer
from sandbox.store import Store

logger = logging.getLogger(__name__)


class Sandbox:
    """A local, stateful Flow Retail API v2 with ground truth, faults and counters.

    The server binds on construction; `start` serves it from a daemon thread and `stop` shuts
    it down and cuts kept-alive connections. Use it as a context manager to do both.
    """

    def __init__(
        self, config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config or SandboxConfig()
        self.store = Store(self.config, generate(self.config))
        self.faults = Faults(self.config)
        self.api = Api(self.store, self.faults)
        self.admin = AdminApi(self)
        self.counters = Counters()
        self._rng = random.Random(self.config.seed * 7_777 + 11)
        self._server = SandboxServer((host, port), self)
        self._thread: threading.Thread | None = None

    @property
    def root_url(self) -> str:
        """Return `http://host:port` of the server."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def base_url(self) -> str:
        """Return the API base URL, `http://host:port/v2`."""
        return f"{self.root_url}/v2"

    @property
    def tokens(self) -> dict[str, str]:
        """Return the well-known bearer tokens by name."""
        return dict(TOKENS)

    def start(self) -> Sandbox:
        """Serve requests from a daemon thread; return self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
            logger.info("Sandbox serving %s", self.base_url)
        return self

    def serve_forever(self) -> None:
        """Serve requests in the calling thread until `stop` or an interrupt."""
        self._server.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        """Stop serving, close the socket and cut open connections."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.close_connections()
        self._server.server_close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def tenants(self) -> list[JsonDict]:
        """Return every tenant as the API shows it."""
        return self.store.truth_tenants()

    def truth_contacts(self, tenant_uid: str | None = None) -> list[JsonDict]:
        """Return every contact as the API shows it plus `tenantUid` and `customerUid`."""
        return self.store.truth_contacts(tenant_uid)

    def truth_customers(self, tenant_uid: str | None = None) -> list[JsonDict]:
        """Return every customer as the API shows it."""
        return self.store.truth_customers(tenant_uid)

    @property
    def request_count(self) -> int:
        """Return the number of `/v2` requests received, faulted ones included."""
        return self.counters.total()

    def request_counts(self) -> dict[tuple[str, str], int]:
        """Return `/v2` request counts by (method, route template such as `/tenants`)."""
        return self.counters.by_route()

    def reset_counters(self) -> None:
        """Set the request counters back to zero."""
        self.counters.reset()

    @property
    def fault_settings(self) -> FaultSettings:
        """Return the current fault knobs."""
        return self.faults.settings

    def configure_faults(self, **knobs: Any) -> FaultSettings:
        """Change fault knobs (see `FaultSettings`); the others keep their values."""
        return self.faults.configure(**knobs)

    def clear_faults(self) -> None:
        """Switch every fault off and drop pending injections."""
        self.faults.clear()

    def inject(
        self,
        method: str | None = None,
        path_contains: str = "",
        count: int = 1,
        action: str = "503",
    ) -> None:
        """Fault the next `count` matching `/v2` requests; see `Faults.inject`."""
        self.faults.inject(method, path_contains, count, action)

    def churn(self, share: float = 0.01, seed: int | None = None) -> ChurnReport:
        """Modify, create and delete about `share` of all contacts, like real writes."""
        rng = self._rng if seed is None else random.Random(seed)
        return churn(self.store, rng, share)

    def delete_customer(self, tenant_uid: str, customer_uid: str) -> None:
        """Delete a customer and its contacts."""
        self.store.delete_customer(tenant_uid, customer_uid)

    def add_customer(self, tenant_uid: str, *, contacts: int = 0) -> JsonDict:
        """Add a generated customer with `contacts` contacts; return it as the API shows it."""
        with self.store.lock:
            tenant = self.store.tenant(tenant_uid)
            number = len(tenant.customers) + 1
            customer = new_customer(self._rng, tenant, number, now_ms(), contacts)
            customer.external_id = f"C-N{number:06d}-{customer.uid[:4]}"
            for contact in contacts_for(self._rng, contacts, [customer.created]):
                contact.created = contact.modified = customer.created
                customer.contacts[contact.uid] = contact
            self.store.add_customer(tenant_uid, customer)
            return customer.render(tenant.organization_uid, self.config.embedded_contacts_limit)


def start_sandbox(
    config: SandboxConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> Sandbox:
    """Start a sandbox on a background thread and return it; call `stop` or use `with`."""
    return Sandbox(config, host=host, port=port).start()
