"""The desk's rules in-process, on a real SQLite store and view database (no NATS, no HTTP):
the verification deadline (derived with `shared.reports.deadlines`), the similarity measures, and
what a repeat or a lost race answers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.verification.similarity import haversine_metres, jaccard, tokens
from services.verification.usecases import Conflict, Desk, Forbidden
from services.verification.views import SCHEMA, TABLES, DeskViews, QueueFilter
from shared.auth import Principal, Role
from shared.calendar import WorkingDayCalendar
from shared.clock import FixedClock
from shared.events.base import Actor
from shared.reports.commands import (
    AmendReport,
    ReferReport,
    RejectReport,
    RequestCompletion,
    SubmitReport,
    VerifyReport,
)
from shared.reports.events import Classification, Location, RejectionReason
from shared.reports.policy import SlaPolicy
from shared.reports.tracking import new_tracking_id
from shared.runtime.projection import Projector
from shared.runtime.repository import Meta, ReportRepository
from shared.store.port import EventStore, NewEvent, RecordedEvent
from shared.store.sqlite import SqliteEventStore
from shared.values import Channel

TUESDAY = datetime(2026, 3, 17, 3, 0, tzinfo=UTC)  # 10:00 WIB; Nyepi and Idul Fitri follow
ADMIN_A = Principal(subject="admin-a", role=Role.ADMIN)
ADMIN_B = Principal(subject="admin-b", role=Role.ADMIN)
CITIZEN = Meta(actor=Actor(kind="citizen", id="reporter"), correlation_id="test")


class Bench:
    """A desk on a real store and projector; `sync()` projects what the store holds."""

    def __init__(self, store: EventStore, projector: Projector, clock: FixedClock) -> None:
        self.store = store
        self.projector = projector
        self.clock = clock
        self.reports = ReportRepository(store, clock)
        self.desk = Desk(self.reports, projector, clock)

    async def sync(self) -> None:
        events = await self.store.read_all(self.projector.checkpoint(), 10_000)
        self.projector.apply_batch(events)

    async def submit(
        self,
        title: str = "Jalan rusak",
        body: str = "Jalan di depan puskesmas rusak parah dan berlubang.",
        location: Location | None = None,
        channel: Channel = Channel.WEB,
        category: str | None = None,
    ) -> str:
        tracking_id = new_tracking_id()
        await self.reports.execute(
            tracking_id,
            SubmitReport(
                tracking_id=tracking_id,
                classification=Classification.COMPLAINT,
                title=title,
                body=body,
                category=category,
                location=location or Location(region_code="3171"),
                channel=channel,
                access_code_hash="x",
            ),
            CITIZEN,
        )
        await self.sync()
        return tracking_id

    async def row(self, tracking_id: str) -> dict[str, Any]:
        return (await self.desk.detail(ADMIN_A, tracking_id)).model_dump(mode="json")


@contextlib.asynccontextmanager
async def bench_on(path: Path, views: DeskViews) -> AsyncIterator[Bench]:
    store = SqliteEventStore(path / "events.db")
    projector = Projector(path / "verification.db", "verification", SCHEMA, views, TABLES)
    try:
        yield Bench(store, projector, FixedClock(TUESDAY))
    finally:
        projector.close()
        await store.close()


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[Bench]:
    async with bench_on(tmp_path, DeskViews()) as bench:
        yield bench


# --- the verification clock ---------------------------------------------------------------------
async def test_the_clock_counts_three_working_days_in_the_region_calendar(bench: Bench) -> None:
    tid = await bench.submit()
    left = (await bench.row(tid))["time_left"]
    assert isinstance(left, dict)
    # 18-24 March 2026 are Nyepi, Idul Fitri and cuti bersama (shared/calendar.py's example).
    assert left["due_date"] == "2026-03-27"
    assert left["due_at"] == "2026-03-27T23:59:59.999999+07:00"
    assert left["working_days_left"] == 3
    assert left["overdue"] is False and left["paused"] is False


async def test_the_clock_pauses_while_the_reporter_completes_and_resumes_after(
    bench: Bench,
) -> None:
    tid = await bench.submit()
    bench.clock.set(datetime(2026, 3, 25, 2, 0, tzinfo=UTC))  # day one of three has begun
    await bench.reports.execute(tid, RequestCompletion(note="Lokasi persisnya?"), _admin(ADMIN_A))
    await bench.sync()
    left = (await bench.row(tid))["time_left"]
    assert left == {
        "due_date": None,
        "due_at": None,
        "seconds_left": None,
        "working_days_left": 2,  # 26 and 27 March were still to come
        "overdue": False,
        "paused": True,
    }
    amended_at = datetime(2026, 4, 6, 1, 0, tzinfo=UTC)  # a Monday, days later
    bench.clock.set(amended_at)
    await bench.reports.execute(tid, AmendReport(text="Di Jl. Sudirman no. 5"), CITIZEN)
    await bench.sync()
    row = await bench.row(tid)
    expected = WorkingDayCalendar.default().add_working_days(date(2026, 4, 6), 2, "3171")
    assert row["status"] == "submitted"
    assert row["time_left"]["due_date"] == expected.isoformat()
    assert row["amendments"][0]["text"] == "Di Jl. Sudirman no. 5"


async def test_a_referral_recounts_the_due_day_in_the_new_region(bench: Bench) -> None:
    tid = await bench.submit(location=Location(region_code="3171"))
    await bench.reports.execute(tid, ReferReport(to_region="9171"), _admin(ADMIN_A))
    await bench.sync()
    left = (await bench.row(tid))["time_left"]
    assert left["due_date"] == "2026-03-27"
    assert left["due_at"].endswith("+09:00")  # WIT: Papua


async def test_overdue_reports_are_marked_and_filtered(bench: Bench) -> None:
    tid = await bench.submit()
    bench.clock.set(datetime(2026, 3, 28, 1, 0, tzinfo=UTC))
    row = await bench.row(tid)
    assert row["time_left"]["overdue"] is True
    overdue, _ = await bench.desk.queue(ADMIN_A, QueueFilter(overdue=True))
    assert tid in [r.tracking_id for r in overdue]


async def test_the_views_can_be_rebuilt_from_the_store(bench: Bench, tmp_path: Path) -> None:
    tid = await bench.submit()
    await bench.desk.act(tid, RequestCompletion(note="foto?"), ADMIN_A, "c1")
    await bench.reports.execute(tid, AmendReport(text="ini fotonya"), CITIZEN)
    await bench.desk.act(tid, RejectReport(reason=RejectionReason.SPAM), ADMIN_A, "c2")
    await bench.sync()
    before = await bench.row(tid)
    assert await bench.projector.rebuild(bench.store) == 4
    assert await bench.row(tid) == before


async def test_the_limit_is_policy_data(tmp_path: Path) -> None:
    five = SlaPolicy.from_dict({"defaults": {"verification": 5}})
    async with bench_on(tmp_path, DeskViews(policy=five)) as bench:
        tid = await bench.submit()
        left = (await bench.row(tid))["time_left"]
    # Three working days end on Friday 27 March; five end on Tuesday 31 March.
    assert left["due_date"] == "2026-03-31"
    assert left["working_days_left"] == 5


# Where the desk's own clock (before it used shared.reports.deadlines) counted otherwise:
async def test_a_completion_request_after_the_deadline_does_not_pause_it(bench: Bench) -> None:
    tid = await bench.submit()  # due Friday 27 March
    bench.clock.set(datetime(2026, 3, 31, 2, 0, tzinfo=UTC))
    await bench.reports.execute(tid, RequestCompletion(note="foto?"), _admin(ADMIN_A))
    await bench.sync()
    row = await bench.row(tid)
    assert row["status"] == "completion_requested"
    assert row["time_left"] | {"seconds_left": None} == {
        "due_date": "2026-03-27",
        "due_at": "2026-03-27T23:59:59.999999+07:00",
        "seconds_left": None,
        "working_days_left": -2,  # Monday 30 and Tuesday 31 March
        "overdue": True,
        "paused": False,
    }
    overdue, _ = await bench.desk.queue(
        ADMIN_A, QueueFilter(status="completion_requested", overdue=True)
    )
    assert [r.tracking_id for r in overdue] == [tid]


async def test_an_amendment_always_gives_the_admins_a_working_day(bench: Bench) -> None:
    tid = await bench.submit()
    bench.clock.set(datetime(2026, 3, 27, 2, 0, tzinfo=UTC))  # the due day itself
    await bench.reports.execute(tid, RequestCompletion(note="foto?"), _admin(ADMIN_A))
    await bench.sync()
    assert (await bench.row(tid))["time_left"]["working_days_left"] == 0
    bench.clock.set(datetime(2026, 4, 4, 2, 0, tzinfo=UTC))  # answered on a Saturday
    await bench.reports.execute(tid, AmendReport(text="ini fotonya"), CITIZEN)
    await bench.sync()
    left = (await bench.row(tid))["time_left"]
    assert (left["due_date"], left["working_days_left"], left["paused"]) == ("2026-04-06", 1, False)


# --- repeats and races ---------------------------------------------------------------------------
def _admin(principal: Principal) -> Meta:
    return Meta(actor=Actor(kind="admin", id=principal.subject), correlation_id="test")


async def test_a_repeat_by_the_same_admin_changes_nothing_and_is_fine(bench: Bench) -> None:
    tid = await bench.submit()
    first = await bench.desk.act(tid, VerifyReport(), ADMIN_A, "c1")
    again = await bench.desk.act(tid, VerifyReport(category="kesehatan"), ADMIN_A, "c2")
    assert (first.changed, again.changed) == (True, False)
    assert len(await bench.store.read(f"report-{tid}")) == 2


async def test_a_decision_another_admin_already_took_is_a_conflict(bench: Bench) -> None:
    tid = await bench.submit()
    await bench.desk.act(tid, VerifyReport(), ADMIN_A, "c1")
    with pytest.raises(Conflict) as caught:
        await bench.desk.act(tid, VerifyReport(category="kesehatan"), ADMIN_B, "c2")
    assert caught.value.detail().model_dump(mode="json")["status"] == "verified"
    assert caught.value.detail().model_dump(mode="json")["last_event"]["actor"]["id"] == "admin-a"
    with pytest.raises(Conflict):
        await bench.desk.act(tid, RejectReport(reason=RejectionReason.SPAM), ADMIN_B, "c3")


class Interleaving:
    """A store through which another admin's command lands just before ours is appended."""

    def __init__(self, inner: EventStore, competitor: ReportRepository) -> None:
        self.inner = inner
        self.competitor = competitor
        self.command: VerifyReport | RejectReport | None = None
        self.by = ADMIN_B

    async def append(
        self, stream: str, events: Sequence[NewEvent], expected_version: int | None
    ) -> list[RecordedEvent]:
        if self.command is not None:
            command, self.command = self.command, None
            await self.competitor.execute(stream.removeprefix("report-"), command, _admin(self.by))
        return await self.inner.append(stream, events, expected_version)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


