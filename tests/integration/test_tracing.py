"""OpenTelemetry across processes: with OTEL_EXPORTER_OTLP_ENDPOINT set, a report's HTTP request,
the relay's publish (its `traceparent` in the NATS headers) and a service consuming the event
are spans of one trace, exported over OTLP/HTTP (to a collector of the test's own)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support import NatsServer, System, start_system, wait_for


class Collector:
    """An OTLP/HTTP trace receiver: keeps (service, span name, kind, trace id) of every span."""

    def __init__(self) -> None:
        spans: list[tuple[str, str, int, str]] = []
        self.spans = spans

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource in request.resource_spans:
                    service = next(
                        a.value.string_value
                        for a in resource.resource.attributes
                        if a.key == "service.name"
                    )
                    for scope in resource.scope_spans:
                        for span in scope.spans:
                            spans.append((service, span.name, span.kind, span.trace_id.hex()))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def traced(fresh_nats: NatsServer, tmp_path: Path) -> Iterator[tuple[System, Collector]]:
    collector = Collector()
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    running = start_system(tmp_path / "data", fresh_nats.url, ("intake",), extra_env=env)
    try:
        yield running, collector
    finally:
        running.stop_all()
        collector.server.shutdown()


def test_one_report_is_one_trace_across_the_services(traced: tuple[System, Collector]) -> None:
    system, collector = traced

    async def submit_and_catch_the_event() -> tuple[str, Any]:
        nc = await nats.connect(system.nats_url)
        published = await nc.subscribe("lapor.v1.events.ReportSubmitted.>")
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                answer = await client.post(
                    f"{system.url('intake')}/api/v1/reports",
                    json={
                        "title": "Jalan rusak",
                        "body": "Jalan rusak parah di depan pasar, lama.",
                    },
                )
            assert answer.status_code == 201, answer.text
            return answer.headers["X-Correlation-ID"], await published.next_msg(timeout=20)
        finally:
            await nc.close()

    # (A plain test: the collector's thread must not wait on a test's event loop.)
    correlation_id, message = asyncio.run(submit_and_catch_the_event())
    trace_id = correlation_id.replace("-", "")  # the request's trace is the report's
    assert message.headers
    assert message.headers["correlation_id"] == correlation_id
    assert message.headers["traceparent"].split("-")[1] == trace_id

    def whole_trace() -> bool:
        mine = {(service, kind) for service, _, kind, t in collector.spans if t == trace_id}
        return {("lapor-intake", 2), ("lapor-relay", 4), ("lapor-intake", 5)} <= mine

    # SERVER (2): the HTTP request; PRODUCER (4): the relay's publish; CONSUMER (5): intake
    # handling the event it consumed (FastStream's own spans are the delivered batch's).
    wait_for(whole_trace, 30, what=f"the spans of trace {trace_id}")
