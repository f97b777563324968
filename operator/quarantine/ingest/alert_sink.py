"""Where the pipeline's Alerts go: the API server, through the blocking client in threads."""

from __future__ import annotations

import asyncio
from typing import Protocol

from quarantine.k8s.alert_manifest import AlertOccurrence
from quarantine.k8s.alert_writer import AlertWriter, Written


class AlertSink(Protocol):
    async def write(self, occurrence: AlertOccurrence) -> Written: ...


class KubernetesAlertSink:
    def __init__(self, writer: AlertWriter, *, concurrency: int = 8) -> None:
        self._writer = writer
        # Bounded so a burst of detections cannot open hundreds of API connections at once.
        self._slots = asyncio.Semaphore(concurrency)

    async def write(self, occurrence: AlertOccurrence) -> Written:
        async with self._slots:
            return await asyncio.to_thread(self._writer.write, occurrence)
