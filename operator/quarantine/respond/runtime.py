"""Starting the responder: build the Responder from options and run kopf with the handlers of
`quarantine.operator`, with companion services (the matcher for `quarantine run`) started and
stopped in kopf's event loop."""

from __future__ import annotations

import asyncio
import copy
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import kopf
from kubernetes import client

from quarantine.k8s.client import load_api_client
from quarantine.k8s.raw import Kube
from quarantine.respond.config import ResponderConfig
from quarantine.respond.metrics import serve_metrics
from quarantine.respond.notifier import Notifier
from quarantine.respond.notify import WebhookSender
from quarantine.respond.peering import Peering, PeeringUnavailable
from quarantine.respond.responder import Responder

if TYPE_CHECKING:
    from quarantine.admission.configure import AdmissionOptions

log = logging.getLogger(__name__)


class Companion(Protocol):
    """A service that shares the operator's process and event loop (e.g. the matcher)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


CompanionFactory = Callable[[client.ApiClient], Companion]


@dataclass(frozen=True)
class OperatorOptions:
    config: ResponderConfig
    kubeconfig: str | None = None
    workers: int = 32
    metrics_port: int = 0
    metrics_address: str = "127.0.0.1"
    liveness: str | None = None
    peering: Peering | None = None
    """Leader election with other replicas; None runs standalone."""
    # Empty: every namespace.
    watch_namespaces: tuple[str, ...] = ()
    verbose: bool = False
    json_logs: bool = False
    admission: AdmissionOptions | None = None
    companions: tuple[CompanionFactory, ...] = ()


@dataclass
class RuntimeState:
    """What the kopf handlers reach through `memo`: one per operator process."""

    responder: Responder
    api_client: client.ApiClient
    workers: int
    admission: AdmissionOptions | None = None
    companion_factories: tuple[CompanionFactory, ...] = ()
    watch_namespaces: tuple[str, ...] = ()
    peering: Peering | None = None
    companions: list[Companion] = field(default_factory=list, init=False)

    def configure_admission(self, settings: kopf.OperatorSettings) -> None:
        from quarantine.admission.configure import AdmissionOptions

        # The admission handlers are always registered, so kopf always needs a server setting.
        (self.admission or AdmissionOptions(mode=None)).apply(settings, self.api_client)

    def configure_peering(self, settings: kopf.OperatorSettings) -> None:
        if self.peering is not None:
            self.peering.configure(settings)

    async def start_companions(self) -> None:
        for factory in self.companion_factories:
            companion = factory(self.api_client)
            await companion.start()
            self.companions.append(companion)

    async def stop_companions(self) -> None:
        for companion in reversed(self.companions):
            await companion.stop()
        self.responder.notifier.shutdown()

    async def recall_containments(self) -> int:
        return await asyncio.to_thread(self.responder.recall_containments, self.watch_namespaces)


def _pooled(api_client: client.ApiClient, connections: int) -> client.ApiClient:
    """A client for the responder's threads with a connection per thread: urllib3's default pool
    of 10 would drop and re-handshake TLS connections under a burst."""
    configuration = copy.copy(api_client.configuration)
    configuration.connection_pool_maxsize = connections
    return client.ApiClient(configuration)


def run_operator(options: OperatorOptions) -> int:
    """Run until signalled. Blocks."""
    if options.kubeconfig:
        # kopf logs in from $KUBECONFIG; the responder's own client uses the same file.
        os.environ["KUBECONFIG"] = options.kubeconfig
    api_client = load_api_client(options.kubeconfig)
    kube = Kube(_pooled(api_client, options.workers + 8))
    config = options.config
    notifier = Notifier(
        kube,
        own_namespace=config.safety.own_namespace,
        sender=WebhookSender(timeout=config.notify_timeout, attempts=config.notify_attempts),
        workers=config.notify_workers,
    )
    state = RuntimeState(
        responder=Responder(kube, config, notifier=notifier),
        api_client=api_client,
        workers=options.workers,
        admission=options.admission,
        companion_factories=options.companions,
        watch_namespaces=options.watch_namespaces,
        peering=options.peering,
    )
    import quarantine.operator  # noqa: F401  (registers the handlers)

    kopf.configure(
        verbose=options.verbose,
        log_format=kopf.LogFormat.JSON if options.json_logs else kopf.LogFormat.FULL,
        log_refkey="alert" if options.json_logs else None,
    )
    if options.peering is not None:
        try:
            options.peering.check(kube)
        except PeeringUnavailable as error:
            log.error("cannot take part in leader election: %s", error)
            return 1
    if options.metrics_port:
        serve_metrics(options.metrics_port, options.metrics_address)
    kopf.run(
        clusterwide=not options.watch_namespaces,
        namespaces=options.watch_namespaces,
        standalone=options.peering is None,
        # The rest of the peering settings are applied by the startup handler.
        peering_name=options.peering.name if options.peering else None,
        priority=options.peering.priority if options.peering else None,
        liveness_endpoint=options.liveness,
        memo=kopf.Memo(state=state),
    )
    return 0
