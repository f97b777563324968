"""Shared test helpers: where the repository and the shared corpora are."""

from __future__ import annotations

from pathlib import Path

import pytest

from quarantine.detect import RuleSet
from quarantine.elastic_import import NotEqlRuleError, load_elastic_rule

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = (REPO_ROOT / ".." / "shared").resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """`../shared` beside the repository; tests that need it skip, saying so, when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared material not found at {SHARED} (expected ../shared beside the repo)")
    return SHARED


@pytest.fixture
def cloud_defend_rules(shared_dir: Path) -> RuleSet:
    """Elastic's cloud_defend EQL rules as one fresh RuleSet (the one kuery rule left out)."""
    rules = []
    for path in sorted((shared_dir / "elastic-rules" / "cloud_defend").glob("*.toml")):
        try:
            rules.append(load_elastic_rule(path))
        except NotEqlRuleError:
            continue
    return RuleSet.from_rules(rules)
