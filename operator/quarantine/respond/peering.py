"""Leader election between operator replicas, through kopf peering.

Each replica renews a keep-alive record (priority, lifetime, last seen) in the status of one
ClusterKopfPeering object and pauses while a live peer has a higher priority; a record not
renewed within its lifetime counts as dead. So one replica handles Alerts, the other waits, and
the waiting one takes over at most `lifetime` seconds after the active one's last renewal. Paused
replicas keep serving the admission webhook and the intake, which a Lease-gated standby would not.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass

import kopf

from quarantine.api.peering import PEERING_API_VERSION, PEERING_CRD_NAME, PEERING_PLURAL
from quarantine.k8s.raw import ApiError, Kube

log = logging.getLogger(__name__)

DEFAULT_LIFETIME_SECONDS = 15
# kopf renews 5-10 s before the lifetime ends (at least every second): shorter lifetimes would
# leave a renewal no time to land.
MIN_LIFETIME_SECONDS = 5
_HTTP_FORBIDDEN = 403


class PeeringUnavailable(Exception):
    """The peering CRD is missing or unreadable: no replica could ever become active."""


@dataclass(frozen=True)
class Peering:
    name: str
    """The ClusterKopfPeering object the replicas share."""
    priority: int
    """The live replica with the highest priority is the active one; the others pause."""
    lifetime: int = DEFAULT_LIFETIME_SECONDS
    """Seconds a keep-alive record stays valid: the bound on failover after a crash."""

    def __post_init__(self) -> None:
        if self.lifetime < MIN_LIFETIME_SECONDS:
            raise ValueError(
                f"--peering-lifetime must be at least {MIN_LIFETIME_SECONDS} seconds, "
                f"got {self.lifetime}"
            )

    def configure(self, settings: kopf.OperatorSettings) -> None:
        settings.peering.name = self.name
        settings.peering.priority = self.priority
        settings.peering.lifetime = self.lifetime
        settings.peering.mandatory = True
        # One cluster-wide object also when the operator watches only some namespaces, so every
        # replica meets in the same place whatever --watch-namespace says.
        settings.peering.clusterwide = True
        # Renewals every few seconds would flood the debug log.
        settings.peering.stealth = True

    def check(self, kube: Kube) -> None:
        """Fail on a missing CRD or permission (nothing would ever run); warn on a missing
        object (every replica stays paused until it is created, then carries on by itself)."""
        path = f"/apis/{PEERING_API_VERSION}/{PEERING_PLURAL}"
        try:
            found = kube.list_items(path, fieldSelector=f"metadata.name={self.name}")
        except ApiError as error:
            if error.not_found:
                raise PeeringUnavailable(
                    f"the CRD {PEERING_CRD_NAME} is not installed: apply "
                    "crds/kopf.dev_clusterkopfpeerings.yaml (the Helm chart ships it)"
                ) from error
            if error.status == _HTTP_FORBIDDEN:
                raise PeeringUnavailable(
                    f"may not list {PEERING_PLURAL}: the operator needs list, watch and patch "
                    f"on {PEERING_PLURAL}.kopf.dev ({error})"
                ) from error
            raise PeeringUnavailable(
                f"cannot read ClusterKopfPeering {self.name!r}: {error}"
            ) from error
        if not found:
            log.warning(
                "ClusterKopfPeering %r does not exist: this replica stays paused until it is "
                "created (apiVersion %s, kind ClusterKopfPeering, metadata.name %s)",
                self.name,
                PEERING_API_VERSION,
                self.name,
            )
        log.info(
            "leader election through ClusterKopfPeering %r: priority %d, lifetime %ds",
            self.name,
            self.priority,
            self.lifetime,
        )


_RANDOM_DIGITS = 1_000_000


def seniority_priority() -> int:
    """A priority that is higher the earlier this replica started, distinct per replica.

    The senior replica stays active: a restarted pod, or the new pod of a rolling update, joins
    as the standby instead of taking over from a healthy peer. Milliseconds since the epoch,
    negated, with six random last digits so two replicas starting in the same millisecond
    differ but for a one-in-a-million chance (equal priorities would pause both). Fits in a
    signed 64-bit integer until the year 2262.
    """
    started_millis = time.time_ns() // 1_000_000
    return -(started_millis * _RANDOM_DIGITS + random.randrange(_RANDOM_DIGITS))
