"""`quarantine run`: the responder and the matcher in one process (the chart's default)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from quarantine.admission.configure import add_admission_arguments
    from quarantine.ingest.server import DEFAULT_MAX_BODY_BYTES
    from quarantine.respond.options import add_responder_arguments

    parser = subparsers.add_parser(
        "run",
        help="run the matcher and the responder together",
        description="Evaluate DetectionRules over events posted over HTTP, write Alerts, and "
        "contain the pods they name, in one process.",
    )
    add_responder_arguments(parser)
    add_admission_arguments(parser)
    matcher = parser.add_argument_group("matcher (event intake)")
    matcher.add_argument(
        "--listen",
        default="127.0.0.1:8443",
        help="HOST:PORT of the event intake (default 127.0.0.1:8443; port 0 picks a free port)",
    )
    token = matcher.add_mutually_exclusive_group(required=True)
    token.add_argument("--token-file", type=Path, help="file holding the intake bearer token")
    token.add_argument(
        "--token-secret",
        metavar="NAMESPACE/NAME",
        help="Secret holding the intake bearer token under key 'token'",
    )
    matcher.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        help=f"largest request body (default {DEFAULT_MAX_BODY_BYTES})",
    )
    matcher.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate")
    matcher.add_argument("--tls-key", type=Path, help="private key of --tls-cert")
    matcher.add_argument(
        "--fallback-namespace",
        default=os.environ.get("POD_NAMESPACE"),
        help="namespace for Alerts whose pod and namespace are unknown (default $POD_NAMESPACE)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from quarantine.ingest.auth import TokenError
    from quarantine.ingest.server import parse_listen_address
    from quarantine.k8s.secret_token import SecretTokenError, parse_secret_ref
    from quarantine.matcher import MatcherOptions, MatcherService
    from quarantine.respond.options import operator_options
    from quarantine.respond.runtime import run_operator

    try:
        if args.max_body_bytes <= 0:
            raise ValueError(f"--max-body-bytes must be positive, got {args.max_body_bytes}")
        matcher = MatcherOptions(
            listen=parse_listen_address(args.listen),
            kubeconfig=args.kubeconfig,
            token_file=args.token_file,
            token_secret=parse_secret_ref(args.token_secret) if args.token_secret else None,
            max_body_bytes=args.max_body_bytes,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            fallback_namespace=args.fallback_namespace or None,
        )
        options = operator_options(args, companions=(lambda api: MatcherService(matcher, api=api),))
    except (ValueError, TokenError, SecretTokenError) as error:
        print(f"quarantine run: {error}", file=sys.stderr)
        return 2
    return run_operator(options)