async def test_losing_a_race_answers_409_with_the_winners_state(bench: Bench) -> None:
    tid = await bench.submit()
    racing = Interleaving(bench.store, bench.reports)
    desk = Desk(
        ReportRepository(racing, bench.clock),  # type: ignore[arg-type]
        bench.projector,
        bench.clock,
    )
    racing.command = RejectReport(reason=RejectionReason.SPAM)
    with pytest.raises(Conflict) as caught:
        await desk.act(tid, VerifyReport(), ADMIN_A, "c1")
    assert caught.value.detail().model_dump(mode="json")["status"] == "rejected"
    events = await bench.store.read(f"report-{tid}")
    assert [e.event_type for e in events] == ["ReportSubmitted", "ReportRejected"]


async def test_losing_a_race_to_your_own_double_click_is_harmless(bench: Bench) -> None:
    tid = await bench.submit()
    racing = Interleaving(bench.store, bench.reports)
    racing.by = ADMIN_A
    desk = Desk(
        ReportRepository(racing, bench.clock),  # type: ignore[arg-type]
        bench.projector,
        bench.clock,
    )
    racing.command = VerifyReport()
    outcome = await desk.act(tid, VerifyReport(), ADMIN_A, "c1")
    assert (outcome.changed, outcome.status) == (False, "verified")
    assert len(await bench.store.read(f"report-{tid}")) == 2


