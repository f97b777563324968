"""List-then-watch of one collection, kept running: resumes after errors, relists after 410 Gone.

Runs in its own thread with the synchronous client. The handler sees a full `replace` after
every (re)list and `apply` for each change in between, like an informer's store.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from kubernetes import client

from quarantine.k8s.raw import ApiError, WatchStream, get_json

log = logging.getLogger(__name__)

HTTP_GONE = 410
_PAGE_SIZE = 500


class WatchHandler(Protocol):
    def replace(self, objects: list[dict[str, Any]]) -> None: ...

    def apply(self, event_type: str, obj: Mapping[str, Any]) -> None: ...


class ResourceVersionExpired(Exception):
    """The API server no longer has history back to our resourceVersion: relist."""


class ListWatch:
    def __init__(
        self,
        api: client.ApiClient,
        path: str,
        handler: WatchHandler,
        *,
        name: str,
        watch_seconds: int = 240,
        max_backoff: float = 30.0,
    ) -> None:
        self._api = api
        self._path = path
        self._handler = handler
        self._name = name
        self._watch_seconds = watch_seconds
        self._max_backoff = max_backoff
        self._stop = threading.Event()
        self._stream: WatchStream | None = None
        self._thread: threading.Thread | None = None
        self.synced = threading.Event()
        """Set once the first list has reached the handler."""

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"watch-{self._name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            # Closing a dead socket may fail any way it likes; we are leaving anyway.
            with contextlib.suppress(Exception):
                stream.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                version = self._list()
                failures = 0
                while not self._stop.is_set():
                    version = self._watch(version)
            except ResourceVersionExpired:
                log.info("watch %s: resourceVersion expired, relisting", self._name)
                continue
            except Exception as error:  # a watch must outlive any single failure
                if self._stop.is_set():
                    return
                failures += 1
                delay = min(self._max_backoff, 0.5 * 2 ** min(failures, 6)) * random.uniform(0.5, 1)
                log.warning("watch %s failed (%s); retrying in %.1fs", self._name, error, delay)
                self._stop.wait(delay)

    def _list(self) -> str:
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            query = [("limit", str(_PAGE_SIZE))]
            if token:
                query.append(("continue", token))
            try:
                page = get_json(self._api, self._path, query)
            except ApiError as error:
                if error.status == HTTP_GONE:
                    raise ResourceVersionExpired from error
                raise
            items.extend(page.get("items") or [])
            metadata = page.get("metadata") or {}
            token = metadata.get("continue") or ""
            if not token:
                self._handler.replace(items)
                self.synced.set()
                return str(metadata.get("resourceVersion", ""))

    def _watch(self, version: str) -> str:
        """Follow changes from `version` until the server ends the watch; return where we got."""
        timeout = self._watch_seconds + random.randint(0, 30)
        query = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", version),
            ("timeoutSeconds", str(timeout)),
        ]
        try:
            stream = WatchStream(self._api, self._path, query, read_timeout=timeout + 30)
        except ApiError as error:
            if error.status == HTTP_GONE:
                raise ResourceVersionExpired from error
            raise
        self._stream = stream
        try:
            for event in stream:
                event_type = event.get("type", "")
                obj = event.get("object") or {}
                if event_type == "ERROR":
                    if obj.get("code") == HTTP_GONE:
                        raise ResourceVersionExpired
                    raise ApiError(
                        int(obj.get("code") or 0), "WATCH", self._path, str(obj.get("message", ""))
                    )
                version = str((obj.get("metadata") or {}).get("resourceVersion", version))
                if event_type in ("ADDED", "MODIFIED", "DELETED"):
                    self._handler.apply(event_type, obj)
        finally:
            self._stream = None
            stream.close()
        return version
