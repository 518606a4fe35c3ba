"""The forward reaction and the live directory against a real SQLite store (no NATS): a verified
report is forwarded once, however often its ReportVerified is delivered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from services.routing.reactions import make_react
from shared.calendar import WorkingDayCalendar
from shared.clock import FixedClock
from shared.directory.model import Institution
from shared.directory.state import decide_add
from shared.events.base import Actor
from shared.reports.commands import ForwardReport, ReturnReport, SubmitReport, VerifyReport
from shared.reports.events import Classification, Location, Status
from shared.reports.lifecycle import stream_name
from shared.runtime.directory import DirectoryRepository, LiveDirectory
from shared.runtime.repository import Meta, ReportRepository
from shared.store.port import RecordedEvent
from shared.store.sqlite import SqliteEventStore
from shared.values import Channel

# Monday 6 October 2025, 09:00 in Kupang (WITA).
MONDAY = datetime(2025, 10, 6, 1, 0, tzinfo=UTC)
ADMIN = Meta(actor=Actor(kind="admin", id="admin-1"), correlation_id="c-1")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteEventStore]:
    events = SqliteEventStore(tmp_path / "events.db")
    yield events
    await events.close()


async def verified_report(
    reports: ReportRepository, tracking_id: str, **verify: str
) -> RecordedEvent:
    submit = SubmitReport(
        tracking_id=tracking_id,
        classification=Classification.COMPLAINT,
        title="Obat habis",
        body="Obat di puskesmas habis sejak minggu lalu.",
        category="kesehatan",
        location=Location(region_code="5371"),
        channel=Channel.WEB,
        access_code_hash="x",
    )
    await reports.execute(tracking_id, submit, ADMIN)
    stored = await reports.execute(tracking_id, VerifyReport(**verify), ADMIN)
    return stored[0]


async def test_a_verified_report_is_forwarded_once_however_often_it_is_delivered(
    store: SqliteEventStore,
) -> None:
    reports = ReportRepository(store, FixedClock(MONDAY))
    react = make_react(reports, LiveDirectory(store), WorkingDayCalendar.default())
    verified = await verified_report(reports, "AAAAAAAAAA")
    for _ in range(3):  # JetStream may deliver the same event again
        await react(verified)
    history = await store.read(stream_name("AAAAAAAAAA"))
    forwards = [e for e in history if e.event_type == "ForwardedToOPD"]
    assert len(forwards) == 1
    forward = forwards[0]
    assert forward.data["agency_code"] == "DINKES-KOTA-KUPANG"
    assert forward.data["routed_by"] == "rule"
    assert forward.data["follow_up_due"] == date(2025, 10, 13).isoformat()  # 5 working days
    assert forward.actor == Actor(kind="system", id="routing")
    assert forward.causation_id == str(verified.event_id)
    assert forward.correlation_id == verified.correlation_id
    assert forward.agency_code == "DINKES-KOTA-KUPANG"  # the NATS subject's agency token


async def test_the_admins_choice_at_verification_is_honoured(store: SqliteEventStore) -> None:
    reports = ReportRepository(store, FixedClock(MONDAY))
    react = make_react(reports, LiveDirectory(store), WorkingDayCalendar.default())
    verified = await verified_report(reports, "BBBBBBBBBB", agency_code="PUSKESMAS-OEPOI")
    await react(verified)
    state, _ = await reports.load("BBBBBBBBBB")
    assert state is not None and state.agency_code == "PUSKESMAS-OEPOI"


async def test_a_late_reaction_does_not_undo_what_people_decided(store: SqliteEventStore) -> None:
    reports = ReportRepository(store, FixedClock(MONDAY))
    react = make_react(reports, LiveDirectory(store), WorkingDayCalendar.default())
    verified = await verified_report(reports, "CCCCCCCCCC")
    # Before routing reacts, an admin forwards it by hand and the institution returns it.
    hand = ForwardReport(
        agency_code="DPUPR-KOTA-KUPANG",
        agency_name="Dinas PUPR",
        follow_up_due=date(2025, 10, 13),
        routed_by="admin",
    )
    await reports.execute("CCCCCCCCCC", hand, ADMIN)
    back = ReturnReport(agency_code="DPUPR-KOTA-KUPANG", reason="not_our_authority")
    await reports.execute("CCCCCCCCCC", back, ADMIN)
    await react(verified)
    state, history = await reports.load("CCCCCCCCCC")
    assert state is not None and state.status is Status.RETURNED
    assert [e.event_type for e in history].count("ForwardedToOPD") == 1


async def test_the_live_directory_follows_the_directory_stream(store: SqliteEventStore) -> None:
    live = LiveDirectory(store)
    assert "PUSKESMAS-ALAK" not in await live.get()
    alak = Institution(
        code="PUSKESMAS-ALAK",
        name="Puskesmas Alak",
        level="unit",
        region_code="537101",
        parent="DINKES-KOTA-KUPANG",
        categories=("kesehatan",),
    )
    repository = DirectoryRepository(store, FixedClock(MONDAY))
    meta = Meta(actor=Actor(kind="admin", id="a"), correlation_id="c", idempotency_key="k")
    stored = await repository.decide(lambda d: decide_add(d, alak), meta)
    again = await repository.decide(lambda d: decide_add(d, alak), meta)
    assert [e.event_id for e in again] == [e.event_id for e in stored]
    assert len(await store.read("directory")) == 1

    react = make_react(
        ReportRepository(store, FixedClock(MONDAY)), live, WorkingDayCalendar.default()
    )
    for event in [*stored, *stored]:  # a redelivery changes nothing
        await react(event)
    assert (await live.get()).get("PUSKESMAS-ALAK").parent == "DINKES-KOTA-KUPANG"
    assert live.version == 1
    # A fresh process reads the stream at start.
    assert "PUSKESMAS-ALAK" in await LiveDirectory(store).get()
