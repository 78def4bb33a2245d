"""Page-number paging driven by `paging.totalCount` and the page size the server answered."""

from __future__ import annotations

import logging
from typing import Any

from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Request, Response

from .errors import ProtocolError

logger = logging.getLogger(__name__)


def payload_of(response: Response) -> Any:
    """Return the response's JSON, parsed once by the client's response hook."""
    cached = getattr(response, "flowretail_payload", None)
    return cached if cached is not None else response.json()


class TotalCountPaginator(BasePaginator):
    """Walk `pageNumber` from 1 until every item `totalCount` announced has been seen.

    Without a `totalCount` the walk ends on an empty or short page, judged by the page size the
    server answered (the maximum is undocumented). A short page while `totalCount` says more
    exist does not end the walk: a server that caps `pageSize` but echoes the size asked for
    would otherwise lose rows; an empty page always ends it. A server that ignores `pageNumber`
    (the same page again) raises `ProtocolError` instead of looping. With `page_size` None no
    `pageSize` is sent and the server's default applies.
    """

    def __init__(self, page_size: int | None) -> None:
        super().__init__()
        self.page_size = page_size
        self.page_number = 1
        self.total_count: int | None = None
        self.answered_page_size = page_size
        self.seen = 0
        self._last_fingerprint: tuple[str, str] | None = None

    def init_request(self, request: Request) -> None:
        size = {} if self.page_size is None else {"pageSize": self.page_size}
        request.params = {**(request.params or {}), "pageNumber": 1, **size}

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        items = data or []
        paging = payload_of(response).get("paging") or {}
        self.total_count = _int_or_none(paging.get("totalCount"))
        self.answered_page_size = _int_or_none(paging.get("pageSize")) or self.page_size
        if not items and self.page_number == 1 and self.total_count:
            # NOTE: page numbers from 1 are what every public example uses; a server counting
            # from 0 would answer page 1 empty for a short list, and rows would go missing.
            raise ProtocolError(
                f"{_path(response)} answered page 1 empty although totalCount is "
                f"{self.total_count}: the server may number pages from 0, which is not supported"
            )
        self._check_not_repeated(response, items)
        self.seen += len(items)
        if not items:
            self._has_next_page = False
        elif self.total_count is not None:
            self._has_next_page = self.seen < self.total_count
        elif self.answered_page_size is None:
            self._has_next_page = True  # no size known to call a page short: stop on an empty one
        else:
            self._has_next_page = len(items) >= self.answered_page_size
        if self._has_next_page and self.page_number > (self.total_count or 0) + 10_000:
            raise ProtocolError(f"paging never ends at {_path(response)}: page {self.page_number}")

    def update_request(self, request: Request) -> None:
        self.page_number += 1
        request.params = {**(request.params or {}), "pageNumber": self.page_number}

    def _check_not_repeated(self, response: Response, items: list[Any]) -> None:
        if not items:
            return
        fingerprint = (repr(items[0]), repr(items[-1]))
        if fingerprint == self._last_fingerprint:
            raise ProtocolError(
                f"{_path(response)} answered page {self.page_number} with the same items as the "
                "page before: the server ignores pageNumber, so paging cannot be trusted"
            )
        self._last_fingerprint = fingerprint


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _path(response: Response) -> str:
    return response.request.path_url.split("?")[0] if response.request else "the endpoint"
