"""The alert intake routes: Elastic Security and Falco alerts posted over HTTP, answered per
item, counted in the matcher's metrics."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from ingest_helpers import elastic_alert, falco_alert

from quarantine.ingest.alert_intake import MAX_ALERTS_PER_REQUEST, alert_intake_routes
from quarantine.ingest.alert_recorder import PlaybookRuleMissing, Recorded
from quarantine.ingest.auth import StaticToken
from quarantine.ingest.external_alerts import ExternalAlert, ExternalAlertError
from quarantine.ingest.metrics import MatcherMetrics
from quarantine.ingest.server import build_app
from quarantine.k8s.alert_writer import AlertWriteError

TOKEN = "s3cret-token-for-tests"


class RecordingRecorder:
    """Keeps what the routes hand over instead of writing Alerts (the routes' contract)."""

    def __init__(self, rules: dict[str, str | None], *, write_status: int | None = None) -> None:
        self.rules = rules
        self.write_status = write_status
        """When set, every write fails as the API server would answer with this status."""
        self.recorded: list[tuple[ExternalAlert, str]] = []

    def playbook_rule_id(self, rule_name: str) -> str | None:
        if rule_name not in self.rules:
            raise PlaybookRuleMissing(rule_name)
        return self.rules[rule_name]

    def record(self, alert: ExternalAlert, playbook_rule: str) -> Recorded:
        if alert.namespace is None:
            raise ExternalAlertError(f"container {alert.container_id} is in no known pod")
        if self.write_status is not None:
            raise AlertWriteError(
                f"cannot create Alert: {self.write_status}", status=self.write_status
            )
        seen_before = any(a.alert_name == alert.alert_name for a, _ in self.recorded)
        self.recorded.append((alert, playbook_rule))
        return Recorded(alert.namespace, alert.alert_name, "updated" if seen_before else "created")


def run_with_client(
    recorder: RecordingRecorder,
    scenario: Callable[[TestClient[Any, Any]], Awaitable[None]],
    *,
    default_rule: str | None = "isolate-pod",
    max_body_bytes: int = 64 * 1024,
    metrics: MatcherMetrics | None = None,
) -> None:
    routes = alert_intake_routes(
        recorder,
        default_rule=default_rule,
        max_body_bytes=max_body_bytes,
        metrics=metrics or MatcherMetrics(),
    )
    app = build_app(routes, StaticToken(TOKEN))

    async def main() -> None:
        server = TestServer(app, host="127.0.0.1")
        # As the real server: the routes decompress under their own limit, not aiohttp.
        await server.start_server(auto_decompress=False)
        async with TestClient(server) as test_client:
            await scenario(test_client)

    asyncio.run(main())


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_elastic_batch_creates_alerts_with_the_named_playbook_rule() -> None:
    recorder = RecordingRecorder({"isolate-pod": "r-1", "scale-down": "r-2"})
    second = elastic_alert(**{"kibana.alert.uuid": "second"})

    async def scenario(http: TestClient[Any, Any]) -> None:
        response = await http.post(
            "/v1/alerts/elastic?rule=scale-down", json=[elastic_alert(), second], headers=AUTH
        )
        assert response.status == 200
        body = await response.json()
        assert body["accepted"] == 2 and body["errors"] == []
        assert all(name.startswith("shop/elastic-") for name in body["alerts"])

    run_with_client(recorder, scenario)
    assert [rule for _, rule in recorder.recorded] == ["scale-down", "scale-down"]


def test_a_resent_alert_goes_to_the_same_alert() -> None:
    recorder = RecordingRecorder({"isolate-pod": None})

    async def scenario(http: TestClient[Any, Any]) -> None:
        names = []
        for _ in range(2):
            response = await http.post("/v1/alerts/falco", json=falco_alert(), headers=AUTH)
            assert response.status == 200
            names.append((await response.json())["alerts"])
        assert names[0] == names[1]

    run_with_client(recorder, scenario)
    assert len(recorder.recorded) == 2
    assert recorder.recorded[0][0].alert_name == recorder.recorded[1][0].alert_name


def test_without_a_token_nothing_is_recorded() -> None:
    recorder = RecordingRecorder({"isolate-pod": None})

    async def scenario(http: TestClient[Any, Any]) -> None:
        response = await http.post("/v1/alerts/falco", json=falco_alert())
        assert response.status == 401
        wrong = {"Authorization": "Bearer not-the-token"}
        response = await http.post("/v1/alerts/elastic", json=elastic_alert(), headers=wrong)
        assert response.status == 401

    run_with_client(recorder, scenario)
    assert recorder.recorded == []


def test_no_rule_and_no_default_is_a_clear_400() -> None:
    async def scenario(http: TestClient[Any, Any]) -> None:
        response = await http.post("/v1/alerts/falco", json=falco_alert(), headers=AUTH)
        assert response.status == 400
        assert "?rule=NAME" in (await response.json())["error"]

    run_with_client(RecordingRecorder({}), scenario, default_rule=None)


def test_an_unknown_playbook_rule_is_a_422_naming_it() -> None:
    recorder = RecordingRecorder({"isolate-pod": None})

    async def scenario(http: TestClient[Any, Any]) -> None:
        response = await http.post("/v1/alerts/falco?rule=nope", json=falco_alert(), headers=AUTH)
        assert response.status == 422
        assert "DetectionRule 'nope' does not exist" in (await response.json())["error"]

    run_with_client(recorder, scenario)
    assert recorder.recorded == []


def test_bad_items_are_reported_by_position_and_good_ones_still_recorded() -> None:
    recorder = RecordingRecorder({"isolate-pod": None})
    bad = elastic_alert(**{"kibana.alert.severity": "urgent"})
    falco_lines = "\n".join(
        json.dumps(a) for a in (falco_alert(), falco_alert(priority="Severe"), falco_alert())
    )

    async def scenario(http: TestClient[Any, Any]) -> None:
        response = await http.post("/v1/alerts/elastic", json=[bad, elastic_alert()], headers=AUTH)
        assert response.status == 207
        body = await response.json()
        assert body["accepted"] == 1
        assert body["errors"] == [
            {
                "index": 0,
                "error": "kibana.alert.severity 'urgent' is not one of low, medium, high, critical",
            }
        ]
        response = await http.post("/v1/alerts/falco", data=falco_lines, headers=AUTH)
        assert response.status == 207
        body = await response.json()
        assert body["accepted"] == 2
        assert [error["line"] for error in body["errors"]] == [2]

    run_with_client(recorder, scenario)


def test_an_alert_whose_container_is_in_no_known_pod_is_an_item_error() -> None:
    recorder = RecordingRecorder({"isolate-pod": None})
    fields = {"container.id": "9656db3bb358", "proc.name": "sh"}

    async def scenario(http: TestClient[Any, Any]) -> None:
        response = await http.post(
            "/v1/alerts/falco", json=falco_alert(output_fields=fields), headers=AUTH
        )
        assert response.status == 400
        assert "9656db3bb358" in (await response.json())["errors"][0]["error"]

    run_with_client(recorder, scenario)


def test_the_byte_limit_applies_as_sent_and_after_gzip() -> None:
    recorder = RecordingRecorder({"isolate-pod": None})
    big = json.dumps([elastic_alert(padding="x" * 70_000)]).encode()

    async def scenario(http: TestClient[Any, Any]) -> None:
        response = await http.post("/v1/alerts/elastic", data=big, headers=AUTH)
        assert response.status == 413
        gzipped = {**AUTH, "Content-Encoding": "gzip"}
        response = await http.post("/v1/alerts/elastic", data=gzip.compress(big), headers=gzipped)
        assert response.status == 413
        assert "after gzip decompression" in (await response.json())["error"]

    run_with_client(recorder, scenario, max_body_bytes=65_536)
    assert recorder.recorded == []


def test_too_many_alerts_in_one_request_are_refused_before_any_is_recorded() -> None:
    recorder = RecordingRecorder({"isolate-pod": None})
    many = json.dumps([elastic_alert()] * (MAX_ALERTS_PER_REQUEST + 1)).encode()

    async def scenario(http: TestClient[Any, Any]) -> None:
        response = await http.post("/v1/alerts/elastic", data=many, headers=AUTH)
        assert response.status == 413
        assert f"at most {MAX_ALERTS_PER_REQUEST}" in (await response.json())["error"]

    run_with_client(recorder, scenario, max_body_bytes=len(many) + 1)
    assert recorder.recorded == []


def test_a_body_that_is_not_json_is_a_400() -> None:
    async def scenario(http: TestClient[Any, Any]) -> None:
        response = await http.post("/v1/alerts/elastic", data=b"{nope", headers=AUTH)
        assert response.status == 400
        assert "not JSON" in (await response.json())["error"]
        response = await http.post("/v1/alerts/falco", data=b"{nope", headers=AUTH)
        assert response.status == 400
        assert "line 1" in (await response.json())["error"]

    run_with_client(RecordingRecorder({"isolate-pod": None}), scenario)


def test_a_malformed_rule_name_is_refused_before_any_lookup() -> None:
    recorder = RecordingRecorder({"isolate-pod": None})

    async def scenario(http: TestClient[Any, Any]) -> None:
        for rule in ("../../api/v1/secrets", "Isolate_Pod"):
            response = await http.post(
                "/v1/alerts/falco", params={"rule": rule}, json=falco_alert(), headers=AUTH
            )
            assert response.status == 400
            assert "cannot name a DetectionRule" in (await response.json())["error"]

    run_with_client(recorder, scenario)
    assert recorder.recorded == []


def test_an_unavailable_api_server_is_a_503_to_resend_later() -> None:
    recorder = RecordingRecorder({"isolate-pod": None}, write_status=503)

    async def scenario(http: TestClient[Any, Any]) -> None:
        response = await http.post("/v1/alerts/elastic", json=[elastic_alert()], headers=AUTH)
        assert response.status == 503
        assert response.headers["Retry-After"] == "5"
        assert (await response.json())["errors"][0]["index"] == 0

    run_with_client(recorder, scenario)


def test_an_alert_the_api_server_refuses_for_good_is_an_item_error_not_a_503() -> None:
    recorder = RecordingRecorder({"isolate-pod": None}, write_status=422)

    async def scenario(http: TestClient[Any, Any]) -> None:
        response = await http.post("/v1/alerts/elastic", json=[elastic_alert()], headers=AUTH)
        assert response.status == 400
        assert "Retry-After" not in response.headers
        assert "cannot write the Alert" in (await response.json())["errors"][0]["error"]

    run_with_client(recorder, scenario)


def sample(metrics: MatcherMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(f"quarantine_matcher_{name}", labels)
    return value or 0.0


def test_received_rejected_and_written_alerts_are_counted_by_source() -> None:
    metrics = MatcherMetrics()
    recorder = RecordingRecorder({"isolate-pod": None})
    bad = elastic_alert(**{"kibana.alert.severity": "urgent"})

    async def scenario(http: TestClient[Any, Any]) -> None:
        await http.post("/v1/alerts/elastic", json=[bad, elastic_alert()], headers=AUTH)
        await http.post("/v1/alerts/falco", json=falco_alert(), headers=AUTH)
        await http.post("/v1/alerts/falco", json=falco_alert(), headers=AUTH)
        await http.post("/v1/alerts/falco?rule=gone", json=falco_alert(), headers=AUTH)
        await http.post("/v1/alerts/elastic", data=b"{nope", headers=AUTH)
        await http.post("/v1/alerts/elastic", json=[elastic_alert()])  # no token

    run_with_client(recorder, scenario, metrics=metrics)
    assert sample(metrics, "external_alerts_received_total", source="elastic") == 2
    assert sample(metrics, "external_alerts_received_total", source="falco") == 3
    rejected = "external_alerts_rejected_total"
    assert sample(metrics, rejected, source="elastic", reason="invalid_alert") == 1
    assert sample(metrics, rejected, source="falco", reason="invalid_alert") == 0
    requests = "external_alert_requests_rejected_total"
    assert sample(metrics, requests, source="falco", status="422") == 1
    assert sample(metrics, requests, source="elastic", status="400") == 1
    assert sample(metrics, requests, source="elastic", status="401") == 0
    assert sample(metrics, "alerts_created_total", rule="isolate-pod") == 2
    assert sample(metrics, "alerts_updated_total", rule="isolate-pod") == 1


def test_write_failures_are_counted_for_the_playbook_rule() -> None:
    metrics = MatcherMetrics()
    recorder = RecordingRecorder({"isolate-pod": None}, write_status=500)

    async def scenario(http: TestClient[Any, Any]) -> None:
        await http.post("/v1/alerts/falco", json=falco_alert(), headers=AUTH)

    run_with_client(recorder, scenario, metrics=metrics)
    rejected = "external_alerts_rejected_total"
    assert sample(metrics, rejected, source="falco", reason="write_failed") == 1
    assert sample(metrics, "alert_write_failures_total", rule="isolate-pod") == 1
