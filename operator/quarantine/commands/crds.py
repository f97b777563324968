"""`quarantine crds`: print or write the CRDs rendered from the API models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from quarantine.api.crds import render_all_yaml, write_crds
from quarantine.api.reference import render_reference


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "crds",
        help="print the CRDs Quarantine installs (DetectionRule, Alert, kopf's ClusterKopfPeering)",
        description="Render the CustomResourceDefinitions from the API models. Without "
        "--output-dir, print them as one multi-document YAML stream.",
    )
    parser.add_argument(
        "--output-dir",
        "-o",
        type=Path,
        help="write one file per CRD into this directory instead of printing",
    )
    parser.add_argument(
        "--reference",
        action="store_true",
        help="print the Markdown field reference (docs/api.md) instead of the CRDs",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.reference:
        sys.stdout.write(render_reference())
        return 0
    if args.output_dir is None:
        sys.stdout.write(render_all_yaml())
        return 0
    for path in write_crds(args.output_dir):
        print(f"wrote {path}", file=sys.stderr)
    return 0
