"""kopf handlers of the responder. Thin: each turns a kopf call into a `Responder` call (see
`quarantine.respond`); `quarantine.respond.runtime` starts kopf with these registered."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

import kopf

import quarantine.admission.handlers  # noqa: F401  (registers the admission handlers)
from quarantine.respond.naming import GROUP, RELEASE_FINALIZER
from quarantine.respond.responder import Responder, RetryLater
from quarantine.respond.runtime import RuntimeState

ALERTS = (GROUP, "v1alpha1", "alerts")
RETRY_DELAY_SECONDS = 5.0


def _plain(value: Any) -> Any:
    """kopf hands out read-only views; the responder works on plain JSON values."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _state(memo: kopf.Memo) -> RuntimeState:
    state: RuntimeState = memo["state"]
    return state


def _respond(memo: kopf.Memo, call: Callable[[Responder], str]) -> None:
    try:
        call(_state(memo).responder)
    except RetryLater as error:
        raise kopf.TemporaryError(str(error), delay=RETRY_DELAY_SECONDS) from error


@kopf.on.startup(id="configure-responder")
async def configure_responder(
    settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    state = _state(memo)
    # Our own annotation prefix and finalizer, so we never collide with another kopf operator.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = RELEASE_FINALIZER
    # Our own Events carry the story; kopf's per-handler INFO events would double the writes.
    settings.posting.level = logging.WARNING
    settings.execution.max_workers = state.workers
    settings.scanning.disabled = True
    settings.networking.request_timeout = 30
    state.configure_admission(settings)
    state.configure_peering(settings)
    await state.start_companions()
    recalled = await state.recall_containments()
    logger.info("responder ready; %d earlier containments count toward the limits", recalled)


@kopf.on.login(id="login")
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    # The official client reads $KUBECONFIG once at import, before --kubeconfig is applied;
    # kopf's own kubeconfig reader looks at it when called.
    if os.environ.get("KUBECONFIG"):
        return kopf.login_with_kubeconfig(**kwargs)
    return kopf.login_via_client(**kwargs)


@kopf.on.cleanup(id="stop-responder")
async def stop_responder(memo: kopf.Memo, **_: Any) -> None:
    await _state(memo).stop_companions()


@kopf.on.create(*ALERTS, id="run-playbook")
@kopf.on.resume(*ALERTS, id="resume-playbook")
def run_playbook(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    _respond(memo, lambda responder: responder.run_playbook(_plain(body)))


@kopf.on.update(*ALERTS, id="release-on-request", field="spec.release", new=True)
def release_on_request(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    _respond(memo, lambda responder: responder.release(_plain(body)))


@kopf.on.delete(*ALERTS, id="release-on-delete")
def release_on_delete(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    _respond(memo, lambda responder: responder.release(_plain(body), deleting=True))