async def test_a_regional_admin_acts_only_in_their_region(bench: Bench) -> None:
    tid = await bench.submit(location=Location(region_code="3171"))
    kupang = Principal(subject="admin-kupang", role=Role.ADMIN, region="5371")
    with pytest.raises(Forbidden):
        await bench.desk.act(tid, VerifyReport(), kupang, "c1")
    jakarta = Principal(subject="admin-jkt", role=Role.ADMIN, region="31")
    with pytest.raises(Forbidden):
        await bench.desk.act(tid, VerifyReport(region_code="5371"), jakarta, "c2")
    assert (await bench.desk.act(tid, VerifyReport(), jakarta, "c3")).changed


# --- similarity ----------------------------------------------------------------------------------
def test_tokens_drop_common_words_and_the_nya_suffix() -> None:
    assert tokens("Jalannya RUSAK di depan puskesmas, yang rusak!") == {
        "jalan",
        "rusak",
        "depan",
        "puskesmas",
    }


def test_haversine_knows_a_known_distance() -> None:
    # Monas to Bundaran HI, Jakarta: about 2.3 km.
    assert 2200 < haversine_metres(-6.1754, 106.8272, -6.1950, 106.8230) < 2300


@given(st.sets(st.sampled_from("abcdefgh")), st.sets(st.sampled_from("abcdefgh")))
def test_jaccard_is_symmetric_and_bounded(a: set[str], b: set[str]) -> None:
    assert jaccard(a, b) == jaccard(b, a)
    assert 0.0 <= jaccard(a, b) <= 1.0
    if a and a == b:
        assert jaccard(a, b) == 1.0


