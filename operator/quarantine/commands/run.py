"""`quarantine run`: the responder and the matcher in one process."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from quarantine.admission.configure import add_admission_arguments
    from quarantine.commands.matcher import add_matcher_arguments
    from quarantine.respond.options import add_responder_arguments

    parser = subparsers.add_parser(
        "run",
        help="run the matcher and the responder together",
        description="Evaluate DetectionRules over events posted over HTTP, write Alerts, and "
        "contain the pods they name, in one process.",
    )
    add_responder_arguments(parser)
    add_admission_arguments(parser)
    add_matcher_arguments(parser.add_argument_group("matcher (event and alert intake)"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from quarantine.commands.matcher import OPTION_ERRORS, matcher_options
    from quarantine.matcher import MatcherService
    from quarantine.respond.options import operator_options
    from quarantine.respond.runtime import run_operator

    try:
        matcher = matcher_options(args)
        options = operator_options(args, companions=(lambda api: MatcherService(matcher, api=api),))
    except OPTION_ERRORS as error:
        print(f"quarantine run: {error}", file=sys.stderr)
        return 2
    return run_operator(options)
