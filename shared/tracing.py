"""OpenTelemetry tracing: on when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (exported over OTLP/HTTP),
off otherwise (then nothing of OpenTelemetry's SDK is even imported).

One report is one trace across the services: an HTTP request's trace id becomes the correlation
id of the events it causes (`correlation_id_for_request`), the relay starts each publish span in
the trace of the event's correlation id and sends `traceparent` in the NATS headers, and every
service's FastStream consumer continues from it (FastAPI and FastStream instrumentation).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"


def enabled() -> bool:
    return bool(os.environ.get(ENDPOINT))


@lru_cache(maxsize=1)
def tracer_provider(service: str) -> Any | None:
    """The process's tracer provider (exporting over OTLP/HTTP), or None when tracing is off."""
    if not enabled():
        return None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"lapor-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def shutdown(service: str) -> None:
    """Export what is still buffered (at the end of a process)."""
    provider = tracer_provider(service)
    if provider is not None:
        provider.shutdown()


def instrument_app(app: Any, service: str) -> None:
    provider = tracer_provider(service)
    if provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls="healthz,readyz,metrics"
    )


def broker_middlewares(service: str) -> tuple[Any, ...]:
    provider = tracer_provider(service)
    if provider is None:
        return ()
    from faststream.nats.opentelemetry import NatsTelemetryMiddleware

    return (NatsTelemetryMiddleware(tracer_provider=provider),)


def correlation_id_for_request() -> str | None:
    """The current span's trace id as a UUID (a correlation id), when a request is traced."""
    if not enabled():
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return str(uuid.UUID(int=context.trace_id)) if context.is_valid else None


def _span_id(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") or 1


def publish_headers(correlation_id: str, causation_id: str, subject: str) -> dict[str, str]:
    """`traceparent` for one published event: a publish span in the trace of its correlation
    id (its request's trace). Empty when tracing is off."""
    provider = tracer_provider("relay")
    if provider is None:
        return {}
    from opentelemetry.propagate import inject
    from opentelemetry.trace import SpanKind

    tracer = provider.get_tracer("lapor.relay")
    carrier: dict[str, str] = {}
    with tracer.start_as_current_span(
        f"{subject} publish",
        context=_parent(correlation_id, causation_id),
        kind=SpanKind.PRODUCER,
        attributes={"messaging.system": "nats", "messaging.destination.name": subject},
    ):
        inject(carrier)
    return carrier


def _parent(correlation_id: str, causation_id: str) -> Any:
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    try:
        trace_id = uuid.UUID(correlation_id).int
    except ValueError:
        trace_id = int.from_bytes(hashlib.sha256(correlation_id.encode()).digest()[:16], "big")
    parent = SpanContext(
        trace_id=trace_id or 1,
        span_id=_span_id(causation_id),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(NonRecordingSpan(parent))


@contextlib.contextmanager
def handling_all(service: str, events: Sequence[Any]) -> Iterator[None]:
    """A span per event for a batch handled at once (a service's views): each in its report's
    trace, from the batch's start to its end."""
    provider = tracer_provider(service) if enabled() else None
    if provider is None:
        yield
        return
    from opentelemetry.trace import SpanKind

    tracer = provider.get_tracer(f"lapor.{service}")
    spans = [
        tracer.start_span(
            f"{event.event_type} handle",
            context=_parent(event.correlation_id, event.causation_id),
            kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "nats", "lapor.event_type": event.event_type},
        )
        for event in events
    ]
    try:
        yield
    finally:
        for span in spans:
            span.end()
