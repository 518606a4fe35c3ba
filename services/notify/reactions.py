"""Notify's reaction to report events: plan the notices into the outbox (the dispatcher's next
run sends them).

Idempotent by construction: notice ids are deterministic and the outbox ignores an id it already
holds, so a redelivered event (after a crash before the checkpoint moved) plans nothing new. No
message is sent here, so a slow or broken channel never holds up the event stream.
"""

from __future__ import annotations

import asyncio

from services.notify.notices import NOTIFYING, Links, OfficerLookup, plan, report_facts
from services.notify.outbox import Outbox
from shared.clock import Clock
from shared.logs import get_logger
from shared.store.port import EventStore, RecordedEvent

log = get_logger(__name__)


class Reactions:
    def __init__(
        self,
        *,
        store: EventStore,
        outbox: Outbox,
        clock: Clock,
        officers: OfficerLookup,
        links: Links,
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.clock = clock
        self.officers = officers
        self.links = links

    async def __call__(self, event: RecordedEvent) -> None:
        if not event.stream.startswith("report-") or event.event_type not in NOTIFYING:
            return
        history = await self.store.read(event.stream)
        facts = report_facts([e for e in history if e.stream_version <= event.stream_version])
        if facts is None:
            log.warning("notify_report_without_submission", event_type=event.event_type)
            return
        notices = plan(event, facts, self.officers, self.links)
        if not notices:
            return
        added = await asyncio.to_thread(self.outbox.enqueue, notices, self.clock.now().isoformat())
        if added:
            log.info(
                "notices_planned",
                tracking_id=facts.tracking_id,
                event_type=event.event_type,
                count=added,
                correlation_id=event.correlation_id,
            )
