"""Log output for unattended runs: plain text or one JSON object per line, secrets masked.

Both formats go to stderr through one handler on the root logger. dlt's own logger does not
propagate to the root, so `route_dlt_logger` sends its records through the same handler.

Example:
    >>> configure_logging(logging.INFO, "json")
    >>> logging.getLogger("pipelines.load").info("contacts: %d loaded", 248)
    {"ts": "2024-05-01T03:00:02.118+00:00", "level": "INFO", "logger": "pipelines.load", ...}
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "***"
HANDLER_NAME = "flowretail"

# Environment variables whose values are secrets wherever they turn up in a log line.
SECRET_ENV_SUFFIXES = ("ACCESS_TOKEN", "__CREDENTIALS", "__PASSWORD", "__PRIVATE_KEY", "__SECRET")
# Short values ("1", "true") would mask ordinary words, so they are not treated as secrets.
MIN_SECRET_LENGTH = 6

SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"),
    re.compile(r"(?i)((?:access_token|token|password|secret)[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;]+"),
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s/:@]+:)[^\s/@]+(?=@)"),
)

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged as is.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def configured_secrets(environ: dict[str, str] | None = None) -> list[str]:
    """Return the secret values set in the environment, longest first."""
    environ = dict(os.environ if environ is None else environ)
    values = {
        value
        for name, value in environ.items()
        if name.upper().endswith(SECRET_ENV_SUFFIXES) and len(value) >= MIN_SECRET_LENGTH
    }
    return sorted(values, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    """Mask bearer tokens, `access_token=...`-style pairs, URL passwords and known secrets."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Mask secrets in the message, its arguments, extra fields and exception text."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self.secrets = configured_secrets() if secrets is None else secrets

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place with every secret masked; never drop it."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = f"{record.msg} {record.args}"
        record.msg = redact(message, self.secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        record.exc_info = None
        for name, value in list(vars(record).items()):
            if name not in _RECORD_FIELDS and isinstance(value, str):
                setattr(record, name, redact(value, self.secrets))
        return True


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON object: ts, level, logger, message and any extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a single line of JSON."""
        event: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and not name.startswith("_"):
                event[name] = value
        if record.exc_text:
            event["exception"] = record.exc_text
        return json.dumps(event, default=str, ensure_ascii=False)


def configure_logging(level: int, log_format: LogFormat = "text") -> logging.Handler:
    """Send every log record to stderr in the chosen format with secrets masked.

    Replaces the handler an earlier call installed, so a second call switches the format; other
    handlers (a test runner's, an embedding application's) stay.

    Args:
        level: The root logger's level, such as `logging.INFO`.
        log_format: `text` for people, `json` for log collectors (one object per line).

    Returns:
        The installed handler.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    route_dlt_logger(handler)
    return handler


class _ToHandler(logging.Filter):
    """Pass each record of a non-propagating logger to a handler, instead of its own ones."""

    def __init__(self, handler: logging.Handler) -> None:
        super().__init__()
        self.handler = handler

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self.handler.level:
            self.handler.handle(record)
        return False


def route_dlt_logger(handler: logging.Handler, name: str = "dlt") -> None:
    """Send dlt's log records through `handler`, in our format and with secrets masked.

    NOTE: dlt builds its logger with `propagate = False` and its own stderr handler, and builds
    it again whenever a pipeline changes the runtime config, resetting handler and formatter.
    A filter on the logger survives that rebuild, so the filter hands each record to our handler
    and drops it from dlt's. dlt's level (`RUNTIME__LOG_LEVEL`, WARNING by default) still applies.
    """
    dlt_logger = logging.getLogger(name)
    for old in [f for f in dlt_logger.filters if isinstance(f, _ToHandler)]:
        dlt_logger.removeFilter(old)
    dlt_logger.addFilter(_ToHandler(handler))


class JsonLinesStream:
    """A stderr stand-in that turns each plain line written to it into a JSON log event.

    Commands print their one-line failure reasons to stderr; under `--log-format json` this
    keeps stderr parseable line by line, with the same masking as log records.
    """

    def __init__(self, target: Any, logger_name: str, secrets: list[str] | None = None) -> None:
        self.target = target
        self.logger_name = logger_name
        self.secrets = configured_secrets() if secrets is None else secrets
        self._buffer = ""

    def write(self, text: str) -> int:
        """Buffer `text` and emit every completed line as one JSON object."""
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            if line.strip():
                self._emit(line)
        return len(text)

    def flush(self) -> None:
        """Emit a pending partial line and flush the real stream."""
        if self._buffer.strip():
            self._emit(self._buffer)
        self._buffer = ""
        self.target.flush()

    def isatty(self) -> bool:
        """Report no terminal, so nothing draws progress bars into the JSON stream."""
        return False

    def _emit(self, line: str) -> None:
        event = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "ERROR",
            "logger": self.logger_name,
            "message": redact(line, self.secrets),
        }
        self.target.write(json.dumps(event, ensure_ascii=False) + "\n")
