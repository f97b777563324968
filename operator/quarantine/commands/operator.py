"""`quarantine operator`: the responder (kopf) with the admission webhooks."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from quarantine.admission.configure import add_admission_arguments
    from quarantine.respond.options import add_responder_arguments

    parser = subparsers.add_parser(
        "operator",
        help="run the responder: contain pods named by Alerts, release them on request",
        description="Watch Alerts and run their DetectionRule's response playbook once, "
        "safely and reversibly; serve the admission webhooks.",
    )
    add_responder_arguments(parser)
    add_admission_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from quarantine.respond.options import operator_options
    from quarantine.respond.runtime import run_operator

    try:
        options = operator_options(args)
    except ValueError as error:
        print(f"quarantine operator: {error}", file=sys.stderr)
        return 2
    return run_operator(options)
