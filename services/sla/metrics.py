"""The sla service's Prometheus metrics. Labels stay bounded: stages, states and agency codes."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

BREACHES = Counter(
    "lapor_sla_breaches_total",
    "SlaBreached events (counted as the sla view applies them), by stage and institution",
    ["stage", "agency"],
)
DEADLINES = Gauge(
    "lapor_sla_deadlines",
    "Running deadlines by state (pending, due_soon, overdue, paused) as of the last tick",
    ["state"],
)
AUTO_CLOSES = Counter(
    "lapor_sla_auto_closes_total",
    "Reports closed for no response after a follow-up (counted as the view applies them)",
)
DUE_SOON = Counter(
    "lapor_sla_due_soon_total",
    "Deadlines that became due soon (counted once per deadline when the ticker first sees it)",
    ["stage"],
)
ESCALATIONS = Counter(
    "lapor_sla_escalations_total",
    "Reports escalated to the Ombudsman by their reporters",
)
TICKS = Counter("lapor_sla_ticks_total", "Completed runs of the deadline ticker")
TICK_ERRORS = Counter(
    "lapor_sla_tick_errors_total",
    "Timer actions that failed and will be retried on a later tick",
    ["kind"],
)
