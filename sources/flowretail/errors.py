"""Exceptions of the Flow Retail connector, named for what the caller does next.

Messages name the endpoint template and the tenant or customer concerned, never the token, and
carry at most a short, sanitised slice of the response body.
"""

from __future__ import annotations


class FlowRetailError(Exception):
    """Base class of every error this connector raises on purpose."""


class ConfigError(FlowRetailError):
    """The configuration is invalid: fix the named setting and run again."""


class UnsafeChange(FlowRetailError):
    """A run would change an implausible share of rows, so it changed nothing."""


class ProtocolError(FlowRetailError):
    """The API answered something the contract does not allow (a malformed page, a loop)."""


class ApiError(FlowRetailError):
    """The API answered with an error status; `status` is 0 when no answer came at all."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class AuthError(ApiError):
    """The API refused the token (401): replace or renew `access_token`."""


class PermissionDenied(ApiError):
    """The token lacks a permission or the tenant (403): ask the tenant admin to grant it."""


class NotFound(ApiError):
    """The tenant, customer or contact does not exist (404)."""


class Conflict(ApiError):
    """The API refused a write because the resource already exists (409)."""


class RequestRejected(ApiError):
    """The API rejected a request as invalid (400 or 422): the row or parameter must change."""


class ServerError(ApiError):
    """The API kept failing (5xx, 429, dropped connections) after every retry; run again later."""


# The one table from status to what the caller does next.
STATUS_ACTIONS: dict[int, tuple[type[ApiError], str]] = {
    400: (RequestRejected, "the API rejected the request as invalid; fix the named field"),
    401: (AuthError, "the token was refused (expired, revoked or mistyped); set a valid token"),
    403: (PermissionDenied, "the token lacks this permission or tenant; ask the tenant admin"),
    404: (NotFound, "not found; check the tenant, customer or contact UID"),
    409: (Conflict, "it already exists"),
    422: (RequestRejected, "the API rejected the request as invalid; fix the named field"),
}


def error_for_status(status: int, where: str, body: str = "") -> ApiError:
    """Build the exception for an error answer at `where` (method and endpoint template)."""
    cls, advice = STATUS_ACTIONS.get(status, (ServerError, "the API failed; run again later"))
    detail = f" API said: {body}" if body else ""
    return cls(f"{where} answered {status}: {advice}.{detail}", status)
