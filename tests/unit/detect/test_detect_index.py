"""The prefilter index: few candidates per event, and never a matching rule left out."""

from __future__ import annotations

from typing import Any

from detect_helpers import FOUNDING_QUERY, make_rule, process_event
from hypothesis import given, settings
from hypothesis import strategies as st

from quarantine.detect import RuleSet
from quarantine.detect.index import MEMO_LIMIT

RULES = {
    "compression": FOUNDING_QUERY,
    "netcat": 'process where process.name in ("nc", "ncat") and event.type == "start"',
    "shell-args": 'process where process.name : "bash" or process.args : ("nc", "socat")',
    "any-shadow": 'any where file.path == "/etc/shadow"',
    "file-only": 'file where file.name : "*.so"',
    "no-literal": "process where process.args_count > 3",
}


def _ruleset() -> RuleSet:
    ruleset = RuleSet.from_rules(make_rule(name, query) for name, query in RULES.items())
    assert ruleset.errors == {}
    return ruleset


def _names(ruleset: RuleSet, event: dict[str, Any]) -> list[str]:
    return [rule.name for rule in ruleset.index.candidates(event)]


def test_events_meet_only_rules_they_could_match() -> None:
    ruleset = _ruleset()
    # no-literal has no trigger values: always a candidate for process events. shell-args is
    # filed under process.name "bash" and process.args "nc"/"socat"; the others under one field.
    assert _names(ruleset, process_event("nginx")) == ["no-literal"]
    assert _names(ruleset, process_event("tar", "/ETC/shadow")) == ["compression", "no-literal"]
    # Looked up casefolded, then held to the condition itself: `in` is case-sensitive.
    assert _names(ruleset, process_event("TAR", "/etc/shadow")) == ["no-literal"]
    # Filed under process.name, but refined by its second clause: an argument must contain
    # "/root/.ssh/" or "/etc/shadow", so a plain tar never reaches the query.
    assert _names(ruleset, process_event("tar", "xzf", "release.tgz")) == ["no-literal"]
    assert _names(ruleset, process_event("nc")) == ["netcat", "no-literal", "shell-args"]
    assert _names(ruleset, process_event("vim", "socat")) == ["no-literal", "shell-args"]
    file_event = {"event": {"category": "file"}, "file": {"name": "x.so"}}
    assert _names(ruleset, file_event) == ["file-only"]
    file_event["file"]["path"] = "/etc/shadow"
    assert _names(ruleset, file_event) == ["any-shadow", "file-only"]
    file_event["file"]["path"] = "/ETC/shadow"  # `==` is case-sensitive
    assert _names(ruleset, file_event) == ["file-only"]


def test_uncategorised_events_meet_only_any_rules() -> None:
    ruleset = _ruleset()
    event = {"file": {"path": "/etc/shadow"}, "process": {"name": "tar"}}
    assert _names(ruleset, event) == ["any-shadow"]


def test_arrays_of_objects_on_the_path_are_walked() -> None:
    ruleset = _ruleset()
    event = {"event": {"category": ["process"]}, "process": [{"name": "zz"}, {"name": "nc"}]}
    assert "netcat" in _names(ruleset, event)


NAMES = st.sampled_from(["tar", "TAR", "nc", "bash", "nginx", "zip", "socat", "sh"])
ARGS = st.lists(
    st.sampled_from(["/root/.ssh/id_rsa", "nc", "socat", "-x", "/etc/shadow", "a", "b"]),
    max_size=5,
)
CATEGORIES = st.sampled_from([["process"], ["file"], "process", ["process", "file"], None])


@settings(max_examples=300, deadline=None)
@given(name=NAMES, args=ARGS, category=CATEGORIES, path=st.sampled_from([None, "/etc/shadow"]))
def test_index_never_drops_a_matching_rule(
    name: str, args: list[str], category: Any, path: str | None
) -> None:
    ruleset = _ruleset()
    event = process_event(name, *args)
    if category is None:
        del event["event"]["category"]
    else:
        event["event"]["category"] = category
    if path is not None:
        event["file"] = {"path": path, "name": "lib.so"}
    candidates = {rule.name for rule in ruleset.index.candidates(event)}
    for rule in ruleset.rules:
        if rule.query.matches(event, category_field="event.category"):
            assert rule.name in candidates, f"index dropped {rule.name} for {event}"


