"""The list-then-watch the matcher keeps of DetectionRules, pods and namespaces
(`quarantine.k8s.watch.ListWatch`), against the real API server: a resourceVersion the server
no longer keeps history for (410 Gone) makes it list again, and changes after that still
arrive.

The API server answers most watches from its own cache, which on a quiet test cluster still
holds every event since it started; the local control plane serves PodTemplates without
that cache (`--watch-cache-sizes=podtemplates#0`), so compacting etcd expires their history
as it expires a long-running cluster's."""

from __future__ import annotations

import base64
import json
import logging
import threading
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from localcluster import LocalCluster
from quarantine.k8s.client import load_api_client
from quarantine.k8s.watch import ListWatch


class Recorder:
    """A WatchHandler that keeps what it was told: the names of each full list, and each change."""

    def __init__(self) -> None:
        self.lists: list[list[str]] = []
        self.changes: list[tuple[str, str]] = []
        self._changed = threading.Condition()

    def replace(self, objects: list[dict[str, Any]]) -> None:
        with self._changed:
            self.lists.append(sorted(obj["metadata"]["name"] for obj in objects))
            self._changed.notify_all()

    def apply(self, event_type: str, obj: Mapping[str, Any]) -> None:
        with self._changed:
            self.changes.append((event_type, obj["metadata"]["name"]))
            self._changed.notify_all()

    def wait_for(self, condition: Callable[[], bool], seconds: float = 30.0) -> bool:
        with self._changed:
            return self._changed.wait_for(condition, timeout=seconds)


class ExpiredAfterFirstList(ListWatch):
    """After its first list, watches from the resourceVersion `expired` instead of the list's,
    as if it had been away long enough for that history to be gone."""

    def __init__(self, *args: Any, expired: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.expired = expired
        self.listed = 0

    def _list(self) -> str:
        version = super()._list()
        self.listed += 1
        return self.expired if self.listed == 1 else version


def _etcd(cluster: LocalCluster, call: str, body: dict[str, Any]) -> dict[str, Any]:
    """One call to etcd's JSON gateway (the local control plane's etcd, on loopback)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{cluster.ports['etcd']}/v3/{call}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.load(response)
    return answer


def create_template(cluster: LocalCluster, namespace: str, name: str) -> None:
    template = {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"name": name, "namespace": namespace},
        "template": {"spec": {"containers": [{"name": "app", "image": "registry/app:1"}]}},
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(template))


def compact_history(cluster: LocalCluster) -> int:
    """Compacts etcd up to its current revision, as the API server does every few minutes: a
    watch from before it is answered 410 Gone. Returns that revision."""
    key = base64.b64encode(b"/registry/").decode()
    revision = int(_etcd(cluster, "kv/range", {"key": key, "limit": 1})["header"]["revision"])
    _etcd(cluster, "kv/compaction", {"revision": revision, "physical": True})
    return revision


def test_an_expired_resource_version_lists_again_and_keeps_watching(
    cluster: LocalCluster, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="quarantine.k8s.watch")
    create_template(cluster, namespace, "before")
    compacted = compact_history(cluster)
    api = load_api_client(str(cluster.kubeconfig))
    handler = Recorder()
    watch = ExpiredAfterFirstList(
        api,
        f"/api/v1/namespaces/{namespace}/podtemplates",
        handler,
        name="test-podtemplates",
        # A watch from version v streams what came after it: from compacted - 2, the change at
        # compacted - 1 is gone.
        expired=str(compacted - 2),
    )
    watch.start()
    try:
        # The first watch is refused as too old (410 Gone): the watch lists again at once,
        # as an expected turn, not as a failure retried after a backoff.
        assert handler.wait_for(lambda: len(handler.lists) >= 2), handler.lists
        messages = [record.getMessage() for record in caplog.records]
        assert "watch test-podtemplates: resourceVersion expired, relisting" in messages
        assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
        assert handler.lists[:2] == [["before"], ["before"]]
        assert handler.changes == []  # nothing replayed from the expired version
        create_template(cluster, namespace, "after")
        assert handler.wait_for(lambda: ("ADDED", "after") in handler.changes), handler.changes
        assert len(handler.lists) == 2  # the second watch is a normal one
    finally:
        watch.stop()
