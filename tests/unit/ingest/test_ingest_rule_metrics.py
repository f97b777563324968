"""The detector's per-rule counters reach /metrics: why a rule alerted or stayed silent."""

from __future__ import annotations

from quarantine.detect.counters import RuleCounters
from quarantine.ingest.metrics import MatcherMetrics


def test_rule_counters_are_exposed_per_rule_and_outcome() -> None:
    counters = {"founding": RuleCounters(evaluated=7, matched=2, late=1, failed=3)}
    metrics = MatcherMetrics()
    metrics.watch_rule_counters(lambda: counters)

    text = metrics.exposition().decode()
    assert 'quarantine_matcher_rule_events_total{outcome="evaluated",rule="founding"} 7.0' in text
    assert 'quarantine_matcher_rule_events_total{outcome="failed",rule="founding"} 3.0' in text
    assert 'quarantine_matcher_rule_events_total{outcome="late",rule="founding"} 1.0' in text

    # Read at scrape time: later increments show without re-registering.
    counters["founding"].capped += 5
    text = metrics.exposition().decode()
    assert 'quarantine_matcher_rule_events_total{outcome="capped",rule="founding"} 5.0' in text
