"""The per-rule cap: at most maxSignals new alerts per interval (Elastic's max_signals per run)."""

from __future__ import annotations

import math


class AlertCap:
    """Admits new alert names up to `max_signals` per fixed `interval` window.

    A name already admitted is a repeat (the matcher raises its count), never a new alert, so
    it always passes while its suppression window can still receive events.
    """

    def __init__(self, max_signals: int, interval_seconds: float) -> None:
        self.max_signals = max_signals
        self.interval_seconds = interval_seconds
        self._window = -math.inf
        self._admitted_in_window = 0
        # alert name -> time after which no event can map to it any more
        self._known: dict[str, float] = {}

    def admit(self, name: str, now: float, expires_at: float) -> bool:
        """Whether an alert called `name` may be raised at `now`."""
        window = math.floor(now / self.interval_seconds)
        if window != self._window:
            self._window = window
            self._admitted_in_window = 0
            self._forget_expired(now)
        if name in self._known:
            return True
        if self._admitted_in_window >= self.max_signals:
            return False
        self._admitted_in_window += 1
        self._known[name] = expires_at
        return True

    @property
    def remembered(self) -> int:
        """How many alert names are remembered as already raised."""
        return len(self._known)

    def _forget_expired(self, now: float) -> None:
        expired = [name for name, until in self._known.items() if until < now]
        for name in expired:
            del self._known[name]
