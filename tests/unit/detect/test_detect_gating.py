"""The shortcuts of the hot path give the answers of the long way round.

- Each index bucket's generated lookup returns the mask of the generic walk.
- A sequence fed only the events `may_take` accepts completes exactly the sequences it
  completes when fed every event (this is what lets the index file an idle sequence under its
  first stage, and the detector skip events no stage can use).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from quarantine.detect import Detector, RuleSet
from quarantine.detect.index import ADMITTED_LOOKUP_LIMIT
from quarantine.eql import compile_query

NAMES = ["curl", "wget", "sh", "bash", "base64", "python3", "ls", "find", "chmod", "nc", "tar"]
ARGS = ["-c", "-d", "sh", "bash", "curl", "/tmp/x", "base64", "/var/lib/kubelet/pods/a", "-o"]
PATHS = ["/tmp/x", "/tmp/y", "/root/a", "/var/lib/kubelet/pods/p", "/app/z", "/dev/shm/s"]
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _event(rng: random.Random, index: int, at: datetime) -> dict[str, Any]:
    name = rng.choice(NAMES)
    is_file = rng.random() < 0.3
    path = rng.choice(PATHS)
    return {
        "@timestamp": at.isoformat().replace("+00:00", "Z"),
        "event": {
            "id": str(index),
            "category": ["file"] if is_file else ["process"],
            "type": [rng.choice(["creation", "deletion", "change"]) if is_file else "start"],
            "action": rng.choice(["creation", "deletion", "open"]) if is_file else "exec",
        },
        "host": {"os": {"type": "linux"}},
        "container": {"id": rng.choice(["c1", "c2"])},
        "user": {"id": rng.choice(["0", "1000"])},
        "file": {"path": path, "name": path.rsplit("/", 1)[-1]},
        "process": {
            "name": name,
            "args": [name, *rng.sample(ARGS, rng.randrange(0, 3))],
            "executable": rng.choice(["/usr/bin/", "/tmp/"]) + name,
            "parent": {"name": rng.choice(NAMES), "entity_id": rng.choice(["p1", "p2"])},
        },
    }


def _odd_shapes(event: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Shapes the generated lookups hand back to the generic walk (or to their general form)."""
    choice = rng.randrange(12)
    args = event["process"]["args"]
    if choice == 5:
        event["process"]["args"] = [*args, 7, None, True]  # values that are not strings
    elif choice == 6:
        event["process"]["args"] = [*args, ["-c", "sh"]]  # a nested array (unhashable)
    elif choice == 7:
        event["process"]["args"] = [{"arg": "sh"}, *args]  # an object in the array
    elif choice == 0:
        event["process"] = [event["process"], {"name": "nc"}]  # an array of objects
    elif choice == 1:
        event["process"]["args"] = " ".join(event["process"]["args"])  # one string
    elif choice == 2:
        event["process"]["name"] = 7  # not a string
    elif choice == 3:
        event["host"] = "linux"  # a scalar where an object was expected
    elif choice == 8:
        event["process"]["parent"] = rng.choice(["", 0, [], {}, False])  # empty, not an object
    elif choice == 9:
        event["process"]["parent"] = [{"name": "sh"}]  # an array of one object
    elif choice == 10:
        event["process"]["name"] = [event["process"]["name"], "nc"]  # an array of values
    elif choice == 11:
        event["event"] = rng.choice([None, "process", [], {"kind": "event"}])  # no category
    return event


