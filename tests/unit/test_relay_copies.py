"""The relay's messages: an event on its own subject, and a copy for the institution a report
leaves; a restart after a crash between the two publishes the event again, so no copy is lost."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from services.relay.relay import Tail, messages_of, trusted_tail
from shared.events.base import Actor
from shared.store.port import RecordedEvent


def transfer(position: int = 7) -> RecordedEvent:
    return RecordedEvent(
        event_id=uuid.uuid4(),
        event_type="ReportTransferred",
        occurred_at=datetime.now(UTC),
        correlation_id="c",
        causation_id="c",
        actor=Actor(kind="agency", id="DINKES-KOTA-KUPANG"),
        region_code="5371",
        agency_code="DPUPR-KOTA-KUPANG",
        data={
            "from_agency": "DINKES-KOTA-KUPANG",
            "to_agency": "DPUPR-KOTA-KUPANG",
            "to_agency_name": "DPUPR",
            "follow_up_due": "2026-01-09",
        },
        stream="report-7XK4PQ2MHT",
        stream_version=3,
        prev_hash="",
        hash="",
        position=position,
    )


class OneEventStore:
    def __init__(self, event: RecordedEvent) -> None:
        self.event = event

    async def read_all(self, from_position: int = 0, limit: int = 1000) -> list[Any]:
        return [self.event] if from_position < self.event.position else []


def test_a_transfer_goes_to_the_receiver_and_a_copy_to_the_leaver() -> None:
    event = transfer()
    first, copy = messages_of(event)
    assert first.subject == "lapor.v1.events.ReportTransferred.5371.DPUPR-KOTA-KUPANG"
    assert copy.subject == "lapor.v1.events.ReportTransferred.5371.DINKES-KOTA-KUPANG"
    assert copy.body == first.body
    assert copy.headers["Nats-Msg-Id"] == f"{event.event_id}:DINKES-KOTA-KUPANG"
    assert copy.headers["Lapor-Copy-For"] == "DINKES-KOTA-KUPANG"
    assert copy.headers["Lapor-Position"] == first.headers["Lapor-Position"] == "7"


async def test_a_restart_between_an_event_and_its_copy_publishes_the_event_again() -> None:
    event = transfer()
    store: Any = OneEventStore(event)
    first, copy = messages_of(event)
    assert await trusted_tail(store, Tail(7, copy.headers["Nats-Msg-Id"])) == 7
    assert await trusted_tail(store, Tail(7, first.headers["Nats-Msg-Id"])) == 6
    assert await trusted_tail(store, Tail(7, "forged")) is None
