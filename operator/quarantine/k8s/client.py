"""Kubernetes client wiring: one place that decides where credentials come from."""

from __future__ import annotations

import os

from kubernetes import client, config


def load_api_client(kubeconfig: str | None = None) -> client.ApiClient:
    """An API client from an explicit kubeconfig, $KUBECONFIG, or the in-cluster ServiceAccount.

    A fresh `ApiClient` is returned (not the library's global default), so two clients for two
    identities can live in one process, as the tests need.
    """
    configuration = client.Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if path:
        config.load_kube_config(config_file=path, client_configuration=configuration)  # type: ignore[no-untyped-call]
    elif os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    return client.ApiClient(configuration)