def _stream(seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    at = T0
    events = []
    for index in range(count):
        at += timedelta(milliseconds=rng.choice([10, 200, 900, 4000]))
        events.append(_event(rng, index, at))
    return events


def test_generated_lookups_equal_the_generic_walk(cloud_defend_rules: RuleSet) -> None:
    ruleset = cloud_defend_rules
    rng = random.Random(3)
    buckets = [ruleset.index._uncategorised, *ruleset.index._by_category.values()]
    assert any(bucket.primary.tables and bucket.refinements[0].tables for bucket in buckets)
    # Later stages admitted one at a time (a waiting sequence), or none: their tables are read
    # only when admitted, and the admitted bits are always right.
    rule_bits = ruleset.index.rule_bits
    admissions = [rule_bits, *(rule_bits | bit for bit in ruleset.index.later_bits.values())]
    assert len(admissions) > 3
    for event in _stream(4, 1500):
        event = _odd_shapes(event, rng)
        for bucket in buckets:
            expected = bucket.candidates(event)
            assert bucket.lookup(event, -1) == expected, event
            for admitted in admissions:
                assert bucket.lookup(event, admitted) & admitted == expected & admitted, event


CATEGORY_SHAPES = [["process"], "process", ["file"], "file", None, ["network"], 3, ["process", "x"]]


def _by_generic_walk(index: Any, event: dict[str, Any]) -> int:
    """The candidate mask by each bucket's generic walk, the bucket chosen by category."""
    meta = event.get("event")
    category = meta.get("category") if type(meta) is dict else None
    names = category if type(category) is list else [category]
    buckets = [index._by_category[name] for name in names if name in index._by_category]
    mask = 0
    for bucket in buckets or [index._uncategorised]:
        mask |= bucket.candidates(event)
    return mask


def test_the_generated_category_dispatch_equals_the_generic_walk(
    cloud_defend_rules: RuleSet,
) -> None:
    index = cloud_defend_rules.index
    rng = random.Random(5)
    admissions = [-1, index.rule_bits, *(index.rule_bits | b for b in index.later_bits.values())]
    for event in _stream(6, 1000):
        event = _odd_shapes(event, rng)
        if type(event["event"]) is dict:  # else: an event without a category
            event["event"]["category"] = rng.choice(CATEGORY_SHAPES)
        expected = _by_generic_walk(index, event)
        for admitted in admissions:
            assert index.candidate_mask(event, admitted) & admitted == expected & admitted, event


def test_lookups_made_for_admitted_bits_equal_the_dispatch_masked_by_them(
    cloud_defend_rules: RuleSet,
) -> None:
    """`lookup_for(admitted)` leaves out the tests of `admitted` and folds in the final `&`:
    the answers stay the dispatch's, for every mix of waiting sequences."""
    index = cloud_defend_rules.index
    rng = random.Random(11)
    later = list(index.later_bits.values())
    admissions = {index.rule_bits, index.rule_bits | sum(later)}
    admissions |= {index.rule_bits | bit for bit in later}
    admissions |= {index.rule_bits | a | b for a in later for b in later}
    admissions.add((1 << 40) - 1)  # a caller admitting only some rules' own bits
    lookups = {admitted: index.lookup_for(admitted) for admitted in admissions}
    assert index.lookup_for(index.rule_bits) is lookups[index.rule_bits]  # made once
    checked = 0
    for event in _stream(12, 800):
        event = _odd_shapes(event, rng)
        if type(event["event"]) is dict:
            event["event"]["category"] = rng.choice(CATEGORY_SHAPES)
        for admitted, lookup in lookups.items():
            expected = index.candidate_mask(event, admitted) & admitted
            assert lookup(event) == expected, (event, admitted)
            checked += expected != 0
    assert checked > 500


def test_past_the_limit_of_made_lookups_the_dispatch_answers(cloud_defend_rules: RuleSet) -> None:
    index = cloud_defend_rules.index
    made = dict(index._admitted_lookups)
    try:
        for number in range(len(made), ADMITTED_LOOKUP_LIMIT + 2):
            index.lookup_for(index.rule_bits | 1 << (200 + number))
        assert len(index._admitted_lookups) == ADMITTED_LOOKUP_LIMIT
        admitted = index.rule_bits | 1 << 199
        lookup = index.lookup_for(admitted)
        assert admitted not in index._admitted_lookups
        for event in _stream(13, 200):
            assert lookup(event) == index.candidate_mask(event, admitted) & admitted
    finally:
        index._admitted_lookups.clear()
        index._admitted_lookups.update(made)


def test_the_lean_lookups_take_ordinary_events_and_leave_odd_ones_to_the_general_form(
    cloud_defend_rules: RuleSet,
) -> None:
    """The generated lookups' lean form answers canonical events itself, values new to it
    included (the table works them out where they stand); only shapes it does not read
    (arrays of objects, objects where values belong) reach the general form."""
    lookup = cloud_defend_rules.index.candidate_mask
    namespace = lookup.__globals__
    general = namespace["general"]
    calls = [0]

    def counted(event: dict[str, Any], admitted: int = -1) -> int:
        calls[0] += 1
        return int(general(event, admitted))

    namespace["general"] = counted
    try:
        events = _stream(7, 300)
        fresh = [f"/tmp/never-seen-{number}" for number in range(300)]
        for event, value in zip(events, fresh, strict=True):
            event["process"]["args"] = [*event["process"]["args"], value]
        index = cloud_defend_rules.index
        for event in events:
            assert lookup(event, -1) == _by_generic_walk(index, event)
        assert calls[0] == 0  # values met for the first time are worked out in place
        for event in events:
            lookup(event, -1)
        assert calls[0] == 0
        for event in events:  # an absent value is no new value
            event["process"].pop("executable", None)
            event["process"].pop("args", None)
            lookup(event, -1)
        assert calls[0] == 0
        rng = random.Random(8)
        for event in _stream(9, 300):
            event["process"]["args"] = [{"arg": "sh"}] if rng.random() < 0.5 else [["sh"]]
            lookup(event, -1)
        assert calls[0] == 300
    finally:
        namespace["general"] = general


SEQUENCES = [
    # Two stages joined by container and by a stage key, with a tight maxspan.
    """sequence by container.id with maxspan=2s
      [process where process.name in ("curl", "wget")] by process.parent.entity_id
      [process where process.name in ("sh", "bash")] by process.parent.entity_id""",
    # Three stages across categories, with `until`.
    """sequence by container.id
      [file where event.type == "creation"] by file.path
      [process where true] by process.executable
      [file where event.type == "deletion"] by file.path
      until [process where process.name == "ls"] by process.executable""",
    # Repeated stages.
    """sequence by user.id with maxspan=10s [process where process.name == "find"] with runs=3""",
]


def _results(query_text: str, events: list[dict[str, Any]], gate: bool) -> list[list[str]]:
    query = compile_query(query_text, nested_only=True)
    stream = query.stream()
    found = []
    for event in events:
        if gate and not stream.may_take(event):
            continue
        found.extend(stream.feed(event))
    found.extend(stream.flush())
    return [[item["event"]["id"] for item in result if item is not None] for result in found]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_may_take_refuses_only_events_that_change_nothing(
    cloud_defend_rules: RuleSet, seed: int
) -> None:
    events = _stream(seed, 3000)
    ruleset = cloud_defend_rules
    texts = SEQUENCES + [rule.query.text for rule in ruleset.rules if rule.is_gated_sequence]
    completed = 0
    for text in texts:
        everything = _results(text, events, gate=False)
        assert _results(text, events, gate=True) == everything, text
        completed += len(everything)
    assert completed > 20  # the streams do complete sequences


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_detector_completes_every_gated_sequence_a_plain_stream_completes(
    cloud_defend_rules: RuleSet, seed: int
) -> None:
    # The detector asks a waiting sequence only about the stages the index left possible
    # (its first stage, its later ones, or both): that must lose no match.
    events = _stream(seed, 3000)
    ruleset = cloud_defend_rules
    detector = Detector(ruleset, event_time_clock=True)
    for event in events:
        detector.process(event)
    detector.flush()
    gated = [rule for rule in ruleset.rules if rule.is_gated_sequence]
    completed = 0
    for rule in gated:
        expected = len(_results(rule.query.text, events, gate=False))
        assert detector.counters(rule.name).matched == expected, rule.name
        completed += expected
    assert completed >= 10  # the streams do complete sequences


def _with_ingested(events: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """cloud_defend's rules order by `event.ingested`: mostly plain text a little after the
    event, sometimes absent, a number, another offset, late or an array (the general path)."""
    for event in events:
        stamp = datetime.fromisoformat(event["@timestamp"].replace("Z", "+00:00"))
        choice = rng.randrange(10)
        ingested: Any = (stamp + timedelta(milliseconds=5)).isoformat(timespec="milliseconds")
        ingested = ingested.replace("+00:00", "Z")
        if choice == 0:
            continue  # absent: the stream reads `@timestamp` in a copy
        if choice == 1:
            ingested = int(stamp.timestamp() * 1000)  # epoch milliseconds
        elif choice == 2:
            ingested = stamp.isoformat()  # an offset, not `Z`
        elif choice == 3:
            ingested = "2020-01-01T00:00:00.000Z"  # far beyond the look-back
        elif choice == 4:
            ingested = [ingested]
        if type(event["event"]) is dict:
            event["event"]["ingested"] = ingested
    return events


def _run(ruleset: RuleSet, events: list[dict[str, Any]], lean: bool) -> Any:
    now = [0.0]  # the wall clock: two seconds after each event's own time
    detector = Detector(ruleset, clock=lambda: now[0])
    if not lean:  # every first-stage event the general way
        detector._opened_first_stage = lambda state, event, text: False  # type: ignore[method-assign]
    drafts = []
    for event in events:
        stamp = event["@timestamp"].replace("Z", "+00:00")
        now[0] = datetime.fromisoformat(stamp).timestamp() + 2
        for draft in detector.process(event):
            drafts.append((draft.rule_name, [e["event"]["id"] for e in draft.events]))
    waiting = {
        name: {key: slots for key, slots in state.gated_matcher.partials.items()}
        for name, state in detector._states.items()
        if state.gated_matcher is not None
    }
    return drafts, detector.all_counters(), waiting


@pytest.mark.parametrize("seed", [1, 2])
def test_first_stage_events_opened_by_the_detector_match_the_general_path(
    cloud_defend_rules: RuleSet, seed: int
) -> None:
    rng = random.Random(seed)
    events = _with_ingested(_stream(seed, 3000), rng)
    for event in events:
        if rng.random() < 0.1:
            _odd_shapes(event, rng)
    lean = _run(cloud_defend_rules, events, lean=True)
    general = _run(cloud_defend_rules, events, lean=False)
    assert lean == general
    drafts, counters, waiting = lean
    assert len(drafts) > 10 and any(slots for slots in waiting.values())
    assert sum(counter.late for counter in counters.values()) > 0  # late ones went the long way
