"""The DetectionRule examples in the README are real: they validate and their queries compile."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from quarantine.api import DetectionRule
from quarantine.detect import RuleSet

README = Path(__file__).resolve().parents[3] / "README.md"


def readme_rules() -> list[dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.DOTALL)
    documents = [yaml.safe_load(block) for block in blocks]
    return [d for d in documents if isinstance(d, dict) and d.get("kind") == "DetectionRule"]


def test_the_readme_shows_a_detection_rule() -> None:
    assert readme_rules()


@pytest.mark.parametrize("manifest", readme_rules(), ids=lambda m: m["metadata"]["name"])
def test_readme_rule_validates_and_compiles(manifest: dict[str, Any]) -> None:
    rule = DetectionRule.model_validate(manifest)
    ruleset = RuleSet.from_rules([rule])
    assert ruleset.errors == {}
