"""Settings of the Flow Retail source, validated before any request is sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from .client import UID_PATTERN
from .errors import ConfigError

PRODUCTION_URL = "https://api.flowretail.com/v2"
STAGE_URL = "https://api.stage.flowretail.com/v2"
SECTION = "sources.flowretail"


@dataclass(frozen=True)
class Settings:
    """Validated settings of one run of the source."""

    base_url: str
    access_token: str
    tenants: tuple[str, ...]
    page_size: int
    concurrency: int
    lookback: timedelta
    max_delete_share: float

    @classmethod
    def validate(
        cls,
        *,
        base_url: str,
        access_token: str,
        tenants: Sequence[str] | str | None,
        page_size: int,
        concurrency: int,
        lookback_seconds: float,
        max_delete_share: float,
    ) -> Settings:
        """Check every setting and name the one to fix, never echoing the token."""
        parts = urlsplit(str(base_url or ""))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"{SECTION}.base_url must be an http(s) URL such as {PRODUCTION_URL}, "
                f"got {base_url!r}"
            )
        token = str(access_token or "").strip()
        if not token or any(ch.isspace() for ch in token) or token.lower().startswith("bearer"):
            raise ConfigError(
                f"{SECTION}.access_token is missing or malformed: set it in .dlt/secrets.toml or "
                "SOURCES__FLOWRETAIL__ACCESS_TOKEN to the bare token (without 'Bearer ')"
            )
        tenant_list = _tenant_list(tenants)
        _check_range("page_size", page_size, 1, 10_000)
        _check_range("concurrency", concurrency, 1, 64)
        _check_range("lookback_seconds", lookback_seconds, 0, 7 * 86_400)
        _check_range("max_delete_share", max_delete_share, 0.0, 1.0)
        return cls(
            base_url=f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}",
            access_token=token,
            tenants=tenant_list,
            page_size=int(page_size),
            concurrency=int(concurrency),
            lookback=timedelta(seconds=float(lookback_seconds)),
            max_delete_share=float(max_delete_share),
        )


def _tenant_list(tenants: Sequence[str] | str | None) -> tuple[str, ...]:
    if tenants is None:
        return ()
    items = [t.strip() for t in tenants.split(",")] if isinstance(tenants, str) else list(tenants)
    bad = [t for t in items if not isinstance(t, str) or not UID_PATTERN.match(t)]
    if bad:
        raise ConfigError(
            f"{SECTION}.tenants must list tenant UIDs (letters, digits, - and _), got {bad!r}"
        )
    return tuple(dict.fromkeys(items))


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(f"{SECTION}.{name} must be a number from {low} to {high}, got {value!r}")
