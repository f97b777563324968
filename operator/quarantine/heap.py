"""The garbage collector's settings for a long-running service's heap."""

from __future__ import annotations

import gc

# Full collections wait for this many middle-generation ones (CPython's default is 10).
# Events are trees freed by reference counting; what lives long is the start-up heap and the
# events that pending sequence partials hold, and walking those again and again is what full
# collections cost a busy matcher (about 5% of its CPU time at 100,000 events/s).
FULL_COLLECTION_THRESHOLD = 100


def settle_startup_heap() -> None:
    """Take everything allocated so far (modules, compiled rules, clients) out of the cyclic
    collector's view, since it lives as long as the process, and make full collections rarer.
    The matcher calls this once it has started; the benchmarks do the same so they measure
    the same heap."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_THRESHOLD)
