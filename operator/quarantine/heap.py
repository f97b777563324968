"""The garbage collector's view of a long-running service's heap."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Take everything allocated so far (modules, compiled rules, clients) out of the cyclic
    collector's view: it lives as long as the process, and every full collection would walk
    it again. The matcher calls this once it has started; the benchmarks do the same so they
    measure the same heap."""
    gc.collect()
    gc.freeze()
