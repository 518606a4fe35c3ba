"""A rebuild of sla's views reads each event's `Fact` straight from the stored data
(`fact_of_stored`) instead of parsing the payload into its class first (`fact_of_recorded`, what
a live delivery does). The two must give the same `Fact` (equal, and the same JSON, which the view
stores) for every payload the store accepts: every event of many generated lifecycles, and the
payloads those never hold: a first version upcast (the pilot's region codes), fields left out
for their defaults, every relevant event type, and events no deadline depends on."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from shared.events.base import DomainEvent
from shared.reports.events import (
    AdministratorReplied,
    CloseReason,
    CompletionReminded,
    EscalatedToOmbudsman,
    FollowUpKind,
    ReportClosed,
    ReportDelegated,
    ReportRated,
    ReportReferred,
    ReportReopened,
    ReportReturned,
    ReportTransferred,
    SlaBreached,
    SlaDueSoon,
    SlaStage,
)
from shared.reports.facts import RELEVANT_EVENT_TYPES, fact_of_recorded, fact_of_stored
from shared.store.port import ANY, NewEvent, RecordedEvent
from shared.store.sqlite import SqliteEventStore
from tests.builders import (
    ADMIN,
    AGENCY,
    OTHER_AGENCY,
    T0,
    followed_up,
    forwarded,
    submitted,
    verified,
)
from tests.view_batches import generated_events

LEFT_OUT = object()  # a field the stored data leaves out (the payload class's default)
# (payload, the stored data's changes, the schema version stored)
Unusual = tuple[DomainEvent, dict[str, Any], int]
UNUSUAL: list[Unusual] = [
    (submitted("PILOT00001"), {"location": {"region_code": "5305"}}, 1),  # → 5303
    (submitted("NOWHERE002"), {"location": LEFT_OUT}, 2),
    (submitted("NOWHERE003"), {"location": {"region_code": None}}, 2),
    (verified(), {"region_code": "5301", "location": {"region_code": "5310"}}, 1),
    (verified(), {"region_code": None, "requires_field_inspection": True}, 2),
    (verified(), {"requires_field_inspection": LEFT_OUT}, 2),
    (ReportReferred(to_region="5308"), {}, 1),
    (ReportReferred(), {"to_region": None}, 2),
    (ReportReferred(), {"to_region": LEFT_OUT}, 2),
    (forwarded(OTHER_AGENCY), {"follow_up_due": "2026-03-09"}, 1),
    (
        ReportTransferred(
            from_agency=AGENCY,
            to_agency=OTHER_AGENCY,
            to_agency_name="Dinas Perhubungan",
            follow_up_due=date(2026, 3, 10),
        ),
        {},
        1,
    ),
    (ReportReturned(agency_code=AGENCY, reason="not_our_authority"), {}, 1),
    (ReportReopened(reason="Belum beres"), {}, 1),
    (ReportReopened(reason="Belum beres", agency_code=AGENCY), {}, 1),
    (followed_up(kind=FollowUpKind.FINAL), {}, 1),
    (followed_up(kind=FollowUpKind.QUESTION), {}, 1),
    (followed_up(), {"kind": LEFT_OUT}, 1),  # an interim answer
    (ReportClosed(reason=CloseReason.NO_RESPONSE), {}, 1),
    (
        ReportDelegated(from_agency=AGENCY, to_agency="PUSKESMAS-OEBOBO", to_agency_name="P"),
        {},
        1,
    ),
    (SlaDueSoon(stage=SlaStage.VERIFICATION, due=date(2026, 3, 5)), {}, 1),
    (SlaBreached(stage=SlaStage.FOLLOW_UP, due=date(2026, 3, 9), agency_code=AGENCY), {}, 1),
    (SlaBreached(stage=SlaStage.RESOLUTION, due=date(2026, 4, 9)), {"agency_code": LEFT_OUT}, 1),
    (CompletionReminded(closes_on=date(2026, 3, 20)), {}, 1),
    (AdministratorReplied(text="Sudah kami teruskan"), {}, 1),
    (EscalatedToOmbudsman(ombudsman_office="NTT", province_code="53"), {}, 1),
    (ReportRated(rating=4), {}, 1),  # no deadline depends on it
]


def _data(payload: DomainEvent, changes: dict[str, Any]) -> dict[str, Any]:
    data = payload.model_dump(mode="json")
    for key, value in changes.items():
        if value is LEFT_OUT:
            data.pop(key)
        elif isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


async def _stored(path: Path) -> list[RecordedEvent]:
    store = SqliteEventStore(path)
    try:
        for n, (payload, changes, version) in enumerate(UNUSUAL):
            event = NewEvent.of(
                payload, occurred_at=T0 + timedelta(hours=n), actor=ADMIN, correlation_id=f"u{n}"
            ).model_copy(update={"data": _data(payload, changes), "schema_version": version})
            await store.append(f"report-UNUSUAL{n:03d}", [event], ANY)
        return await store.read_all(0, 1000)
    finally:
        await store.close()


def _assert_same_facts(events: list[RecordedEvent]) -> int:
    relevant = 0
    for event in events:
        live, replayed = fact_of_recorded(event), fact_of_stored(event)
        assert replayed == live, (event.event_type, event.schema_version, event.data)
        if live is not None:
            assert replayed is not None
            assert replayed.model_dump_json() == live.model_dump_json()
            assert replayed.model_fields_set == live.model_fields_set
            relevant += 1
    return relevant


def test_unusual_payloads_give_the_same_fact_read_from_the_stored_data(tmp_path: Path) -> None:
    events = asyncio.run(_stored(tmp_path / "events.db"))
    assert len(events) == len(UNUSUAL)
    assert _assert_same_facts(events) == len(UNUSUAL) - 1
    pilot = fact_of_stored(events[0])
    assert pilot is not None and pilot.region_code == "5303"


def test_generated_lifecycles_give_the_same_facts_read_from_the_stored_data(
    tmp_path: Path,
) -> None:
    events = generated_events(tmp_path, reports=300, seed=24)
    assert _assert_same_facts(events) > 1000
    seen = {e.event_type for e in events} | {type(p).event_type for p, _, _ in UNUSUAL}
    assert seen >= RELEVANT_EVENT_TYPES  # every event type a deadline depends on
