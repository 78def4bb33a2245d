"""HTTP client for Flow Retail API v2: bearer auth, pooled connections, retries, typed errors.

Retries live here and nowhere else: `RetryingSession.send` retries 429, 5xx, timeouts and
dropped connections with exponential backoff, honouring `Retry-After` (including `0`) up to a cap.
Every write the connector sends is idempotent by design, so retrying writes is safe.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from dlt.common.json import json
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.client import RESTClient
from dlt.sources.helpers.rest_client.typing import HTTPMethod
from requests.adapters import HTTPAdapter

from .errors import ProtocolError, RequestRejected, ServerError, error_for_status
from .paging import TotalCountPaginator, payload_of

if TYPE_CHECKING:
    from requests.sessions import _Settings

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
UID_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a failing or throttled request.

    A 429 is flow control, not failure: it has its own, larger budget (`max_throttled`), and
    every thread of the client holds off for the pause it sets.
    """

    max_attempts: int = 6
    max_throttled: int = 20
    backoff_seconds: float = 0.5
    max_delay_seconds: float = 30.0
    timeout: tuple[float, float] = (10.0, 60.0)

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Return the pause before retry number `attempt` (1-based) after a failure."""
        seconds = _retry_after_seconds(retry_after)
        if seconds is not None:
            return min(seconds, self.max_delay_seconds)
        return self._backoff(attempt)

    def throttle_delay(self, throttled: int, retry_after: str | None) -> float:
        """Return the pause after the `throttled`-th 429 in a row for one request.

        The server's `Retry-After` is the least pause. A first `Retry-After: 0` is taken at its
        word; from the second 429 in a row on, the pause is at least the exponential backoff, so
        that a server answering 429 with `Retry-After: 0` never drives a tight loop.
        """
        seconds = _retry_after_seconds(retry_after)
        floor = 0.0 if throttled == 1 and seconds is not None else self._backoff(throttled)
        return min(max(seconds or 0.0, floor), self.max_delay_seconds)

    def _backoff(self, attempt: int) -> float:
        backoff = self.backoff_seconds * 2 ** (attempt - 1)
        return float(min(backoff * random.uniform(0.5, 1.0), self.max_delay_seconds))


def _retry_after_seconds(value: str | None) -> float | None:
    if value is None:
        return None
    value = value.strip()
    if value.replace(".", "", 1).isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def redact(url: str) -> str:
    """Return the URL without credentials or query values that could hold secrets."""
    url = re.sub(r"//[^/@]+@", "//***@", url)
    return re.sub(r"(?i)([?&](?:token|access_token|key|secret|password)=)[^&]*", r"\1***", url)


class RetryingSession(requests.Session):
    """A `requests.Session` that retries transient failures and counts what it sends."""

    def __init__(self, policy: RetryPolicy, pool_size: int) -> None:
        super().__init__()
        self.policy = policy
        self._lock = threading.Lock()
        self.requests_sent = 0
        self._resume_at = 0.0  # monotonic time before which no request is sent (after a 429)
        self._environment: dict[tuple[str, str], _Settings] = {}
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def merge_environment_settings(
        self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> _Settings:
        """Read proxy and CA settings from the environment once per scheme and host.

        `requests` scans the environment (proxy variables, `no_proxy` matching, CA bundle) on
        every request: about 130 µs here, a tenth of a contact page's CPU. NOTE: environment
        changes made after a host's first request are not seen by this session.
        """
        if proxies or stream is not None or verify is not None or cert is not None or not url:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url if isinstance(url, str) else url.decode())
        key = (parts.scheme, parts.netloc)
        if key not in self._environment:
            self._environment[key] = super().merge_environment_settings(url, {}, None, None, None)
        return self._environment[key].copy()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.policy.timeout)
        where = f"{request.method} {redact(request.url or '')}"
        failures = throttled = 0
        while True:
            self._hold_while_throttled()
            with self._lock:
                self.requests_sent += 1
            started = time.monotonic()
            try:
                response = super().send(request, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                failures += 1
                if failures == self.policy.max_attempts:
                    raise ServerError(
                        f"{where} failed {failures} times: {type(exc).__name__}"
                    ) from exc
                self._pause(where, self.policy.delay(failures, None), type(exc).__name__)
                continue
            status = response.status_code
            logger.debug("%s -> %s in %.0f ms", where, status, (time.monotonic() - started) * 1000)
            if status not in RETRY_STATUSES:
                return response
            retry_after = response.headers.get("Retry-After")
            if status == 429:
                throttled += 1
                if throttled < self.policy.max_throttled:
                    self._throttle(where, self.policy.throttle_delay(throttled, retry_after))
                    continue
            else:
                failures += 1
                if failures < self.policy.max_attempts:
                    self._pause(where, self.policy.delay(failures, retry_after), status)
                    continue
            raise error_for_status(status, where, _body_excerpt(response))

    def _pause(self, where: str, delay: float, reason: object) -> None:
        logger.debug("%s: %s, retry in %.2f s", where, reason, delay)
        time.sleep(delay)

    def _throttle(self, where: str, delay: float) -> None:
        """Hold every request of this session off for `delay`, the server having said 429."""
        with self._lock:
            self._resume_at = max(self._resume_at, time.monotonic() + delay)
        logger.debug("%s: 429, all requests wait %.2f s", where, delay)

    def _hold_while_throttled(self) -> None:
        pause = self._resume_at - time.monotonic()
        if pause > 0:
            time.sleep(pause)


class _ItemsClient(RESTClient):
    """dlt's REST client reading `items` from the payload the response hook parsed once."""

    def _log_request(self, request: requests.Request, prepared_url: str) -> None:
        """Log nothing here: `RetryingSession.send` logs each attempt at DEBUG.

        dlt's version sanitizes the URL and formats its message on every request even when
        INFO is off, a measurable share of the client's CPU.
        """

    def extract_response(self, response: requests.Response, data_selector: Any) -> list[Any]:
        payload = payload_of(response)
        items = payload.get("items") if isinstance(payload, dict) else None
        if not isinstance(items, list):
            raise ProtocolError(f"{redact(response.url)} answered a page without an items list")
        return items


