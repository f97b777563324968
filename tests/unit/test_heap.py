"""The matcher's heap settings (checked in a child process: they are process-wide)."""

from __future__ import annotations

import json
import subprocess
import sys

from quarantine.heap import FULL_COLLECTION_THRESHOLD

PROBE = """
import gc, json
from quarantine.heap import settle_startup_heap
before = gc.get_freeze_count()
settle_startup_heap()
print(json.dumps([before, gc.get_freeze_count(), gc.get_threshold()]))
"""


def test_settling_freezes_the_startup_heap_and_spaces_out_full_collections() -> None:
    output = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    ).stdout
    before, after, thresholds = json.loads(output)
    assert before == 0
    assert after > 1000  # the modules and everything imported so far
    assert thresholds[2] == FULL_COLLECTION_THRESHOLD > 10