def test_remembered_lookups_give_the_same_answers_as_fresh_ones() -> None:
    ruleset = _ruleset()
    expected = ["netcat", "no-literal", "shell-args"]
    # Remembered by the exact text: "NC" shares the casefolded key, not the answer (`in` is
    # case-sensitive, `:` is not).
    assert _names(ruleset, process_event("NC")) == ["no-literal", "shell-args"]
    assert _names(ruleset, process_event("nc")) == expected
    assert _names(ruleset, process_event("NC")) == ["no-literal", "shell-args"]
    # Far more distinct values than the index remembers: it starts over, answers stay right.
    for number in range(MEMO_LIMIT + 50):
        assert _names(ruleset, process_event(f"tool-{number}")) == ["no-literal"]
    assert _names(ruleset, process_event("nc")) == expected
    assert _names(ruleset, process_event("tar", "/ETC/shadow")) == ["compression", "no-literal"]


def test_nested_category_arrays_reach_their_buckets() -> None:
    ruleset = _ruleset()
    for category in ([["process"]], [["process"], "other"], [[], ["process", ["file"]]]):
        event = process_event("nc")
        event["event"]["category"] = category
        names = _names(ruleset, event)
        assert "netcat" in names, category
        assert rule_matches(ruleset, "netcat", event), category


def rule_matches(ruleset: RuleSet, name: str, event: dict[str, Any]) -> bool:
    rule = ruleset.get(name)
    assert rule is not None
    return rule.query.matches(event, category_field="event.category")


def test_a_condition_test_that_raises_keeps_the_rule_a_candidate() -> None:
    ruleset = _ruleset()
    index = ruleset.index
    table = next(
        table
        for bucket in index._by_category.values()
        for table in bucket.primary.tables.values()
        if table.tests
    )
    bit = next(iter(table.tests))

    def broken(value: object) -> bool:
        raise RuntimeError("odd value")

    literals = {**table.exact, **table.prefixes, **table.substrings}
    value = next(literal for literal, bits in literals.items() if bits & bit)
    table.tests[bit] = (lambda value: False,)
    table.memo.clear()
    assert not table.mask_of(value) & bit  # a failed test drops the rule
    table.tests[bit] = (broken,)
    table.memo.clear()
    assert table.mask_of(value) & bit  # a raising one keeps it


PARENT_RULES = {
    "parent-nc": 'process where process.parent.name == "nc"',
    "parent-shell-c": 'process where process.parent.name in ("sh", "bash") and '
    'process.parent.args == "-c"',
    "leader-shell": 'process where process.name == "sh" and '
    'process.entry_leader.entry_meta.type == "container"',
}
PARENT_NAMES = st.sampled_from(["nc", "sh", "bash", "nginx", 7, None, ["nc", "sh"]])
# What may stand where an object is expected: objects, nothing, empty or odd values, arrays.
PARENTS = st.recursive(
    st.one_of(st.sampled_from(["", 0, [], False, "nc", 3]), st.just({})),
    lambda inner: st.one_of(
        st.fixed_dictionaries(
            {"name": PARENT_NAMES},
            optional={"args": st.lists(st.sampled_from(["-c", "sh", 1]), max_size=3) | inner},
        ),
        st.lists(inner, max_size=2),
    ),
    max_leaves=4,
)


@settings(max_examples=400, deadline=None)
@given(parent=PARENTS, leader=PARENTS, absent=st.booleans())
def test_objects_on_the_path_of_any_shape_give_the_generic_walks_answer(
    parent: Any, leader: Any, absent: bool
) -> None:
    """The generated lookup reads an absent or empty object as empty and leaves every other
    shape on the way (arrays of objects, values where objects belong) to the generic walk."""
    ruleset = RuleSet.from_rules(make_rule(name, query) for name, query in PARENT_RULES.items())
    event = process_event("sh")
    if not absent:
        event["process"]["parent"] = parent
        event["process"]["entry_leader"] = {"entry_meta": leader}
    bucket = ruleset.index._by_category["process"]
    expected = bucket.candidates(event)
    assert ruleset.index.candidate_mask(event, -1) == expected
    assert bucket.lookup(event, -1) == expected


def test_lookups_made_for_admitted_bits_leave_out_the_unadmitted_always_candidates() -> None:
    ruleset = _ruleset()
    index = ruleset.index
    events = [
        process_event("nginx"),
        process_event("tar", "/etc/shadow"),
        process_event("nc"),
        {"event": {"category": "file"}, "file": {"name": "x.so", "path": "/etc/shadow"}},
    ]
    for admitted in range(1 << len(index.rules)):
        lookup = index.lookup_for(admitted)
        for event in events:
            assert lookup(event) == index.candidate_mask(event, -1) & admitted, (admitted, event)
    no_literal = 1 << [rule.name for rule in index.rules].index("no-literal")
    assert index.lookup_for(index.rule_bits & ~no_literal)(process_event("nginx")) == 0