@dataclass
class Page:
    """One page of a list endpoint."""

    items: list[dict[str, Any]]
    page_number: int
    total_count: int | None
    server_time: datetime | None = field(default=None)
    sorted: bool = True  # False when the server refused the sort asked for and got none


@dataclass(frozen=True)
class ListForm:
    """One way to ask for a list: with or without the caller's sort and our page size."""

    sort: bool
    page_size: bool

    def left_out(self) -> str:
        """Name the query parameters this form does not send."""
        sent = (("sortBy", self.sort), ("pageSize", self.page_size))
        return " and ".join(name for name, is_sent in sent if not is_sent)


# Tried in this order when the first page of a list answers 400.
LIST_FORMS = (
    ListForm(True, True),
    ListForm(True, False),
    ListForm(False, True),
    ListForm(False, False),
)
SORT_PARAMS = ("sortBy", "sortDirection")


class FlowRetailClient:
    """Talk to one Flow Retail API base URL with one token.

    Args:
        base_url: The API root, for example `https://api.flowretail.com/v2`.
        access_token: An integration, access or auth token; sent as a bearer token only.
        page_size: Items to ask for per page; the server may answer with fewer.
        pool_size: Connections to keep open, at least the number of concurrent requests.
        retry: The retry policy for transient failures.
    """

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        page_size: int = 1000,
        pool_size: int = 16,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.session = RetryingSession(retry or RetryPolicy(), pool_size + 4)
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "flowretail-connector/0.1 (+dlt)"
        # Per (list template, sorting asked): the index into LIST_FORMS the server takes, and
        # the endpoints whose form a first page has confirmed.
        self._accepted_forms: dict[tuple[str, bool], int] = {}
        self._settled_forms: set[tuple[str, bool]] = set()
        self._probe_lock = threading.Lock()
        self._rest = _ItemsClient(
            self.base_url,
            auth=BearerTokenAuth(access_token),
            session=self.session,
            data_selector="items",
        )

    @property
    def requests_sent(self) -> int:
        """Return how many HTTP requests went out, retries included."""
        return self.session.requests_sent

    def pages(
        self, template: str, params: Mapping[str, Any] | None = None, **uids: str
    ) -> Iterator[Page]:
        """Yield the pages of a list endpoint, from page 1 until the last one.

        NOTE: the API documents neither the `sortBy` values it takes nor its largest page
        size. A 400 on a list's first page is read as a refusal of either: the list is asked
        again without the sort, without `pageSize`, then without both, and the first form the
        server takes is kept for that endpoint for the rest of the run. `Page.sorted` is False
        when the sort asked for was left out.
        """
        asked = dict(params or {})
        sorting = any(name in asked for name in SORT_PARAMS)
        key = (template, sorting)
        probed: tuple[Page | None, Iterator[Page]] | None = None
        if key not in self._settled_forms:
            with self._probe_lock:  # contended only until each endpoint's form is known
                if key not in self._settled_forms:
                    probed = self._probe(key, template, asked, uids)
                    self._settled_forms.add(key)
        if probed is None:
            form = self._forms(sorting)[self._accepted_forms.get(key, 0)]
            yield from self._form_pages(template, _query(asked, form), form, uids)
            return
        first, rest = probed
        if first is not None:
            yield first
        yield from rest

    def _probe(
        self, key: tuple[str, bool], template: str, asked: dict[str, Any], uids: Mapping[str, str]
    ) -> tuple[Page | None, Iterator[Page]]:
        """Find the first form of the list the server takes; return its first page and the rest."""
        forms = self._forms(key[1])
        index = self._accepted_forms.get(key, 0)
        while True:
            form = forms[index]
            pages = self._form_pages(template, _query(asked, form), form, uids)
            try:
                return next(pages, None), pages
            except RequestRejected:
                if index + 1 == len(forms):
                    raise
                index += 1
                self._accepted_forms[key] = index
                logger.warning(
                    "GET %s answered 400 on its first page; asking without %s from now on",
                    template,
                    forms[index].left_out(),
                )

    @staticmethod
    def _forms(sorting: bool) -> tuple[ListForm, ...]:
        return LIST_FORMS if sorting else LIST_FORMS[:2]

    def _form_pages(
        self, template: str, query: dict[str, Any], form: ListForm, uids: Mapping[str, str]
    ) -> Iterator[Page]:
        where = _where("GET", template, uids)
        paginator = TotalCountPaginator(self.page_size if form.page_size else None)
        for data in self._rest.paginate(
            _fill(template, uids),
            params=query,
            paginator=paginator,
            hooks={"response": [_checker(where)]},
        ):
            items = list(data)
            if not all(isinstance(item, dict) for item in items):
                raise ProtocolError(f"{where} answered a page whose items are not objects")
            number = paginator.page_number - 1  # the paginator already points at the next page
            yield Page(items, number, paginator.total_count, _server_time(data.response), form.sort)

    def request(
        self, method: HTTPMethod, template: str, *, json: Any = None, **uids: str
    ) -> requests.Response:
        """Send one request and raise the typed error for any error status."""
        where = _where(method, template, uids)
        return self._rest.request(
            _fill(template, uids),
            method=method,
            json=json,
            hooks={"response": [_checker(where)]},
        )

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()


