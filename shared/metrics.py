"""Prometheus metrics every service shares. Labels stay bounded: never an ID or a phone number."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "lapor_http_requests_total",
    "HTTP requests by route template and status class",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "lapor_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_HANDLED = Counter(
    "lapor_consumer_events_total",
    "Events handled by a service's consumer",
    ["service", "event_type"],
)
DEAD_LETTERS = Counter(
    "lapor_consumer_dead_letters_total",
    "Events a service gave up on after its retries (recorded as dead letters)",
    ["service", "event_type"],
)
CONSUMER_REDELIVERIES = Counter(
    "lapor_consumer_redeliveries_total",
    "Messages a service received more than once from JetStream",
    ["service"],
)
PROJECTION_POSITION = Gauge(
    "lapor_projection_position",
    "Last store position applied to a service's read models",
    ["service"],
)
STORE_APPEND_LATENCY = Histogram(
    "lapor_store_append_duration_seconds",
    "Time to append (and fsync) events to the event store",
    ["service"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
