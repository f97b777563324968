"""Who may undo containment: the pure decisions behind the tamper-protection webhooks."""

from __future__ import annotations

import copy
from typing import Any

import kopf
import pytest

from quarantine.admission import handlers
from quarantine.admission.tamper import (
    Requester,
    TamperPolicy,
    check_network_policy_change,
    check_pod_update,
)
from quarantine.respond.naming import (
    ALERT_LABEL,
    DETACHED_LABELS_ANNOTATION,
    ISOLATED_POD_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    isolation_label_key,
)

QUARANTINE = "system:serviceaccount:quarantine:quarantine-operator"
POLICY = TamperPolicy.for_identity(QUARANTINE)
MALLORY = Requester("mallory", frozenset({"system:masters", "system:authenticated"}))
ALERT = "matcher-sensitive-files-3f2a9c"


def quarantined_pod() -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web-7d4b9",
            "namespace": "shop",
            "labels": {
                "app": "web",
                ISOLATED_POD_LABEL: "true",
                isolation_label_key(ALERT): "true",
            },
            "annotations": {
                DETACHED_LABELS_ANNOTATION: '{"tier": "frontend"}',
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
            },
        },
        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    }


def quarantine_policy() -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"quarantine-{ALERT}",
            "namespace": "shop",
            "labels": {MANAGED_BY_LABEL: MANAGED_BY, ALERT_LABEL: ALERT},
        },
        "spec": {"podSelector": {"matchLabels": {isolation_label_key(ALERT): "true"}}},
    }


def without_label(body: dict[str, Any], key: str) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    del changed["metadata"]["labels"][key]
    return changed


def test_removing_the_isolation_label_is_refused_naming_the_alert_and_user() -> None:
    old = quarantined_pod()
    new = without_label(old, isolation_label_key(ALERT))
    refusal = check_pod_update(old, new, MALLORY, POLICY)
    assert refusal is not None
    assert f"Alert shop/{ALERT}" in refusal
    assert "'mallory'" in refusal
    assert f"removes label {isolation_label_key(ALERT)}" in refusal
    assert "spec.release" in refusal or '"release":true' in refusal


def test_removing_the_marker_label_is_refused() -> None:
    old = quarantined_pod()
    refusal = check_pod_update(old, without_label(old, ISOLATED_POD_LABEL), MALLORY, POLICY)
    assert refusal is not None
    assert f"removes label {ISOLATED_POD_LABEL}" in refusal


def test_system_masters_membership_does_not_make_a_user_trusted() -> None:
    old = quarantined_pod()
    new = without_label(old, ISOLATED_POD_LABEL)
    assert check_pod_update(old, new, MALLORY, POLICY) is not None


def test_quarantine_itself_may_remove_its_labels() -> None:
    old = quarantined_pod()
    new = without_label(without_label(old, ISOLATED_POD_LABEL), isolation_label_key(ALERT))
    assert check_pod_update(old, new, Requester(QUARANTINE), POLICY) is None


def test_re_adding_a_detached_label_is_refused() -> None:
    # Detach removed "tier"; putting it back would let the allowing policy select the pod again.
    old = quarantined_pod()
    new = copy.deepcopy(old)
    new["metadata"]["labels"]["tier"] = "frontend"
    refusal = check_pod_update(old, new, MALLORY, POLICY)
    assert refusal is not None and "adds label tier" in refusal


def test_changing_a_label_value_is_refused() -> None:
    old = quarantined_pod()
    new = copy.deepcopy(old)
    new["metadata"]["labels"][isolation_label_key(ALERT)] = "false"
    refusal = check_pod_update(old, new, MALLORY, POLICY)
    assert refusal is not None and f"changes label {isolation_label_key(ALERT)}" in refusal


def test_removing_quarantines_undo_record_annotation_is_refused() -> None:
    old = quarantined_pod()
    new = copy.deepcopy(old)
    del new["metadata"]["annotations"][DETACHED_LABELS_ANNOTATION]
    refusal = check_pod_update(old, new, MALLORY, POLICY)
    assert refusal is not None and f"removes annotation {DETACHED_LABELS_ANNOTATION}" in refusal


