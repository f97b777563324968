"""The deny-all NetworkPolicy manifest and its optional exceptions."""

from __future__ import annotations

from quarantine.respond.isolation import allowed_directions, assess_isolation
from quarantine.respond.policy import DnsTarget, IsolationSpec, isolation_policy, owner_reference
from quarantine.respond.selectors import selector_matches

SPEC = IsolationSpec(
    namespace="shop",
    name="quarantine-alert-1",
    alert_name="alert-1",
    label_key="isolated.quarantine.io/alert-1",
    label_value="true",
    owner=owner_reference("quarantine.io/v1alpha1", "Alert", "alert-1", "uid-1"),
)


def test_plain_isolation_denies_everything_for_the_labelled_pod_only() -> None:
    manifest = isolation_policy(SPEC)
    spec = manifest["spec"]
    assert manifest["kind"] == "NetworkPolicy"
    assert manifest["metadata"]["namespace"] == "shop"
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in spec and "egress" not in spec
    assert allowed_directions(spec) == ()
    assert selector_matches(spec["podSelector"], {"isolated.quarantine.io/alert-1": "true"})
    assert not selector_matches(spec["podSelector"], {"isolated.quarantine.io/alert-2": "true"})
    assert not selector_matches(spec["podSelector"], {"app": "web"})


def test_policy_is_owned_by_the_alert_and_labelled_as_ours() -> None:
    manifest = isolation_policy(SPEC)
    (owner,) = manifest["metadata"]["ownerReferences"]
    assert owner == {
        "apiVersion": "quarantine.io/v1alpha1",
        "kind": "Alert",
        "name": "alert-1",
        "uid": "uid-1",
        "controller": False,
    }
    labels = manifest["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "quarantine"
    assert labels["quarantine.io/alert"] == "alert-1"
    # Our own policy never counts against our own verdict.
    assert assess_isolation({"isolated.quarantine.io/alert-1": "true"}, [manifest]).isolated


def test_dns_exception_opens_port_53_to_cluster_dns_only() -> None:
    dns = DnsTarget(namespace="dns-system", pod_labels=(("app", "coredns"),))
    spec = isolation_policy(IsolationSpec(**{**SPEC.__dict__, "allow_dns": True}), dns)["spec"]
    (rule,) = spec["egress"]
    (peer,) = rule["to"]
    assert peer["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "dns-system"}
    }
    assert peer["podSelector"] == {"matchLabels": {"app": "coredns"}}
    assert rule["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert "ingress" not in spec


def test_forensics_cidrs_open_exactly_those_networks() -> None:
    spec = isolation_policy(
        IsolationSpec(
            **{**SPEC.__dict__, "egress_cidrs": ["10.99.0.0/24"], "ingress_cidrs": ["10.98.0.5/32"]}
        )
    )["spec"]
    assert spec["egress"] == [{"to": [{"ipBlock": {"cidr": "10.99.0.0/24"}}]}]
    assert spec["ingress"] == [{"from": [{"ipBlock": {"cidr": "10.98.0.5/32"}}]}]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
