"""Consumer lag as Prometheus sees it: poll a durable consumer's info from JetStream.

A service's lifespan runs `poll_consumer_metrics(js, name)` as a background task. Every
`interval` seconds it asks the server for the durable's `consumer_info` and sets
`lapor_consumer_pending_messages`, `lapor_consumer_ack_pending_messages`,
`lapor_consumer_redelivered_messages` and `lapor_consumer_ack_floor_sequence` for it. A service's
replicas share one durable, so they all report the same numbers (dashboards take `max`).

It also creates the service's dead-letter and redelivery counters at zero, so that a dashboard or
an alert sees a 0 rather than no series at all before the first dead letter.
"""

from __future__ import annotations

import asyncio

from nats.js.api import ConsumerInfo
from nats.js.client import JetStreamContext

from shared.logs import get_logger
from shared.metrics import (
    CONSUMER_ACK_FLOOR,
    CONSUMER_ACK_PENDING,
    CONSUMER_INFO_ERRORS,
    CONSUMER_PENDING,
    CONSUMER_REDELIVERED,
    CONSUMER_REDELIVERIES,
    DEAD_LETTERS,
)
from shared.runtime.messaging import STREAM_NAME

log = get_logger(__name__)

POLL_SECONDS = 10.0


def record_consumer_info(durable: str, info: ConsumerInfo) -> None:
    CONSUMER_PENDING.labels(durable).set(info.num_pending or 0)
    CONSUMER_ACK_PENDING.labels(durable).set(info.num_ack_pending or 0)
    CONSUMER_REDELIVERED.labels(durable).set(info.num_redelivered or 0)
    floor = info.ack_floor.stream_seq if info.ack_floor is not None else 0
    CONSUMER_ACK_FLOOR.labels(durable).set(floor or 0)


def zero_counters(service: str) -> None:
    """Create the service's consumer counters at 0 (label values the runtime itself uses)."""
    DEAD_LETTERS.labels(service, "max_deliveries")
    CONSUMER_REDELIVERIES.labels(service)
    CONSUMER_INFO_ERRORS.labels(service)


async def poll_consumer_metrics(
    js: JetStreamContext,
    durable: str,
    interval: float = POLL_SECONDS,
    stream: str = STREAM_NAME,
) -> None:
    """Forever: read the durable's info every `interval` seconds (the first at once). Errors are
    counted and logged, never raised; cancel the task to stop it."""
    zero_counters(durable)
    failures = 0
    while True:
        try:
            info = await js.consumer_info(stream, durable, timeout=5)
            record_consumer_info(durable, info)
            failures = 0
        except asyncio.CancelledError:
            raise
        except Exception as error:  # NATS away, consumer not created yet: try again later
            CONSUMER_INFO_ERRORS.labels(durable).inc()
            failures += 1
            if failures in (1, 10) or failures % 100 == 0:
                log.warning("consumer_info_failed", durable=durable, error=type(error).__name__)
        await asyncio.sleep(interval)
