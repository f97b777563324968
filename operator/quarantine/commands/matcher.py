"""`quarantine matcher`: evaluate DetectionRules over events posted over HTTP, write Alerts.

`add_matcher_arguments` and `matcher_options` are shared with `quarantine run`, which serves the
same intake beside the responder.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from quarantine.ingest.auth import TokenError
from quarantine.ingest.server import DEFAULT_MAX_BODY_BYTES, parse_listen_address
from quarantine.k8s.secret_token import SecretTokenError, parse_secret_ref

if TYPE_CHECKING:
    from quarantine.matcher import MatcherOptions

# What a bad matcher option raises; the commands turn it into exit code 2.
OPTION_ERRORS = (ValueError, TokenError, SecretTokenError)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "matcher",
        help="serve the event intake and write Alerts for rule matches",
        description="Watch DetectionRules, take NDJSON events on POST /v1/events and other "
        "engines' alerts on POST /v1/alerts/{elastic,falco}, and create Alerts in the offending "
        "pod's namespace.",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or in-cluster)")
    add_matcher_arguments(parser)
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    parser.set_defaults(handler=run)


def add_matcher_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The intake's flags (not --kubeconfig, which the caller owns)."""
    parser.add_argument(
        "--listen",
        default="127.0.0.1:8443",
        help="HOST:PORT to serve on (default 127.0.0.1:8443; port 0 picks a free port)",
    )
    token = parser.add_mutually_exclusive_group(required=True)
    token.add_argument("--token-file", type=Path, help="file holding the intake bearer token")
    token.add_argument(
        "--token-secret",
        metavar="NAMESPACE/NAME",
        help="Secret holding the intake bearer token under key 'token'",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        help=f"largest request body, before and after gzip (default {DEFAULT_MAX_BODY_BYTES})",
    )
    parser.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="private key of --tls-cert (PEM)")
    parser.add_argument(
        "--fallback-namespace",
        default=os.environ.get("POD_NAMESPACE"),
        help="namespace for Alerts whose pod cannot be found and whose event names no "
        "namespace (default: $POD_NAMESPACE; unset = report them to the sender only)",
    )
    parser.add_argument(
        "--default-alert-rule",
        metavar="NAME",
        help="DetectionRule whose response playbook answers alerts posted to /v1/alerts/elastic "
        "or /v1/alerts/falco without ?rule=NAME (default: none; such requests get 400)",
    )


def matcher_options(args: argparse.Namespace) -> MatcherOptions:
    """The parsed intake flags as options, checked before anything connects to a cluster.

    Raises one of OPTION_ERRORS naming the bad flag.
    """
    from quarantine.ingest.alert_recorder import check_rule_name
    from quarantine.matcher import MatcherOptions

    if args.max_body_bytes <= 0:
        raise ValueError(f"--max-body-bytes must be positive, got {args.max_body_bytes}")
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ValueError("--tls-cert and --tls-key go together")
    default_rule = args.default_alert_rule or None
    if default_rule is not None:
        check_rule_name(default_rule)
    return MatcherOptions(
        listen=parse_listen_address(args.listen),
        kubeconfig=args.kubeconfig,
        token_file=args.token_file,
        token_secret=parse_secret_ref(args.token_secret) if args.token_secret else None,
        max_body_bytes=args.max_body_bytes,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        fallback_namespace=args.fallback_namespace or None,
        default_alert_rule=default_rule,
    )


def run(args: argparse.Namespace) -> int:
    from quarantine.matcher import run_matcher

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return run_matcher(matcher_options(args))
    except OPTION_ERRORS as error:
        print(f"quarantine matcher: {error}", file=sys.stderr)
        return 2
