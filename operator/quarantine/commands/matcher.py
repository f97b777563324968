"""`quarantine matcher`: evaluate DetectionRules over events posted over HTTP, write Alerts."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from quarantine.ingest.auth import TokenError
from quarantine.ingest.server import DEFAULT_MAX_BODY_BYTES, parse_listen_address
from quarantine.k8s.secret_token import SecretTokenError, parse_secret_ref


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "matcher",
        help="serve the event intake and write Alerts for rule matches",
        description="Watch DetectionRules, take NDJSON events on POST /v1/events and other "
        "engines' alerts on POST /v1/alerts/{elastic,falco}, and create Alerts in the offending "
        "pod's namespace.",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or in-cluster)")
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
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from quarantine.matcher import MatcherOptions, run_matcher

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.max_body_bytes <= 0:
            raise ValueError(f"--max-body-bytes must be positive, got {args.max_body_bytes}")
        options = MatcherOptions(
            listen=parse_listen_address(args.listen),
            kubeconfig=args.kubeconfig,
            token_file=args.token_file,
            token_secret=parse_secret_ref(args.token_secret) if args.token_secret else None,
            max_body_bytes=args.max_body_bytes,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            fallback_namespace=args.fallback_namespace or None,
            default_alert_rule=args.default_alert_rule or None,
        )
        return run_matcher(options)
    except (ValueError, TokenError, SecretTokenError) as error:
        print(f"quarantine matcher: {error}", file=sys.stderr)
        return 2
