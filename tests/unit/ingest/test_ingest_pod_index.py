"""The pod index: container ids with and without runtime prefix, short ids, renames, deletes."""

from __future__ import annotations

from ingest_helpers import kwok_container_id, pod

from quarantine.k8s.pod_index import PodIndex, bare_container_id, pod_record


def test_runtime_prefixes_are_stripped_and_case_folded() -> None:
    assert bare_container_id("containerd://ABC123") == "abc123"
    assert bare_container_id("cri-o://abc") == "abc"
    assert bare_container_id("docker://abc") == "abc"
    assert bare_container_id("abc") == "abc"


def test_lookup_by_full_prefixed_and_short_id() -> None:
    index = PodIndex()
    index.replace([pod("web-1", containers=("app", "sidecar")), pod("db-0")])
    full = kwok_container_id("uid-web-1", "sidecar").removeprefix("containerd://")
    for query in (full, "containerd://" + full, full[:12], full[:20].upper()):
        match = index.by_container_id(query)
        assert match is not None, query
        assert (match.pod.name, match.container_name, match.container_id) == (
            "web-1",
            "sidecar",
            full,
        )
    assert index.by_container_id(full[:11]) is None
    assert index.by_container_id("f" * 64) is None


def test_ambiguous_short_id_resolves_to_nothing() -> None:
    index = PodIndex()
    index.replace([pod("a"), pod("b")])
    shared = "0123456789ab"
    index.apply(
        "MODIFIED",
        pod(
            "a",
            extra_status={
                "containerStatuses": [
                    {"name": "x", "containerID": "containerd://" + shared + "1" * 52}
                ]
            },
        ),
    )
    index.apply(
        "MODIFIED",
        pod(
            "b",
            extra_status={
                "containerStatuses": [
                    {"name": "y", "containerID": "containerd://" + shared + "2" * 52}
                ]
            },
        ),
    )
    assert index.by_container_id(shared) is None
    match = index.by_container_id(shared + "2")
    assert match is not None and match.pod.name == "b"


def test_previous_container_instance_still_resolves_after_restart() -> None:
    old_id = "containerd://" + "a" * 64
    restarted = pod(
        "web-1",
        extra_status={
            "containerStatuses": [
                {
                    "name": "app",
                    "containerID": "containerd://" + "b" * 64,
                    "lastState": {"terminated": {"containerID": old_id}},
                }
            ]
        },
    )
    index = PodIndex()
    index.replace([restarted])
    match = index.by_container_id("a" * 64)
    assert match is not None and match.pod.name == "web-1" and match.container_name == "app"


def test_updates_replace_old_ids_and_deletes_remove_the_pod() -> None:
    index = PodIndex()
    index.replace([pod("web-1")])
    old = kwok_container_id("uid-web-1", "app")
    index.apply("MODIFIED", pod("web-1", uid="uid-new"))
    assert index.by_container_id(old) is None
    assert index.by_container_id(kwok_container_id("uid-new", "app")) is not None
    index.apply("DELETED", pod("web-1", uid="uid-new"))
    assert index.by_name("shop", "web-1") is None
    assert index.by_container_id(kwok_container_id("uid-new", "app")) is None
    assert len(index) == 0


def test_relist_drops_pods_that_vanished_meanwhile() -> None:
    index = PodIndex()
    index.replace([pod("a"), pod("b")])
    index.replace([pod("b")])
    assert index.by_name("shop", "a") is None
    assert index.by_container_id(kwok_container_id("uid-a", "app")) is None
    assert index.by_name("shop", "b") is not None


def test_record_keeps_node_labels_and_controller() -> None:
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d9f", "controller": True}
    record = pod_record(pod("web-5d9f-x", owner=owner))
    assert record.node == "node-1"
    assert record.labels == {"app": "web-5d9f-x"}
    assert record.controller is not None and record.controller.kind == "ReplicaSet"
    assert pod_record(pod("bare")).controller is None
