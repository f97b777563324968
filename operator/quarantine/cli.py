"""The `quarantine` command: wires the subcommands in `quarantine.commands`."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import quarantine.commands
from quarantine import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quarantine",
        description="Kubernetes detection and response with Elastic EQL rules.",
    )
    parser.add_argument("--version", action="version", version=f"quarantine {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # Each module in quarantine.commands registers its own subcommand, so adding a command
    # never means editing this file.
    for info in sorted(pkgutil.iter_modules(quarantine.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"quarantine.commands.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
