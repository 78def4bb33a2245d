"""The `flowretail` command: one subcommand per job, each defined in its own module.

A command module exposes `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`.
Modules are imported only when their command runs, so `flowretail --help` stays fast and a
missing optional extra breaks only the command that needs it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Protocol, cast

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
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return _load(args.command).run(args)
    except KeyboardInterrupt:
        print("flowretail: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