async def test_duplicates_across_channels_within_30_days_and_500_metres(bench: Bench) -> None:
    here = Location(region_code="5371", lat=-10.1700, lon=123.6000)
    original = await bench.submit(location=here)
    sms = await bench.submit(
        title="SMS 1708",
        body="jalan depan puskesmas rusak berlubang parah",
        location=Location(region_code="5371"),
        channel=Channel.SMS,
    )
    nearby = await bench.submit(
        title="Lampu jalan padam",
        body="Lampu penerangan mati total sejak minggu lalu.",
        location=Location(region_code="5371", lat=-10.1710, lon=123.6010),
    )
    far = await bench.submit(
        title="Sekolah bocor",
        body="Atap sekolah bocor setiap hujan deras.",
        location=Location(region_code="5371", lat=-10.2, lon=123.7),
    )
    bench.clock.set(TUESDAY + timedelta(days=31))
    late = await bench.submit(location=here)
    bench.clock.set(TUESDAY)
    found = {d.tracking_id: d for d in await bench.desk.duplicates(ADMIN_A, original)}
    assert set(found) == {sms, nearby}
    assert found[sms].reasons == ["similar_text"]
    assert found[nearby].reasons == ["nearby"]
    distance = found[nearby].distance_m
    assert distance is not None and 100 < distance < 200
    assert far not in found and late not in found
