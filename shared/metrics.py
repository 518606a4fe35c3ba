"""Prometheus metrics every service shares. Labels stay bounded: never an ID or a phone number."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge, Histogram

from shared.logs import get_logger

if TYPE_CHECKING:
    from shared.store.port import EventStore, NewEvent, RecordedEvent

_log = get_logger(__name__)

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

# --- The report lifecycle, observed once per event by the relay (the one process that sees every
# event exactly once, in the store's global order): see `observe_lifecycle` below. Labels are
# bounded: channels, classifications and statuses are enums, the province is the two-digit
# Kemendagri prefix of the region code, agencies come from the institution directory.
REPORTS_SUBMITTED = Counter(
    "lapor_reports_submitted_total",
    "Reports submitted, by channel, classification and province (two-digit region prefix or _)",
    ["channel", "classification", "province"],
)
REPORT_STATUS_CHANGES = Counter(
    "lapor_report_status_changes_total",
    "Reports entering a status (one per lifecycle event that sets it)",
    ["status"],
)
REPORTS_FORWARDED = Counter(
    "lapor_reports_forwarded_total",
    "Reports forwarded or transferred to an institution, by the institution",
    ["agency"],
)
FOLLOW_UPS_POSTED = Counter(
    "lapor_follow_ups_posted_total",
    "Follow-ups posted by institutions, by the institution",
    ["agency"],
)
_HOUR = 3600.0
_DAY = 86400.0
TIME_TO_FORWARD = Histogram(
    "lapor_time_to_forward_seconds",
    "From verification to the first forwarding to an institution",
    buckets=(1, 5, 30, 60, 300, 900, _HOUR, 4 * _HOUR, 8 * _HOUR, _DAY, 3 * _DAY, 7 * _DAY),
)
TIME_TO_FIRST_FOLLOW_UP = Histogram(
    "lapor_time_to_first_follow_up_seconds",
    "From forwarding (or transfer) to the institution's first follow-up",
    buckets=(
        _HOUR,
        4 * _HOUR,
        8 * _HOUR,
        _DAY,
        2 * _DAY,
        3 * _DAY,
        5 * _DAY,
        7 * _DAY,
        10 * _DAY,
        14 * _DAY,
        30 * _DAY,
        60 * _DAY,
        90 * _DAY,
    ),
)

# --- JetStream consumers, polled from the server (shared/consumer_metrics.py). A service's
# replicas share one durable, so each replica reports the same numbers: aggregate with max().
CONSUMER_PENDING = Gauge(
    "lapor_consumer_pending_messages",
    "Messages in LAPOR_EVENTS not yet delivered to the durable consumer (num_pending)",
    ["durable"],
)
CONSUMER_ACK_PENDING = Gauge(
    "lapor_consumer_ack_pending_messages",
    "Messages delivered to the durable consumer and not yet acknowledged (num_ack_pending)",
    ["durable"],
)
CONSUMER_REDELIVERED = Gauge(
    "lapor_consumer_redelivered_messages",
    "Messages redelivered to the durable consumer and not yet acknowledged (num_redelivered)",
    ["durable"],
)
CONSUMER_ACK_FLOOR = Gauge(
    "lapor_consumer_ack_floor_sequence",
    "Stream sequence up to which the durable consumer acknowledged everything",
    ["durable"],
)
CONSUMER_INFO_ERRORS = Counter(
    "lapor_consumer_info_errors_total",
    "Failed polls of the durable consumer's info",
    ["durable"],
)


class TimedAppends:
    """The event store with every append timed into `lapor_store_append_duration_seconds`
    (appends that fail are timed too). Wrap the store at a service's composition root:
    `store = TimedAppends(open_store(url), name)`. Everything else passes straight through."""

    def __init__(self, store: EventStore, service: str) -> None:
        self._store = store
        self._latency = STORE_APPEND_LATENCY.labels(service)

    async def append(
        self, stream: str, events: Sequence[NewEvent], expected_version: int | None
    ) -> list[RecordedEvent]:
        started = time.perf_counter()
        try:
            return await self._store.append(stream, events, expected_version)
        finally:
            self._latency.observe(time.perf_counter() - started)

    async def read(self, stream: str) -> list[RecordedEvent]:
        return await self._store.read(stream)

    async def read_all(self, from_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        return await self._store.read_all(from_position, limit)

    async def last_position(self) -> int:
        return await self._store.last_position()

    async def stream_names(self, prefix: str = "") -> list[str]:
        return await self._store.stream_names(prefix)

    async def close(self) -> None:
        await self._store.close()

    def __getattr__(self, name: str) -> Any:  # adapter-specific extras
        return getattr(self._store, name)
