"""`quarantine test-rule`: evaluate DetectionRules over recorded events, with no cluster."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from quarantine.api import ResponsePlaybook, to_manifest
from quarantine.detect.offline import (
    OfflineAlert,
    compile_sources,
    normalise_recording,
    replay,
)
from quarantine.detect.rule_files import RuleFileError, load_rule_sources
from quarantine.events import FORMAT_CHOICES, EventFileError, read_event_file

EXIT_BAD_INPUT = 2

_DESCRIPTION = """\
Evaluate DetectionRules (YAML files, or folders of them) over recorded events and print one
JSON object per alert on stdout: rule, ruleId, severity, riskScore, alertName, eventIds (each
event's event.id, else its 0-based position in the file), target, and the planned response
(mode and actions). Exit status 0 whether or not anything alerted; 2 for a bad rule (file and
field, or query line and column) or a bad event (file and line).

Time offline is the recording's own: "now" is the latest event time seen so far, never the
wall clock. So an old recording still alerts; the look-back only drops events that arrive
later than the rule's lookback behind the newest event before them; maxSignals caps new
alerts per interval of event time; and suppression windows are laid on event time exactly as
the matcher lays them.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "test-rule",
        help="evaluate rules over recorded events offline and print the alerts",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "rules", nargs="+", type=Path, metavar="RULE.yaml|DIR", help="rule files or folders"
    )
    parser.add_argument(
        "--events",
        required=True,
        type=Path,
        metavar="FILE",
        help="recorded events: NDJSON, a JSON array, or one JSON object",
    )
    parser.add_argument(
        "--format",
        choices=FORMAT_CHOICES,
        default="auto",
        help="event format; auto recognises Tetragon and Falco and takes the rest as ECS",
    )
    parser.add_argument(
        "--summary",
        action="store_true",
        help="also print per-rule counters (evaluated, late, excepted, capped ...) on stderr",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        sources, skipped = load_rule_sources(args.rules)
        ruleset = compile_sources(sources)
        recorded = read_event_file(args.events)
        events = normalise_recording(recorded, args.format, source=str(args.events))
    except (RuleFileError, EventFileError) as error:
        print(f"quarantine test-rule: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for note in skipped:
        print(f"quarantine test-rule: {note}", file=sys.stderr)
    if not sources:
        print("quarantine test-rule: no DetectionRule found", file=sys.stderr)
        return EXIT_BAD_INPUT

    result = replay(ruleset, events)
    playbooks = {source.rule.metadata.name: source.rule.spec.response for source in sources}
    out = sys.stdout.buffer
    for alert in result.alerts:
        out.write(orjson.dumps(alert_json(alert, playbooks.get(alert.draft.rule_name))))
        out.write(b"\n")
    out.flush()
    if args.summary:
        print(
            f"{len(recorded)} events read, {len(events)} evaluated, {len(result.alerts)} alerts",
            file=sys.stderr,
        )
        for name, counters in sorted(result.detector.all_counters().items()):
            print(f"  {name}: {counters.as_dict()}", file=sys.stderr)
    return 0


def alert_json(alert: OfflineAlert, playbook: ResponsePlaybook | None) -> dict[str, Any]:
    """The printed form of one alert."""
    draft = alert.draft
    response = playbook or ResponsePlaybook()
    return {
        "rule": draft.rule_name,
        "ruleId": draft.rule_id,
        "severity": draft.severity,
        "riskScore": draft.risk_score,
        "alertName": draft.alert_name,
        "timestamp": draft.timestamp.isoformat().replace("+00:00", "Z"),
        "eventIds": alert.event_ids,
        "target": {
            "namespace": draft.target.namespace,
            "pod": draft.target.pod,
            "containerId": draft.target.container_id,
            "containerName": draft.target.container_name,
        },
        "suppressionKey": draft.suppression_key,
        "mode": response.mode,
        "actions": [to_manifest(action) for action in response.actions],
    }
