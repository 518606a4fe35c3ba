"""A service far behind the store catches up a page at a time.

Found with a million reports (`bench/queries.py`): intake's views had been built offline, but its
polls view (a projector of its own) started empty, and the catch-up read all 1.8M events into one
list before handling any: 5.5 GB resident and requests stalled for 30 s. Now the events are read
and handled in pages, each page's checkpoint kept as it goes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from faststream.nats import NatsBroker

from shared.runtime.bus import ADVANCE_PAGE, EventConsumer, Service
from shared.store.port import NO_STREAM, NewEvent
from shared.store.sqlite import SqliteEventStore
from tests.builders import CITIZEN, submitted
from tests.view_batches import RecordingProjector

EVENTS = ADVANCE_PAGE * 2 + 345


async def test_a_view_far_behind_is_brought_up_a_page_at_a_time(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.db")
    recording = RecordingProjector(tmp_path)
    projector, applied, batches = recording.projector, recording.applied, recording.batches
    try:
        at = datetime(2026, 12, 1, tzinfo=UTC)
        for number in range(EVENTS):
            tracking_id = f"22222{number:04d}"
            event = NewEvent.of(
                submitted(), occurred_at=at, actor=CITIZEN, correlation_id=f"c-{number}"
            )
            await store.append(f"report-{tracking_id}", [event], NO_STREAM)
        consumer = EventConsumer("test", Service(projectors=[projector]), NatsBroker(), store)

        assert await consumer.catch_up() == 0  # the timer's first turn only notes the store
        handled = await consumer.catch_up()

        assert handled == EVENTS
        assert applied == list(range(1, EVENTS + 1))
        assert max(batches) <= ADVANCE_PAGE
        assert projector.checkpoint() == await store.last_position()
    finally:
        projector.close()
        await store.close()
