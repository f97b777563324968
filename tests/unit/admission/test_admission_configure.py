"""Choosing the admission server: local (self-registered, own certificate), cluster, or off."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

import kopf
import pytest
from kubernetes import client

from quarantine.admission import handlers
from quarantine.admission.certificates import write_webhook_certificate
from quarantine.admission.configure import (
    SelfRegisteringWebhookServer,
    add_admission_arguments,
    admission_options,
    configure_admission,
    serve_nothing,
)

# Never contacted: the username is given, and servers are only built, not started.
UNUSED_API = client.ApiClient(client.Configuration())


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_admission_arguments(parser)
    return parser.parse_args(list(argv))


def test_local_mode_serves_on_loopback_with_a_certificate_it_made(tmp_path: Path) -> None:
    settings = kopf.OperatorSettings()
    configure_admission(
        settings,
        mode="local",
        api_client=UNUSED_API,
        tls_dir=tmp_path,
        username="quarantine-operator",
        trusted_users=["alice"],
    )
    server = settings.admission.server
    assert isinstance(server, SelfRegisteringWebhookServer)
    assert (server.addr, server.host) == ("127.0.0.1", "127.0.0.1")
    assert server.cafile == tmp_path / "ca.crt" and (tmp_path / "tls.key").is_file()
    # kopf must not manage a configuration of its own besides ours.
    assert settings.admission.managed is None
    policy = handlers.RUNTIME.tamper_policy
    assert policy is not None
    assert {"quarantine-operator", "alice"} <= policy.trusted_users


def test_local_mode_refuses_an_address_the_api_server_cannot_dial(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"0\.0\.0\.0 is no address the API server can dial"):
        configure_admission(
            kopf.OperatorSettings(),
            mode="local",
            api_client=UNUSED_API,
            host="0.0.0.0",
            tls_dir=tmp_path,
            username="q",
        )


def test_cluster_mode_serves_the_mounted_certificate_on_all_interfaces(tmp_path: Path) -> None:
    write_webhook_certificate(tmp_path, ["q-operator.quarantine.svc"])
    settings = kopf.OperatorSettings()
    configure_admission(
        settings, mode="cluster", api_client=UNUSED_API, tls_dir=tmp_path, username="q"
    )
    server = settings.admission.server
    assert isinstance(server, kopf.WebhookServer)
    assert not isinstance(server, SelfRegisteringWebhookServer)
    assert (server.addr, server.port) == ("0.0.0.0", 9443)
    assert server.certfile == tmp_path / "tls.crt"


def test_cluster_mode_names_missing_certificate_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"tls\.crt.*tls\.key"):
        configure_admission(
            kopf.OperatorSettings(),
            mode="cluster",
            api_client=UNUSED_API,
            tls_dir=tmp_path,
            username="q",
        )


def test_off_serves_nothing_and_never_yields_a_client_config() -> None:
    settings = kopf.OperatorSettings()
    admission_options(parse("--admission=off")).apply(settings, UNUSED_API)
    assert settings.admission.server is serve_nothing

    async def first_config() -> Any:
        async def webhook_fn(*_: Any, **__: Any) -> Any:
            return {}

        return await asyncio.wait_for(anext(serve_nothing(webhook_fn)), timeout=0.2)

    with pytest.raises(TimeoutError):
        asyncio.run(first_config())


def test_command_line_options(monkeypatch: pytest.MonkeyPatch) -> None:
    options = admission_options(
        parse(
            "--admission=local",
            "--webhook-port=9555",
            "--webhook-configuration-name=dev.quarantine.io",
            "--trusted-user=alice",
            "--trusted-user=bob",
            "--trusted-group=ir",
        )
    )
    assert options.mode == "local" and options.port == 9555
    assert options.configuration_name == "dev.quarantine.io"
    assert options.trusted_users == ("alice", "bob") and options.trusted_groups == ("ir",)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    assert admission_options(parse()).mode == "cluster"
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    assert admission_options(parse()).mode == "local"