def _fill(template: str, uids: Mapping[str, str]) -> str:
    for name, value in uids.items():
        if not UID_PATTERN.match(value):
            raise ValueError(f"{name} {value!r} is not a valid UID (letters, digits, - and _)")
    return template.format(**uids)


def _query(asked: Mapping[str, Any], form: ListForm) -> dict[str, Any]:
    left_out = (() if form.sort else SORT_PARAMS) + (() if form.page_size else ("pageSize",))
    return {name: value for name, value in asked.items() if name not in left_out}


def _where(method: str, template: str, uids: Mapping[str, str]) -> str:
    scope = ", ".join(f"{name} {value}" for name, value in uids.items())
    return f"{method} {template}" + (f" ({scope})" if scope else "")


def _checker(where: str) -> Any:
    def check(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.status_code in RETRY_STATUSES:
            return  # the session retries these, and raises once it gives up
        if response.status_code >= 400:
            raise error_for_status(response.status_code, where, _body_excerpt(response))
        if response.status_code != 204 and response.content:
            try:
                # orjson: 40% of the CPU of `response.json()` on a page of 100 contacts
                payload = json.loadb(response.content)
                response.flowretail_payload = payload  # type: ignore[attr-defined]
            except ValueError as exc:
                raise ProtocolError(
                    f"{where} answered {response.status_code} without JSON"
                ) from exc

    return check


def _body_excerpt(response: requests.Response, limit: int = 300) -> str:
    text = " ".join(response.text.split())[:limit]
    return re.sub(r"(?i)(bearer\s+)\S+", r"\1***", text)


def _server_time(response: requests.Response) -> datetime | None:
    try:
        return parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError):
        return None


__all__ = ["FlowRetailClient", "Page", "RetryPolicy", "payload_of"]
