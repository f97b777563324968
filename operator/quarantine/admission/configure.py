"""Serving the admission webhooks from the operator: where to listen, with which certificate,
and who registers the ValidatingWebhookConfiguration.

- `local`: the operator runs outside the cluster (development, tests). It listens on 127.0.0.1,
  makes its own CA and certificate, and registers the webhook configuration itself with a `url`
  client config, removing it again on a clean exit.
- `cluster`: the operator runs in a pod behind the chart's Service. The chart owns the webhook
  configuration (service client config) and the certificate Secret, mounted at `tls_dir`;
  kopf re-reads the files when they change (cert-manager renewals).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import kopf
from kubernetes import client

from quarantine.admission.certificates import WebhookCertificate, write_webhook_certificate

# Importing the handlers registers them with kopf: configuring admission implies serving them.
from quarantine.admission.handlers import use_tamper_policy
from quarantine.admission.identity import own_username
from quarantine.admission.registration import register_configuration, unregister_configuration
from quarantine.admission.tamper import TamperPolicy
from quarantine.admission.webhooks import DEFAULT_CONFIGURATION_NAME, webhook_configuration

log = logging.getLogger(__name__)

AdmissionMode = Literal["local", "cluster"]
ADMISSION_MODES: tuple[str, ...] = ("local", "cluster", "off")
LOCAL_HOST = "127.0.0.1"
# In a pod the Service forwards to the pod IP, so listen on every interface there.
CLUSTER_LISTEN_HOST = "0.0.0.0"
CLUSTER_PORT = 9443
CLUSTER_TLS_DIR = Path("/var/run/quarantine/webhook-tls")


class SelfRegisteringWebhookServer(kopf.WebhookServer):
    """kopf's HTTPS webhook server that registers Quarantine's webhook configuration whenever it
    (re)starts listening, and deletes it when it stops.

    kopf's own "managed" configuration cannot be used: it derives objectSelectors from `labels=`
    handler filters, which kopf also applies to the new object, defeating the pod protection.
    """

    def __init__(
        self,
        *,
        api: client.ApiClient,
        configuration_name: str,
        host: str,
        port: int | None,
        certificate: WebhookCertificate,
    ) -> None:
        super().__init__(
            addr=host,
            host=host,
            port=port,
            certfile=certificate.cert_path,
            pkeyfile=certificate.key_path,
            cafile=certificate.ca_path,
        )
        self._api = api
        self._configuration_name = configuration_name

    async def __call__(self, fn: kopf.WebhookFn) -> AsyncIterator[kopf.WebhookClientConfig]:
        registered = False
        try:
            async for client_config in super().__call__(fn):
                configuration = webhook_configuration(self._configuration_name, client_config)
                await asyncio.to_thread(register_configuration, self._api, configuration)
                registered = True
                log.info(
                    "registered ValidatingWebhookConfiguration %s at %s",
                    self._configuration_name,
                    client_config.get("url"),
                )
                yield client_config
        finally:
            if registered:
                # A stale configuration with failurePolicy Fail would block DetectionRule writes.
                await asyncio.to_thread(
                    unregister_configuration, self._api, self._configuration_name
                )


async def serve_nothing(fn: kopf.WebhookFn) -> AsyncIterator[kopf.WebhookClientConfig]:
    """An admission "server" that never listens: admission is switched off."""
    await asyncio.Event().wait()
    yield kopf.WebhookClientConfig()  # pragma: no cover  (never reached)


def configure_admission(
    settings: kopf.OperatorSettings,
    *,
    mode: AdmissionMode,
    api_client: client.ApiClient,
    trusted_users: Iterable[str] = (),
    trusted_groups: Iterable[str] = (),
    host: str | None = None,
    port: int | None = None,
    tls_dir: Path | None = None,
    configuration_name: str = DEFAULT_CONFIGURATION_NAME,
    username: str | None = None,
) -> None:
    """Set kopf's admission server for `mode` and the tamper policy the handlers enforce.

    Call it from an `@kopf.on.startup` handler. Quarantine's own username (asked from the API
    server unless given) is always trusted, plus `trusted_users` / `trusted_groups` and the
    cluster's own controllers (garbage collector, namespace controller).
    """
    server = _admission_server(mode, api_client, host, port, tls_dir, configuration_name)
    username = username or own_username(api_client)
    use_tamper_policy(
        TamperPolicy.for_identity(username, also_trusted=trusted_users, groups=trusted_groups)
    )
    settings.admission.server = server
    # Nobody but us (local) or the chart (cluster) writes the configuration.
    settings.admission.managed = None
    log.info("admission webhooks: mode=%s, Quarantine's identity is %s", mode, username)


def _admission_server(
    mode: AdmissionMode,
    api_client: client.ApiClient,
    host: str | None,
    port: int | None,
    tls_dir: Path | None,
    configuration_name: str,
) -> kopf.WebhookServer:
    if mode == "local":
        listen = host or LOCAL_HOST
        if _is_unspecified(listen):
            raise ValueError(
                f"--webhook-host {listen} is no address the API server can dial: in local mode "
                "give the address itself (e.g. 127.0.0.1), it goes into the certificate and URL"
            )
        directory = tls_dir or Path(tempfile.mkdtemp(prefix="quarantine-webhook-"))
        certificate = write_webhook_certificate(directory, [listen])
        return SelfRegisteringWebhookServer(
            api=api_client,
            configuration_name=configuration_name,
            host=listen,
            port=port,
            certificate=certificate,
        )
    if mode == "cluster":
        certificate = WebhookCertificate.in_directory(tls_dir or CLUSTER_TLS_DIR)
        # ca.crt is optional here: the chart, not the server, hands the CA to the API server.
        missing = [path for path in certificate.missing_files() if path != certificate.ca_path]
        if missing:
            raise FileNotFoundError(
                "admission webhook certificate files are missing: "
                + ", ".join(str(path) for path in missing)
                + " (mount the chart's webhook TLS Secret there, or pass --webhook-tls-dir)"
            )
        return kopf.WebhookServer(
            addr=host or CLUSTER_LISTEN_HOST,
            port=port or CLUSTER_PORT,
            certfile=certificate.cert_path,
            pkeyfile=certificate.key_path,
        )
    raise ValueError(f"unknown admission mode {mode!r}: use local or cluster")


def _is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


@dataclass(frozen=True)
class AdmissionOptions:
    """The admission settings as given on the command line."""

    mode: AdmissionMode | None
    """None means admission is off (no webhook server, no handlers served)."""
    host: str | None = None
    port: int | None = None
    tls_dir: Path | None = None
    configuration_name: str = DEFAULT_CONFIGURATION_NAME
    trusted_users: tuple[str, ...] = ()
    trusted_groups: tuple[str, ...] = ()

    def apply(self, settings: kopf.OperatorSettings, api_client: client.ApiClient) -> None:
        if self.mode is None:
            # The handlers are registered on import; kopf refuses to start without a server.
            settings.admission.server = serve_nothing
            settings.admission.managed = None
            return
        configure_admission(
            settings,
            mode=self.mode,
            api_client=api_client,
            trusted_users=self.trusted_users,
            trusted_groups=self.trusted_groups,
            host=self.host,
            port=self.port,
            tls_dir=self.tls_dir,
            configuration_name=self.configuration_name,
        )


def add_admission_arguments(parser: argparse.ArgumentParser) -> None:
    """The admission options of `quarantine operator` / `quarantine run`."""
    group = parser.add_argument_group("admission webhooks")
    group.add_argument(
        "--admission",
        choices=ADMISSION_MODES,
        default=None,
        help="local: listen on 127.0.0.1 and register the webhook configuration with a "
        "generated certificate; cluster: serve the chart's certificate, the chart registers "
        "the webhooks; off: no webhooks. Default: cluster inside a pod, local elsewhere.",
    )
    group.add_argument(
        "--webhook-host",
        default=None,
        help=f"address to listen on (default {LOCAL_HOST} locally, {CLUSTER_LISTEN_HOST} in a "
        "cluster)",
    )
    group.add_argument(
        "--webhook-port",
        type=int,
        default=None,
        help=f"port to listen on (default: a free port locally, {CLUSTER_PORT} in a cluster)",
    )
    group.add_argument(
        "--webhook-tls-dir",
        type=Path,
        default=None,
        help="directory with ca.crt, tls.crt, tls.key: read in a cluster (default "
        f"{CLUSTER_TLS_DIR}), written to locally (default: a new temporary directory)",
    )
    group.add_argument(
        "--webhook-configuration-name",
        default=DEFAULT_CONFIGURATION_NAME,
        help="name of the ValidatingWebhookConfiguration registered in local mode "
        f"(default {DEFAULT_CONFIGURATION_NAME})",
    )
    group.add_argument(
        "--trusted-user",
        action="append",
        default=[],
        metavar="USERNAME",
        help="besides Quarantine itself, a user allowed to undo containment (repeatable)",
    )
    group.add_argument(
        "--trusted-group",
        action="append",
        default=[],
        metavar="GROUP",
        help="a group whose members may undo containment (repeatable)",
    )


def admission_options(args: argparse.Namespace) -> AdmissionOptions:
    """AdmissionOptions from parsed `add_admission_arguments` options."""
    chosen = args.admission or ("cluster" if os.environ.get("KUBERNETES_SERVICE_HOST") else "local")
    mode: AdmissionMode | None
    if chosen == "local":
        mode = "local"
    elif chosen == "cluster":
        mode = "cluster"
    else:
        mode = None
    return AdmissionOptions(
        mode=mode,
        host=args.webhook_host,
        port=args.webhook_port,
        tls_dir=args.webhook_tls_dir,
        configuration_name=args.webhook_configuration_name,
        trusted_users=tuple(args.trusted_user),
        trusted_groups=tuple(args.trusted_group),
    )
