"""A service's deliveries from JetStream: a wake-up and a position, acked once handled.

A service with views reads only the position of what JetStream delivers (the relay's
`Lapor-Position` header, else the event's body) and brings its views up to it from the store.
What it handled is acked, so nothing is held on the server; a delivery it could not handle (its
views' disk failing for a moment) is NAKed and JetStream brings it again at once — the views
reach the store's end without the timer's catch-up.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from faststream.nats import NatsBroker

from shared.runtime.bus import COALESCE_SECONDS, EventConsumer, Service, subscribe
from shared.runtime.messaging import (
    POSITION_HEADER,
    STREAM_NAME,
    declare_event_stream,
    subject_for,
)
from shared.runtime.projection import Projector
from shared.store.port import NO_STREAM, NewEvent, RecordedEvent
from shared.store.sqlite import SqliteEventStore
from tests.builders import CITIZEN, submitted
from tests.support import Deadline, load_factor, nats_server
from tests.view_batches import RecordingProjector

DURABLE = "deliveries"


async def until(condition: object, seconds: float, what: str) -> None:
    deadline = Deadline(seconds)
    while not deadline.passed():
        if await condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_failed_delivery_comes_again_and_every_handled_one_is_acked(
    tmp_path: Path,
) -> None:
    store = SqliteEventStore(tmp_path / "events.db")
    failures = {"left": 1}
    applied: list[int] = []

    def apply(_conn: sqlite3.Connection, event: RecordedEvent) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise OSError("disk I/O error")  # transient: the delivery must come again
        applied.append(event.position)

    projector = Projector(tmp_path / "views.db", "views", "", apply)
    with nats_server(tmp_path) as server:
        broker = NatsBroker(server.url)
        try:
            await broker.connect()
            js = broker.config.connection_state.stream
            await declare_event_stream(js)
            subscribe(DURABLE, Service(projectors=[projector]), broker, store)
            await broker.start()

            at = datetime(2026, 12, 1, tzinfo=UTC)
            events = []
            for number in range(5):
                event = NewEvent.of(
                    submitted(), occurred_at=at, actor=CITIZEN, correlation_id=f"c-{number}"
                )
                events += await store.append(f"report-2222{number:04d}", [event], NO_STREAM)
            for event in events[:4]:  # as the relay publishes them
                await js.publish(
                    subject_for(event),
                    event.model_dump_json().encode(),
                    headers={POSITION_HEADER: str(event.position)},
                )

            async def views_at_fourth() -> bool:
                return projector.checkpoint() == events[3].position

            await until(views_at_fourth, 20, "the views at the fourth event")
            assert applied == [e.position for e in events[:4]]  # the failed one came again

            # A copy published by someone else, without the header: its body says where.
            last = events[4]
            await js.publish(subject_for(last), json.dumps({"position": last.position}).encode())

            async def all_handled_and_acked() -> bool:
                info = await js.consumer_info(STREAM_NAME, DURABLE)
                return (
                    projector.checkpoint() == last.position
                    and info.num_ack_pending == 0
                    and info.num_pending == 0
                )

            await until(all_handled_and_acked, 20, "every delivery handled and acked")
            info = await js.consumer_info(STREAM_NAME, DURABLE)
            # The NAKed delivery was delivered again (JetStream's redelivery, not the timer).
            assert info.delivered.consumer_seq > info.delivered.stream_seq
            assert applied == [e.position for e in events]
        finally:
            await broker.stop()
            projector.close()
            await store.close()


async def test_a_read_of_your_writes_takes_what_was_just_appended_and_never_skips_another_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What this process has just appended is applied as the store answered it; an event another
    process appended in between is read from the store, in its place."""
    store = SqliteEventStore(tmp_path / "events.db")
    applied: list[int] = []

    def apply(_conn: sqlite3.Connection, event: RecordedEvent) -> None:
        applied.append(event.position)

    projector = Projector(tmp_path / "views.db", "views", "", apply)
    reads: list[tuple[int, int]] = []
    read_all = store.read_all

    async def counted(from_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        reads.append((from_position, limit))
        return await read_all(from_position, limit)

    monkeypatch.setattr(store, "read_all", counted)
    consumer = EventConsumer("test", Service(projectors=[projector]), NatsBroker(), store)
    at = datetime(2026, 12, 1, tzinfo=UTC)

    async def submit(number: int) -> list[RecordedEvent]:
        event = NewEvent.of(submitted(), occurred_at=at, actor=CITIZEN, correlation_id=f"{number}")
        return await store.append(f"report-3333{number:04d}", [event], NO_STREAM)

    try:
        mine = await submit(1)
        consumer.remember(mine)
        await consumer.advance_to(mine[-1].position)
        assert applied == [mine[-1].position]
        assert reads == []  # taken as appended

        theirs = await submit(2)  # appended by another process: not remembered here
        mine = await submit(3)
        consumer.remember(mine)
        await consumer.advance_to(mine[-1].position)
        assert applied == [1, theirs[-1].position, mine[-1].position]
        assert reads  # the other's event was read from the store, in order
        assert projector.checkpoint() == mine[-1].position
    finally:
        projector.close()
        await store.close()


async def test_each_view_takes_a_batch_on_its_own_and_a_bad_event_sinks_only_its_own_view(
    tmp_path: Path,
) -> None:
    """A service with two views (intake's reports and polls): both take each batch. An event one
    view cannot take is dead-lettered in that view alone; the other view takes it as usual. A
    view whose disk fails for a moment fails the whole delivery, to be brought again."""
    store = SqliteEventStore(tmp_path / "events.db")
    bad_position = 2
    disk_fails = {"left": 0}
    schema = "CREATE TABLE IF NOT EXISTS taken (position INTEGER PRIMARY KEY);"

    def applier(name: str) -> Any:
        def apply(conn: sqlite3.Connection, event: RecordedEvent) -> None:
            if name == "reports" and event.position == bad_position:
                raise ValueError("a field this view cannot take")
            if name == "reports" and disk_fails["left"]:
                disk_fails["left"] -= 1
                raise OSError("disk I/O error")
            conn.execute("INSERT INTO taken VALUES (?)", (event.position,))

        return apply

    reports = Projector(tmp_path / "reports.db", "reports", schema, applier("reports"))
    polls = Projector(tmp_path / "polls.db", "polls", schema, applier("polls"))

    def taken() -> dict[str, list[int]]:
        return {
            p.name: [row[0] for row in p.conn.execute("SELECT position FROM taken ORDER BY 1")]
            for p in (reports, polls)
        }

    consumer = EventConsumer("test", Service(projectors=[reports, polls]), NatsBroker(), store)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    try:
        events = []
        for number in range(4):
            event = NewEvent.of(submitted(), occurred_at=at, actor=CITIZEN, correlation_id="c")
            events += await store.append(f"report-4444{number:04d}", [event], NO_STREAM)
        await consumer.advance_to(events[2].position)
        assert taken() == {"reports": [1, 3], "polls": [1, 2, 3]}
        dead = reports.conn.execute("SELECT position FROM dead_letters").fetchall()
        assert [row[0] for row in dead] == [bad_position]
        assert reports.checkpoint() == polls.checkpoint() == 3

        disk_fails["left"] = 1
        with pytest.raises(OSError):
            await consumer.advance_to(events[3].position)
        assert taken()["polls"] == [1, 2, 3]  # not past a view that failed before it
        await consumer.advance_to(events[3].position)  # the delivery again
        assert taken() == {"reports": [1, 3, 4], "polls": [1, 2, 3, 4]}
    finally:
        reports.close()
        polls.close()
        await store.close()


async def test_a_burst_of_events_is_taken_in_a_few_batches_and_a_lone_one_at_once(
    tmp_path: Path,
) -> None:
    """While events keep coming a service takes what arrived in one batch per COALESCE_SECONDS
    (one store read, one transaction per view) rather than a wake-up per event; the first event
    after a quiet spell is taken at once."""
    store = SqliteEventStore(tmp_path / "events.db")
    projector = Projector(tmp_path / "views.db", "views", "", lambda _conn, _event: None)
    batches: list[int] = []
    with nats_server(tmp_path) as server:
        broker = NatsBroker(server.url)
        try:
            await broker.connect()
            js = broker.config.connection_state.stream
            await declare_event_stream(js)
            consumer = subscribe(DURABLE, Service(projectors=[projector]), broker, store)
            handle_events = consumer.handle_events

            async def counted(events: Sequence[RecordedEvent]) -> None:
                batches.append(len(events))
                await handle_events(events)

            consumer.handle_events = counted  # type: ignore[method-assign,assignment]
            await broker.start()
            at = datetime(2026, 12, 1, tzinfo=UTC)

            async def publish(count: int) -> int:
                for number in range(count):
                    event = NewEvent.of(
                        submitted(), occurred_at=at, actor=CITIZEN, correlation_id=f"{number}"
                    )
                    (stored,) = await store.append(f"report-{uuid4().hex[:10]}", [event], 0)
                    await js.publish(
                        subject_for(stored),
                        b"{}",
                        headers={POSITION_HEADER: str(stored.position)},
                    )
                return stored.position

            lone = await publish(1)
            started = time.monotonic()

            async def handled(position: int) -> bool:
                return projector.checkpoint() == position

            await until(lambda: handled(lone), 10, "the lone event")
            lone_took = time.monotonic() - started
            # Not held back for a batch (well under the period, however busy the machine).
            assert lone_took < COALESCE_SECONDS * load_factor() + 1.0
            assert batches == [1]

            last = await publish(60)
            await until(lambda: handled(last), 20, "the burst")
            assert sum(batches[1:]) == 60
            assert len(batches[1:]) < 30  # several events per wake-up
        finally:
            await broker.stop()
            projector.close()
            await store.close()


async def test_concurrent_submitters_each_read_their_report_with_fewer_view_writes(
    tmp_path: Path,
) -> None:
    """Twenty submissions at once, each waiting for the views before answering (read your
    writes): every one finds its own event applied when its wait ends, in the store's order, and
    those waiting behind another's turn are served by that turn's batch (fewer view writes)."""
    store = SqliteEventStore(tmp_path / "events.db")
    recording = RecordingProjector(tmp_path)
    projector, applied, batches = recording.projector, recording.applied, recording.batches
    consumer = EventConsumer("test", Service(projectors=[projector]), NatsBroker(), store)
    at = datetime(2026, 12, 1, tzinfo=UTC)

    async def submit_and_read(number: int) -> bool:
        event = NewEvent.of(submitted(), occurred_at=at, actor=CITIZEN, correlation_id=f"{number}")
        mine = await store.append(f"report-5555{number:04d}", [event], NO_STREAM)
        consumer.remember(mine)
        await consumer.advance_to(mine[-1].position)
        return mine[-1].position in applied  # what the submitter's next read would see

    try:
        seen = await asyncio.gather(*(submit_and_read(n) for n in range(20)))
        assert all(seen)
        assert applied == list(range(1, 21))  # each once, in order
        assert len(batches) < 20, batches
        assert projector.checkpoint() == 20
    finally:
        projector.close()
        await store.close()
