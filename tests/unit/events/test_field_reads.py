"""Dotted keys a reader does not read may stay as they came (`expand_dotted(..., reads=)`)."""

from __future__ import annotations

import random
import weakref
from typing import Any

import orjson
import pytest

from quarantine.detect import Detector, RuleSet
from quarantine.events import EventFormatError, FieldReads, expand_dotted, expansion, normalise
from quarantine.events.layout_recipes import Recurrences


@pytest.fixture(autouse=True)
def fresh_layout_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """The layouts other tests taught the process (up to 8 recipes per dotted-key count) must
    not decide whether these layouts get one."""
    monkeypatch.setattr(expansion, "_layouts", {})
    monkeypatch.setattr(expansion, "_recipes", {})
    monkeypatch.setattr(expansion, "_recipe_layouts", {})
    monkeypatch.setattr(expansion, "_recurrences", Recurrences(times=3, limit=1024))
    monkeypatch.setattr(expansion, "_readers_with_checks", weakref.WeakSet())


def test_a_field_concerns_a_reader_when_read_inside_or_around_a_read_field() -> None:
    reads = FieldReads(["container.id", "process.parent.name", "@timestamp"])
    assert reads.concerns(("container", "id"))
    assert reads.concerns(("container",))  # holds a read field
    assert reads.concerns(("process", "parent", "name", "x"))  # inside a read field
    assert not reads.concerns(("container", "image", "name"))
    assert not reads.concerns(("process", "parent", "args"))
    assert not reads.concerns(("orchestrator", "resource", "name"))


def _document(number: int, *, image_key: str = "image.name") -> dict[str, Any]:
    return {
        "@timestamp": f"2026-01-01T00:00:{number % 60:02d}Z",
        "container": {"id": f"c{number}", image_key: "registry/app", "image.tag": "1"},
        "orchestrator": {"namespace": "shop", "resource.name": f"web-{number}"},
        "process": {"name": "sh"},
    }


def _expanded(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "@timestamp": document["@timestamp"],
        "container": {
            "id": document["container"]["id"],
            "image": {"name": "registry/app", "tag": "1"},
        },
        "orchestrator": {
            "namespace": "shop",
            "resource": {"name": document["orchestrator"]["resource.name"]},
        },
        "process": {"name": "sh"},
    }


def test_a_recurring_layout_with_unread_dotted_keys_is_handed_on_as_it_came() -> None:
    reads = FieldReads(["container.id", "process.name", "orchestrator.namespace"])
    results = []
    for number in range(6):
        document = _document(number)
        text = orjson.dumps(document)
        results.append((document, expand_dotted(document, text=text, reads=reads)))
    # The first sightings are expanded; once the layout recurs it is passed on untouched.
    assert results[0][1] == _expanded(results[0][0])
    last_document, last_result = results[-1]
    assert last_result is last_document
    # Expanded again without `reads` (as alerts are), it is the canonical form.
    assert expand_dotted(last_result) == _expanded(last_document)


@pytest.mark.parametrize("read", ["container.image.name", "container", "orchestrator.resource"])
def test_a_dotted_key_inside_or_around_a_read_field_is_expanded(read: str) -> None:
    reads = FieldReads(["container.id", read])
    for number in range(6):
        document = _document(number)
        result = expand_dotted(document, text=orjson.dumps(document), reads=reads)
        assert result == _expanded(document)
        assert result is not document


def test_another_layout_with_the_same_count_is_not_taken_for_a_known_one() -> None:
    reads = FieldReads(["container.id", "container.labels"])
    for number in range(6):
        expand_dotted(_document(number), text=orjson.dumps(_document(number)), reads=reads)
    # Same number of dotted keys, but one of them is read (`container.labels.x`).
    odd = _document(7, image_key="labels.x")
    result = expand_dotted(odd, text=orjson.dumps(odd), reads=reads)
    assert result["container"]["labels"] == {"x": "registry/app"}


def test_a_known_layout_with_other_plain_keys_in_its_holders_is_handed_on_as_it_came() -> None:
    reads = FieldReads(["container.id", "process.name", "orchestrator.namespace"])
    for number in range(6):
        expand_dotted(_document(number), text=orjson.dumps(_document(number)), reads=reads)
    # The same dotted keys where the layout has them; the holders' other keys differ.
    varied = _document(9)
    varied["container"] = {"runtime": "containerd", **varied["container"]}
    del varied["orchestrator"]["namespace"]
    result = expand_dotted(varied, text=orjson.dumps(varied), reads=reads)
    assert result is varied
    # A further dotted key anywhere makes the count differ: then the document is expanded.
    varied["process"] = {"name": "sh", "parent.name": "bash"}
    result = expand_dotted(varied, text=orjson.dumps(varied), reads=reads)
    assert result["process"] == {"name": "sh", "parent": {"name": "bash"}}


ARGV = [
    ["tar", "czf", "/tmp/k.tgz", "/root/.ssh/id_rsa"],
    ["nsenter", "-t", "1", "-m", "sh"],
    ["curl", "-s", "http://localhost:8080/health"],
    ["sh", "-c", "sleep 5"],
    ["cat", "/var/run/secrets/kubernetes.io/serviceaccount/token"],
    ["nc", "-lvnp", "4444"],
]


