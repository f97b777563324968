"""Command-line options of the responder, shared by `quarantine operator` and `quarantine run`."""

from __future__ import annotations

import argparse
import os
from datetime import timedelta

from quarantine.api import ACTION_NAMES, parse_duration
from quarantine.respond.config import ResponderConfig
from quarantine.respond.peering import (
    DEFAULT_LIFETIME_SECONDS,
    MIN_LIFETIME_SECONDS,
    Peering,
    seniority_priority,
)
from quarantine.respond.policy import DnsTarget
from quarantine.respond.runtime import CompanionFactory, OperatorOptions
from quarantine.respond.safety import DEFAULT_PROTECTED_NAMESPACES, Limits, SafetySettings

DEFAULT_NAMESPACE = "quarantine-system"


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _duration(text: str) -> timedelta:
    if text.strip() in ("0", "0s"):
        return timedelta(0)
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def add_responder_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or in-cluster)")
    parser.add_argument(
        "--namespace",
        default=os.environ.get("POD_NAMESPACE", DEFAULT_NAMESPACE),
        help="Quarantine's own namespace: always protected, and where notify Secrets live "
        f"(default: $POD_NAMESPACE or {DEFAULT_NAMESPACE})",
    )
    safety = parser.add_argument_group("safety")
    safety.add_argument(
        "--protected-namespace",
        action="append",
        metavar="NAME",
        help="namespace never acted on (repeatable; replaces the default "
        f"{', '.join(sorted(DEFAULT_PROTECTED_NAMESPACES))})",
    )
    safety.add_argument(
        "--self-label",
        action="append",
        type=_pair,
        metavar="KEY=VALUE",
        help="label of Quarantine's own pods, never acted on (repeatable; default "
        "app.kubernetes.io/name=quarantine)",
    )
    safety.add_argument(
        "--max-containments-per-rule",
        type=_count,
        default=Limits.per_rule,
        help=f"containments per rule per window (0 = no limit; default {Limits.per_rule})",
    )
    safety.add_argument(
        "--max-containments",
        type=_count,
        default=Limits.overall,
        help=f"containments across all rules per window (0 = no limit; default {Limits.overall})",
    )
    safety.add_argument(
        "--containment-window",
        type=_duration,
        default=Limits.window,
        help="window of the blast-radius limits, e.g. 10m (default 10m)",
    )
    safety.add_argument(
        "--pod-cooldown",
        type=_duration,
        default=Limits.pod_cooldown,
        help="after a containment, further Alerts on the same pod are skipped for this long "
        "(0 = off; default 5m)",
    )
    safety.add_argument(
        "--disable-action",
        action="append",
        choices=ACTION_NAMES,
        metavar="ACTION",
        help="never run this action (repeatable; its steps are recorded as Skipped); one of "
        + ", ".join(ACTION_NAMES),
    )
    network = parser.add_argument_group("isolation")
    network.add_argument(
        "--dns-namespace",
        default="kube-system",
        help="namespace of cluster DNS for allowDNS (default kube-system)",
    )
    network.add_argument(
        "--dns-pod-label",
        action="append",
        type=_pair,
        metavar="KEY=VALUE",
        help="labels of the cluster DNS pods for allowDNS (default k8s-app=kube-dns)",
    )
    runtime = parser.add_argument_group("runtime")
    runtime.add_argument(
        "--watch-namespace",
        action="append",
        metavar="NAME",
        help="handle Alerts in this namespace only (repeatable; default: all namespaces)",
    )
    runtime.add_argument(
        "--workers", type=_count, default=32, help="threads running playbooks (default 32)"
    )
    runtime.add_argument(
        "--metrics-port",
        type=_count,
        default=0,
        help="serve Prometheus /metrics on this port (default 0 = off)",
    )
    runtime.add_argument(
        "--metrics-address", default="127.0.0.1", help="address for /metrics (default 127.0.0.1)"
    )
    runtime.add_argument(
        "--liveness", help="kopf liveness endpoint, e.g. http://127.0.0.1:8080/healthz"
    )
    election = parser.add_argument_group("leader election (kopf peering)")
    election.add_argument(
        "--peering",
        metavar="NAME",
        help="ClusterKopfPeering shared with the other replicas: only the live replica of highest "
        "priority acts, the others wait paused (default: standalone, always active)",
    )
    election.add_argument(
        "--priority",
        type=int,
        help="this replica's priority with --peering (default: higher the earlier it started, so "
        "a restarted replica joins as the standby)",
    )
    election.add_argument(
        "--peering-lifetime",
        type=_count,
        default=DEFAULT_LIFETIME_SECONDS,
        metavar="SECONDS",
        help="a replica that stops renewing its record for this long counts as gone and its "
        f"standby takes over (min {MIN_LIFETIME_SECONDS}; default {DEFAULT_LIFETIME_SECONDS})",
    )
    runtime.add_argument(
        "--notify-timeout", type=float, default=5.0, help="seconds per attempt (default 5)"
    )
    runtime.add_argument(
        "--notify-attempts", type=_count, default=3, help="attempts per message (default 3)"
    )
    runtime.add_argument("--json-logs", action="store_true", help="structured JSON logs")
    runtime.add_argument("--verbose", action="store_true", help="log more")


def responder_config(args: argparse.Namespace) -> ResponderConfig:
    protected = frozenset(args.protected_namespace or DEFAULT_PROTECTED_NAMESPACES)
    self_labels = dict(args.self_label or [("app.kubernetes.io/name", "quarantine")])
    dns_labels = tuple(args.dns_pod_label or [("k8s-app", "kube-dns")])
    return ResponderConfig(
        safety=SafetySettings(
            own_namespace=args.namespace,
            protected_namespaces=protected,
            self_labels=self_labels,
        ),
        limits=Limits(
            per_rule=args.max_containments_per_rule,
            overall=args.max_containments,
            window=args.containment_window,
            pod_cooldown=args.pod_cooldown,
        ),
        dns=DnsTarget(namespace=args.dns_namespace, pod_labels=dns_labels),
        notify_timeout=args.notify_timeout,
        notify_attempts=max(1, args.notify_attempts),
        disabled_actions=frozenset(args.disable_action or ()),
    )


def peering_options(args: argparse.Namespace) -> Peering | None:
    """None without --peering; raises ValueError on a flag that makes no sense."""
    if args.peering is None:
        if args.priority is not None:
            raise ValueError("--priority needs --peering")
        return None
    priority = seniority_priority() if args.priority is None else args.priority
    return Peering(name=args.peering, priority=priority, lifetime=args.peering_lifetime)


def operator_options(
    args: argparse.Namespace, companions: tuple[CompanionFactory, ...] = ()
) -> OperatorOptions:
    from quarantine.admission.configure import admission_options

    return OperatorOptions(
        config=responder_config(args),
        kubeconfig=args.kubeconfig,
        workers=max(1, args.workers),
        metrics_port=args.metrics_port,
        metrics_address=args.metrics_address,
        liveness=args.liveness,
        peering=peering_options(args),
        watch_namespaces=tuple(args.watch_namespace or ()),
        verbose=args.verbose,
        json_logs=args.json_logs,
        admission=admission_options(args),
        companions=companions,
    )
