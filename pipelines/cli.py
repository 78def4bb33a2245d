"""The `flowretail` command: one subcommand per job, each defined in its own module.

A command module exposes `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`.
Modules are imported only when their command runs, so `flowretail --help` stays fast and a
missing optional extra breaks only the command that needs it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any, Protocol, cast

from .logs import LOG_FORMATS, JsonLinesStream, LogFormat, configure_logging

# Named, not __name__: under `python -m pipelines.cli` that would be "__main__".
logger = logging.getLogger("pipelines.cli")

EXIT_TIMEOUT = 124  # what timeout(1) answers, so schedulers already know it
ENV_MAX_RUNTIME = "FLOWRETAIL_MAX_RUNTIME"
ENV_LOG_FORMAT = "FLOWRETAIL_LOG_FORMAT"

COMMANDS: dict[str, tuple[str, str]] = {
    "sandbox": ("sandbox.cli", "Serve a local, stateful Flow Retail API for demos and tests."),
    "check": ("pipelines.check", "Reach the API, validate the token and report what it can do."),
    "load": ("pipelines.load", "Load customers and contacts into the warehouse, incrementally."),
    "push": ("pipelines.push", "Push contact and extension changes back to Flow Retail."),
    "export": ("pipelines.export", "Export the current contacts, customers and extensions."),
    "demo": ("pipelines.demo", "Run the main job against a local sandbox and show what changed."),
}


class CommandModule(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def _load(name: str) -> CommandModule:
    return cast(CommandModule, importlib.import_module(COMMANDS[name][0]))


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """Build the parser; only the chosen subcommand's module is imported."""
    parser = argparse.ArgumentParser(prog="flowretail", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="count", default=0, help="-v INFO, -vv DEBUG")
    parser.add_argument(
        "--log-format",
        type=_log_format,
        default=os.environ.get(ENV_LOG_FORMAT, "text"),
        help=f"text (default) or json: one JSON object per stderr line (env {ENV_LOG_FORMAT})",
    )
    parser.add_argument(
        "--max-runtime",
        type=_seconds,
        default=os.environ.get(ENV_MAX_RUNTIME),
        metavar="SECONDS",
        help=f"stop cleanly with exit code {EXIT_TIMEOUT} after this long (env {ENV_MAX_RUNTIME})",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((arg for arg in argv if arg in COMMANDS), None)
    for name, (_, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            _load(name).add_arguments(command_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `flowretail` command line and return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    configure_logging(level, args.log_format)
    with _stderr_as_json(args.log_format == "json", args.command):
        return _run_bounded(args)


def _run_bounded(args: argparse.Namespace) -> int:
    logger.info("flowretail %s starting, max runtime %s s", args.command, args.max_runtime)
    with Watchdog(args.max_runtime) as watchdog:
        try:
            code = _load(args.command).run(args)
        except KeyboardInterrupt:
            if not watchdog.fired:
                print("flowretail: interrupted", file=sys.stderr)
                return 130
            code = EXIT_TIMEOUT
    if not watchdog.fired:
        return code
    if code == 0:
        logger.warning(
            "went past --max-runtime %g s, but no step was left to stop and the run finished",
            args.max_runtime,
        )
        return code
    print(f"flowretail {args.command}: {watchdog.reason()}", file=sys.stderr)
    return EXIT_TIMEOUT


@contextmanager
def _stderr_as_json(enabled: bool, command: str) -> Iterator[None]:
    if not enabled:
        yield
        return
    real = sys.stderr
    sys.stderr = cast(Any, JsonLinesStream(real, f"flowretail.{command}"))
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr = real


class Watchdog:
    """Stop the run at a deadline, at a point where nothing is half-written.

    NOTE: The deadline does not raise an exception wherever the main thread happens to be: an
    exception thrown into an import or a broad `except` was seen to leave a module lock held
    and the process hanging at exit. Instead it sets dlt's own stop flag, the one dlt sets on
    SIGTERM. dlt's extract checks it between items and abandons the package, so the pipeline
    state does not move and the next run reads the same changes again; normalize stops the same
    way and leaves the package for the next run. A load step already running is let finish:
    dlt loads the state row as a job of its own, so a load stopped between jobs could store the
    new cursors while some tables' merges are still pending, and a runner thrown away after the
    run would lose those changes. The flag is set once the load step is over. A command that
    never checks the flag is ended `GRACE_SECONDS` after the deadline with `os._exit`, which
    leaves open transactions to roll back.
    """

    GRACE_SECONDS = 60.0
    RECHECK_SECONDS = 0.5

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.fired = False
        self._deferred = 0.0
        self._previous: Any = None

    def __enter__(self) -> Watchdog:
        if self.seconds and threading.current_thread() is not threading.main_thread():
            logger.warning("--max-runtime is ignored: signals reach only the main thread")
            self.seconds = None
        if self.seconds:
            self._previous = signal.signal(signal.SIGALRM, self._on_alarm)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.seconds:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous)

    def reason(self) -> str:
        """Describe in one line how the run stopped and what the next run does."""
        return (
            f"stopped after --max-runtime {self.seconds:g} s at dlt's next safe point; an "
            "unfinished extract is read again, an unfinished normalize is finished next run"
        )

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        from dlt.common.runtime import signals

        if self.fired:
            sys.stderr.write(f"flowretail: {self.reason()}; ended {self.GRACE_SECONDS:g} s later\n")
            sys.stderr.flush()
            os._exit(EXIT_TIMEOUT)
        if self._deferred < self.GRACE_SECONDS and _in_load_step(frame):
            self._deferred += self.RECHECK_SECONDS
            signal.setitimer(signal.ITIMER_REAL, self.RECHECK_SECONDS)
            return
        self.fired = True
        signals.set_received_signal(signum)
        signals.wake_all()
        signal.setitimer(signal.ITIMER_REAL, max(self.GRACE_SECONDS - self._deferred, 1.0))


def _in_load_step(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code.co_qualname == "Pipeline.load":
            return True
        frame = frame.f_back
    return False


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _log_format(text: str) -> LogFormat:
    if text not in LOG_FORMATS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(LOG_FORMATS)}, got {text!r}")
    return text


if __name__ == "__main__":
    sys.exit(main())