def test_other_changes_to_a_quarantined_pod_are_allowed() -> None:
    old = quarantined_pod()
    new = copy.deepcopy(old)
    new["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = "{1}"
    new["metadata"]["annotations"]["forensics/ticket"] = "IR-42"
    new["spec"]["activeDeadlineSeconds"] = 30
    assert check_pod_update(old, new, MALLORY, POLICY) is None


def test_a_pod_that_is_not_quarantined_is_not_protected() -> None:
    old = quarantined_pod()
    for key in (ISOLATED_POD_LABEL, isolation_label_key(ALERT)):
        old = without_label(old, key)
    new = without_label(old, "app")
    assert check_pod_update(old, new, MALLORY, POLICY) is None


def test_putting_a_pod_under_quarantine_is_not_tampering() -> None:
    new = quarantined_pod()
    old = without_label(without_label(new, ISOLATED_POD_LABEL), isolation_label_key(ALERT))
    assert check_pod_update(old, new, MALLORY, POLICY) is None


def test_a_pod_being_deleted_may_lose_its_finalizers_and_labels() -> None:
    old = quarantined_pod()
    old["metadata"]["deletionTimestamp"] = "2026-11-28T08:00:00Z"
    new = without_label(old, isolation_label_key(ALERT))
    assert check_pod_update(old, new, MALLORY, POLICY) is None


def test_a_pod_with_only_the_marker_still_names_an_alert_generically() -> None:
    old = without_label(quarantined_pod(), isolation_label_key(ALERT))
    refusal = check_pod_update(old, without_label(old, "app"), MALLORY, POLICY)
    assert refusal is not None and "an Alert" in refusal


def test_deleting_quarantines_network_policy_is_refused_naming_the_alert() -> None:
    refusal = check_network_policy_change("DELETE", quarantine_policy(), None, MALLORY, POLICY)
    assert refusal is not None
    assert f"NetworkPolicy shop/quarantine-{ALERT}" in refusal
    assert f"Alert shop/{ALERT}" in refusal
    assert "deletes it" in refusal


def test_changing_the_policy_spec_or_labels_is_refused() -> None:
    old = quarantine_policy()
    opened = copy.deepcopy(old)
    opened["spec"]["ingress"] = [{}]  # allow everything in
    refusal = check_network_policy_change("UPDATE", old, opened, MALLORY, POLICY)
    assert refusal is not None and "changes its spec" in refusal
    unlabelled = without_label(old, MANAGED_BY_LABEL)
    refusal = check_network_policy_change("UPDATE", old, unlabelled, MALLORY, POLICY)
    assert refusal is not None and f"removes label {MANAGED_BY_LABEL}" in refusal


def test_metadata_bookkeeping_on_the_policy_is_allowed() -> None:
    old = quarantine_policy()
    new = copy.deepcopy(old)
    new["metadata"]["finalizers"] = ["foregroundDeletion"]
    new["metadata"]["ownerReferences"] = []
    assert check_network_policy_change("UPDATE", old, new, MALLORY, POLICY) is None


@pytest.mark.parametrize(
    "username",
    [
        QUARANTINE,
        "system:serviceaccount:kube-system:namespace-controller",
        "system:serviceaccount:kube-system:generic-garbage-collector",
        "system:kube-controller-manager",
    ],
)
def test_quarantine_and_the_cleanup_controllers_may_delete_the_policy(username: str) -> None:
    assert (
        check_network_policy_change(
            "DELETE", quarantine_policy(), None, Requester(username), POLICY
        )
        is None
    )


def test_policies_of_others_are_not_protected() -> None:
    foreign = quarantine_policy()
    foreign["metadata"]["labels"][MANAGED_BY_LABEL] = "Helm"
    assert check_network_policy_change("DELETE", foreign, None, MALLORY, POLICY) is None


def test_extra_trusted_users_and_groups_are_honoured() -> None:
    policy = TamperPolicy.for_identity(QUARANTINE, also_trusted=["alice"], groups=["ir-team"])
    old = quarantined_pod()
    new = without_label(old, ISOLATED_POD_LABEL)
    assert check_pod_update(old, new, Requester("alice"), policy) is None
    assert check_pod_update(old, new, Requester("bob", frozenset({"ir-team"})), policy) is None
    assert check_pod_update(old, new, Requester("bob"), policy) is not None


def test_requester_is_read_from_admission_userinfo() -> None:
    requester = Requester.from_userinfo({"username": "bob", "groups": ["a", "b"]})
    assert requester == Requester("bob", frozenset({"a", "b"}))
    assert Requester.from_userinfo(None) == Requester("")


# --- the kopf handlers ------------------------------------------------------------------------


def test_the_pod_handler_refuses_with_403_for_others_and_passes_quarantine() -> None:
    handlers.use_tamper_policy(POLICY)
    old = quarantined_pod()
    new = without_label(old, ISOLATED_POD_LABEL)
    with pytest.raises(kopf.AdmissionError) as refused:
        handlers.protect_quarantined_pod(
            userinfo={"username": "mallory"}, old=kopf.Body(old), new=kopf.Body(new)
        )
    assert refused.value.code == 403 and "mallory" in str(refused.value)
    handlers.protect_quarantined_pod(
        userinfo={"username": QUARANTINE}, old=kopf.Body(old), new=kopf.Body(new)
    )


def test_the_network_policy_handler_refuses_deletion_by_others() -> None:
    handlers.use_tamper_policy(POLICY)
    with pytest.raises(kopf.AdmissionError) as refused:
        handlers.protect_quarantine_network_policy(
            userinfo={"username": "mallory"}, operation="DELETE", old=kopf.Body(quarantine_policy())
        )
    assert refused.value.code == 403 and f"Alert shop/{ALERT}" in str(refused.value)
