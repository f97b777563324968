"""The deny-all NetworkPolicy that isolates one pod, with the playbook's optional exceptions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from quarantine.respond.naming import ALERT_LABEL, MANAGED_BY, MANAGED_BY_LABEL, label_value

DNS_PORTS = ({"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53})


@dataclass(frozen=True)
class DnsTarget:
    """Where cluster DNS runs; `allowDNS` opens egress to these pods on port 53."""

    namespace: str = "kube-system"
    pod_labels: tuple[tuple[str, str], ...] = (("k8s-app", "kube-dns"),)


@dataclass(frozen=True)
class IsolationSpec:
    """Everything that shapes one isolation policy."""

    namespace: str
    name: str
    alert_name: str
    label_key: str
    label_value: str
    allow_dns: bool = False
    egress_cidrs: Sequence[str] = ()
    ingress_cidrs: Sequence[str] = ()
    owner: Mapping[str, Any] | None = None


def owner_reference(api_version: str, kind: str, name: str, uid: str) -> dict[str, Any]:
    """An ownerReference that lets the garbage collector remove the object with its owner.
    blockOwnerDeletion stays off: it would need update rights on the owner's finalizers."""
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid, "controller": False}


def isolation_policy(spec: IsolationSpec, dns: DnsTarget = DnsTarget()) -> dict[str, Any]:
    """The NetworkPolicy manifest: policyTypes Ingress and Egress, no rules except the asked-for
    exceptions, selecting only pods carrying the Alert's own isolation label."""
    ingress: list[dict[str, Any]] = []
    egress: list[dict[str, Any]] = []
    if spec.allow_dns:
        egress.append(
            {
                "to": [
                    {
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": dns.namespace}
                        },
                        "podSelector": {"matchLabels": dict(dns.pod_labels)},
                    }
                ],
                "ports": [dict(port) for port in DNS_PORTS],
            }
        )
    if spec.egress_cidrs:
        egress.append({"to": [{"ipBlock": {"cidr": cidr}} for cidr in spec.egress_cidrs]})
    if spec.ingress_cidrs:
        ingress.append({"from": [{"ipBlock": {"cidr": cidr}} for cidr in spec.ingress_cidrs]})
    metadata: dict[str, Any] = {
        "name": spec.name,
        "namespace": spec.namespace,
        "labels": {MANAGED_BY_LABEL: MANAGED_BY, ALERT_LABEL: label_value(spec.alert_name)},
    }
    if spec.owner is not None:
        metadata["ownerReferences"] = [dict(spec.owner)]
    body_spec: dict[str, Any] = {
        "podSelector": {"matchLabels": {spec.label_key: spec.label_value}},
        "policyTypes": ["Ingress", "Egress"],
    }
    if ingress:
        body_spec["ingress"] = ingress
    if egress:
        body_spec["egress"] = egress
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata,
        "spec": body_spec,
    }
