"""`quarantine import-elastic`: convert Elastic detection-rules TOML into DetectionRule YAML."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from quarantine.api import dump_yaml, dump_yaml_stream, to_manifest
from quarantine.elastic_import import ElasticImportError, load_elastic_rule


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "import-elastic",
        help="convert Elastic detection-rules TOML files into DetectionRule YAML",
        description="Convert Elastic detection rules (TOML, EQL only) into DetectionRule "
        "manifests with a default isolate playbook in DryRun mode. Rules that cannot be "
        "converted are reported on stderr and make the exit status 1; the others are still "
        "converted.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE.toml")
    parser.add_argument(
        "--output-dir",
        "-o",
        type=Path,
        help="write one <metadata.name>.yaml per rule into this directory instead of printing",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    manifests = []
    failed = False
    for path in args.files:
        try:
            manifests.append(to_manifest(load_elastic_rule(path), only_set=True))
        except ElasticImportError as error:
            print(f"quarantine import-elastic: refused {error}", file=sys.stderr)
            failed = True
    if args.output_dir is None:
        sys.stdout.write(dump_yaml_stream(manifests))
    else:
        args.output_dir.mkdir(parents=True, exist_ok=True)
        for manifest in manifests:
            path = args.output_dir / f"{manifest['metadata']['name']}.yaml"
            path.write_text(dump_yaml(manifest), encoding="utf-8")
            print(f"wrote {path}", file=sys.stderr)
    return 1 if failed else 0
