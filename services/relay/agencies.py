"""The institutions' durable consumers on LAPOR_EVENTS: one `agency-<CODE>` for every
institution in the directory, filtered to `lapor.v1.events.*.*.<CODE>`.

The relay owns the stream, so it keeps these in step with the directory: at start, and after it
publishes a directory event. A consumer is created with `deliver_policy=all` and explicit acks,
so an institution that connects for the first time, or comes back after a week, gets every
event of its reports it has not acknowledged; one whose institution left the directory is
removed. Nothing else about the consumers is touched (the services own theirs).
"""

from __future__ import annotations

from collections.abc import Iterable

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from shared.logs import get_logger
from shared.runtime.messaging import STREAM_NAME
from shared.runtime.nats_auth import AGENCY_CONSUMER_PREFIX, agency_consumer, agency_filter

log = get_logger(__name__)

MAX_ACK_PENDING = 1000


def consumer_config(code: str, ack_wait: float = 60.0) -> ConsumerConfig:
    """`ack_wait`: what the institution has not acknowledged within it is delivered again."""
    return ConsumerConfig(
        durable_name=agency_consumer(code),
        description=f"Every event of the reports of institution {code} (pull, explicit ack)",
        filter_subject=agency_filter(code),
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        max_deliver=-1,
        max_ack_pending=MAX_ACK_PENDING,
    )


async def existing_agency_consumers(
    js: JetStreamContext,
) -> dict[str, tuple[str | None, float | None]]:
    """agency consumer name → (filter subject, ack wait), as the server has them."""
    found: dict[str, tuple[str | None, float | None]] = {}
    offset = 0
    while True:
        page = await js.consumers_info(STREAM_NAME, offset=offset)
        if not page:
            return found
        for info in page:
            name = info.name or ""
            if name.startswith(AGENCY_CONSUMER_PREFIX):
                config = info.config
                found[name] = (config.filter_subject, config.ack_wait) if config else (None, None)
        offset += len(page)


async def reconcile(
    js: JetStreamContext, codes: Iterable[str], ack_wait: float = 60.0
) -> tuple[int, int]:
    """Create the consumers the directory lacks, remove those of institutions it no longer has.
    Returns (created, removed)."""
    wanted = {agency_consumer(code): code for code in codes}
    present = await existing_agency_consumers(js)
    created = removed = 0
    for name, code in wanted.items():
        config = consumer_config(code, ack_wait)
        if present.get(name) == (config.filter_subject, config.ack_wait):
            continue
        if name in present and present[name][0] != config.filter_subject:
            # Another filter is another consumer: made anew (what it delivered stays acked).
            await js.delete_consumer(STREAM_NAME, name)
        await js.add_consumer(STREAM_NAME, config)  # creates, or updates ack_wait
        created += 1
    for name in present.keys() - wanted.keys():
        try:
            await js.delete_consumer(STREAM_NAME, name)
            removed += 1
        except NotFoundError:
            pass
    if created or removed:
        log.info("agency_consumers_reconciled", created=created, removed=removed, total=len(wanted))
    return created, removed
