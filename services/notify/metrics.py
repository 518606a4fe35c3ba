"""Notify's Prometheus metrics. Labels stay bounded: channel and outcome, never an ID."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

NOTIFICATIONS = Counter(
    "lapor_notifications_total",
    "Notices by channel and outcome (sent, failed, unreachable, retry = one failed attempt)",
    ["channel", "outcome"],
)
OUTBOX_OPEN = Gauge(
    "lapor_notifications_open",
    "Notices planned but not yet sent, failed or skipped, by channel",
    ["channel"],
)
