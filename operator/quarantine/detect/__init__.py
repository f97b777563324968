"""Detection: the compiled rule set, the prefilter index, exceptions, scope, suppression and
caps, turning canonical ECS events into alert drafts. Pure: no Kubernetes here."""

from quarantine.detect.caps import AlertCap
from quarantine.detect.counters import RuleCounters
from quarantine.detect.detector import Detector
from quarantine.detect.draft import AlertDraft
from quarantine.detect.index import RuleIndex
from quarantine.detect.rule import CompiledRule, ExceptionSyntaxError, compile_rule
from quarantine.detect.ruleset import RuleSet
from quarantine.detect.scope import ScopeCheck, selector_matches
from quarantine.detect.suppression import SuppressionPolicy, alert_name, suppression_key
from quarantine.detect.target import TargetHint, target_hint

__all__ = [
    "AlertCap",
    "AlertDraft",
    "CompiledRule",
    "Detector",
    "ExceptionSyntaxError",
    "RuleCounters",
    "RuleIndex",
    "RuleSet",
    "ScopeCheck",
    "SuppressionPolicy",
    "TargetHint",
    "alert_name",
    "compile_rule",
    "selector_matches",
    "suppression_key",
    "target_hint",
]