def _cloud_defend_event(rng: random.Random, number: int) -> dict[str, Any]:
    argv = rng.choice(ARGV)
    event: dict[str, Any] = {
        "@timestamp": f"2026-01-01T00:{number // 60 % 60:02d}:{number % 60:02d}.000Z",
        "event": {"category": ["process"], "type": ["start"], "action": "exec"},
        "host": {"os": {"type": "linux"}},
        "process": {"name": argv[0], "args": argv, "parent": {"entity_id": f"p{number % 7}"}},
        "container": {"id": f"{number % 3:064x}", "image.name": "app", "image.tag": ["1"]},
        "orchestrator": {"namespace": "shop", "resource.name": f"web-{number % 3}"},
        "user": {"id": "0"},
    }
    if rng.random() < 0.2:  # a dotted key the rules do read: expanded whatever happens
        event["process"] = {"parent.entity_id": f"p{number % 7}", "name": argv[0], "args": argv}
    return event


def _drafts(ruleset: RuleSet, events: list[dict[str, Any]], lazy: bool) -> tuple[list[bytes], int]:
    """The drafts, and how many events were handed on as they came."""
    detector = Detector(ruleset, event_time_clock=True)
    reads = detector.field_reads if lazy else None
    found = []
    as_they_came = 0
    for event in events:
        text = orjson.dumps(event)
        document = orjson.loads(text)
        normalised = normalise(document, "ecs", text=text, reads=reads)
        assert normalised is not None
        as_they_came += normalised is document
        for draft in detector.process(normalised):
            found.append(
                orjson.dumps(
                    [draft.alert_name, draft.target.__dict__, draft.events],
                    option=orjson.OPT_SORT_KEYS,
                )
            )
    return found, as_they_came


def test_drafts_are_the_same_whether_unread_dotted_keys_were_expanded_or_not(
    cloud_defend_rules: RuleSet,
) -> None:
    ruleset = cloud_defend_rules
    rng = random.Random(5)
    events = [_cloud_defend_event(rng, number) for number in range(600)]
    (lazy, passed_on), (eager, none_passed) = (
        _drafts(ruleset, events, lazy=True),
        _drafts(ruleset, events, lazy=False),
    )
    assert len(eager) > 20
    assert lazy == eager
    # Most events went to the rules as they came; those with a read dotted key did not.
    assert none_passed == 0 and 300 < passed_on < 590
    # The drafts show canonical events: the pod name is nested, as the Alert records it.
    assert b'"resource":{"name":"web-' in lazy[0]


def _outcome(expand: Any, document: Any, text: bytes | None) -> Any:
    """What an expansion answers: the result and whether it is the input itself, or the error."""
    try:
        result = expand(document, text)
    except EventFormatError as error:
        return ("error", str(error))
    return (result, result is document)


def _varied_documents(rng: random.Random, count: int) -> list[tuple[Any, bytes | None]]:
    """Documents of a recurring unread layout, of another layout with as many dotted keys (one
    of them read), without dotted keys, with escapes in their text, not objects, and without
    text."""
    found: list[tuple[Any, bytes | None]] = []
    for number in range(count):
        kind = rng.randrange(6)
        document: Any = _document(number)
        if kind == 1:  # as many dotted keys as the unread layout, one of them read
            del document["container"]["image.tag"]
            document["process"] = {"name": "sh", "parent.name": "bash"}
        elif kind == 2:
            document = {"process": {"name": "sh"}, "container": {"id": "c"}}
        elif kind == 3:
            document["container"]["image.tag"] = 'quote " and \\ backslash'
        elif kind == 4:
            document = ["not", "an", "object"]
        text = None if kind == 5 else orjson.dumps(document)
        found.append((document, text))
    return found


def test_the_reader_expansion_answers_as_expand_dotted_does() -> None:
    reads = FieldReads(["container.id", "process.name", "process.parent.name"])
    held = expansion.expander_for(reads)  # resolved before any layout recurred: stale soon
    rebuilt = 0
    for document, text in _varied_documents(random.Random(3), 300):
        current = expansion.expander_for(reads)
        rebuilt += current is not held
        expected = _outcome(
            lambda doc, txt: expand_dotted(doc, text=txt, reads=reads), document, text
        )
        assert _outcome(current, document, text) == expected
        assert _outcome(held, document, text) == expected
    assert rebuilt  # the recurring layouts got recipes, so the expansion was generated again


def test_the_reader_expansion_hands_a_recurring_unread_layout_on_inline() -> None:
    fields = ["container.id", "process.name", "orchestrator.namespace"]
    for number in range(6):  # the layout recurs (for another reader): it gets a recipe
        document = _document(number)
        expand_dotted(document, text=orjson.dumps(document), reads=FieldReads(fields))
    reads = FieldReads(fields)
    expand = expansion.expander_for(reads)
    assert expansion.expander_for(reads) is expand  # kept while the layouts stay
    document = _document(7)
    assert expand(document, orjson.dumps(document)) is document
    # The check is written into the expansion itself: no separate check was built for it.
    assert reads.unread_checks == {}
    # A layout with a recipe that the reader does read is expanded, as before.
    read = FieldReads(["container.id", "container.image"])
    result = expansion.expander_for(read)(document, orjson.dumps(document))
    assert result == _expanded(document)
