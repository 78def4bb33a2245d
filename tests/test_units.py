"""Unit tests of pure logic: paging decisions, timestamps, retry delays, settings, redaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from sources.flowretail.client import RetryPolicy, redact
from sources.flowretail.errors import ConfigError, ProtocolError, error_for_status
from sources.flowretail.paging import TotalCountPaginator
from sources.flowretail.rows import parse_timestamp
from sources.flowretail.settings import Settings


def _response(items: list[Any], total: int | None, page_size: int | None) -> requests.Response:
    response = requests.Response()
    paging = {"pageNumber": 1, "totalCount": total, "pageSize": page_size}
    response.flowretail_payload = {"items": items, "paging": paging}  # type: ignore[attr-defined]
    response.request = requests.Request("GET", "http://api.test/v2/x").prepare()
    return response


def _walk(pages: list[tuple[list[Any], int | None, int | None]], page_size: int | None = 3) -> int:
    paginator = TotalCountPaginator(page_size=page_size)
    walked = 0
    for items, total, size in pages:
        walked += 1
        paginator.update_state(_response(items, total, size), items)
        if not paginator.has_next_page:
            break
        paginator.update_request(requests.Request("GET", "http://api.test/v2/x"))
    return walked


def test_paging_stops_when_total_count_is_reached_without_an_extra_request() -> None:
    assert _walk([([1, 2, 3], 6, 3), ([4, 5, 6], 6, 3), ([], 6, 3)]) == 2


def test_paging_follows_total_count_past_a_short_page() -> None:
    # a server that caps at 2 but echoes the 3 asked for: the short page is not the last
    assert _walk([([1, 2], 5, 3), ([3, 4], 5, 3), ([5], 5, 3)]) == 3


def test_paging_without_total_count_stops_on_a_short_page() -> None:
    assert _walk([([1, 2, 3], None, 3), ([4], None, 3), ([5], None, 3)]) == 2


def test_paging_without_any_size_or_count_stops_on_an_empty_page() -> None:
    request = requests.Request("GET", "http://api.test/v2/x", params={"sortBy": "x"})
    TotalCountPaginator(page_size=None).init_request(request)

    assert request.params == {"sortBy": "x", "pageNumber": 1}
    assert _walk([([1, 2, 3], None, None), ([4], None, None), ([], None, None)], None) == 3


def test_paging_stops_on_an_empty_page_even_if_total_count_says_more() -> None:
    assert _walk([([1, 2, 3], 9, 3), ([], 9, 3), ([4], 9, 3)]) == 2


def test_an_empty_first_page_with_a_count_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="number pages from 0"):
        _walk([([], 4, 3)])


def test_a_server_ignoring_page_number_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="ignores pageNumber"):
        _walk([([1, 2, 3], 9, 3), ([1, 2, 3], 9, 3)])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-07-30T17:19:18.781Z", datetime(2025, 7, 30, 17, 19, 18, 781000, tzinfo=UTC)),
        ("2025-07-30T17:19:18Z", datetime(2025, 7, 30, 17, 19, 18, tzinfo=UTC)),
        (
            "2025-07-30T19:19:18.781123456+02:00",
            datetime(2025, 7, 30, 17, 19, 18, 781123, tzinfo=UTC),
        ),
        ("2025-07-30T17:19:18.7", datetime(2025, 7, 30, 17, 19, 18, 700000, tzinfo=UTC)),
        (" 2025-07-30t17:19:18.781z", datetime(2025, 7, 30, 17, 19, 18, 781000, tzinfo=UTC)),
    ],
)
def test_timestamps_parse_to_utc(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


def test_a_malformed_timestamp_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not an ISO 8601"):
        parse_timestamp("yesterday")


def test_retry_after_is_honoured_including_zero_and_capped() -> None:
    policy = RetryPolicy(max_delay_seconds=30)
    assert policy.delay(1, "0") == 0
    assert policy.delay(1, "7") == 7
    assert policy.delay(1, "3600") == 30
    http_date = (datetime.now(UTC) + timedelta(seconds=20)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 15 <= policy.delay(1, http_date) <= 20
    assert 0.25 <= policy.delay(2, None) <= 1.0


def test_repeated_429_with_retry_after_zero_backs_off() -> None:
    policy = RetryPolicy(backoff_seconds=0.5, max_delay_seconds=30)

    assert policy.throttle_delay(1, "0") == 0
    assert 0.5 <= policy.throttle_delay(2, "0") <= 1.0
    assert 2.0 <= policy.throttle_delay(4, None) <= 4.0
    assert policy.throttle_delay(2, "7") == 7
    assert policy.throttle_delay(12, "0") == 30


def test_status_table_maps_each_status_to_an_action() -> None:
    assert "valid token" in str(error_for_status(401, "GET /tenants"))
    assert "tenant admin" in str(error_for_status(403, "GET /tenants"))
    assert error_for_status(404, "GET /x").status == 404
    assert "run again later" in str(error_for_status(503, "GET /x"))


def test_redaction_hides_credentials_and_secret_parameters() -> None:
    assert redact("https://u:p@api.test/v2/x?token=abc&pageSize=5") == (
        "https://***@api.test/v2/x?token=***&pageSize=5"
    )


def _settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "base_url": "https://api.flowretail.com/v2/",
        "access_token": "secret-token",
        "tenants": [],
        "page_size": 1000,
        "concurrency": 16,
        "lookback_seconds": 300,
        "max_delete_share": 0.25,
    }
    return Settings.validate(**(values | overrides))


def test_settings_normalise_the_base_url_and_tenants() -> None:
    settings = _settings(tenants="t-1, t-2,t-1")
    assert settings.base_url == "https://api.flowretail.com/v2"
    assert settings.tenants == ("t-1", "t-2")


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"base_url": "api.flowretail.com"}, "base_url"),
        ({"access_token": ""}, "access_token"),
        ({"access_token": "Bearer abc"}, "access_token"),
        ({"tenants": ["bad uid"]}, "tenants"),
        ({"page_size": 0}, "page_size"),
        ({"concurrency": 500}, "concurrency"),
        ({"max_delete_share": 2}, "max_delete_share"),
    ],
)
def test_invalid_settings_name_the_setting_and_never_the_token(
    overrides: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError, match=named) as failure:
        _settings(**overrides)
    assert "secret-token" not in str(failure.value)
