"""The ticker against a real SQLite store and view, in process: crashes, replicas, a lagging view.

A "crash" between storing an event and remembering the action is simulated by forgetting what
the ticker remembered (`timer_done`); a restart by a new Ticker on the same files.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from services.sla import views
from services.sla.config import Rules
from services.sla.ticker import Ticker
from shared.calendar import WIB, WorkingDayCalendar
from shared.clock import FixedClock
from shared.events.base import Actor
from shared.reports.commands import (
    Command,
    ForwardReport,
    PostFollowUp,
    ReplyAsReporter,
    VerifyReport,
)
from shared.reports.events import FollowUpKind, Location, Status
from shared.reports.lifecycle import InvalidTransition, stream_name
from shared.reports.policy import DEFAULT_POLICY
from shared.runtime.projection import Projector
from shared.runtime.repository import Meta, ReportRepository
from shared.store.port import RecordedEvent
from shared.store.sqlite import SqliteEventStore
from tests.builders import submit_command

pytestmark = pytest.mark.asyncio

RULES = Rules(WorkingDayCalendar.default(), DEFAULT_POLICY)
AGENCY = "DINKES-KOTA-KUPANG"
ADMIN = Actor(kind="admin", id="admin-1")


def wib(day: str, hh: int = 10, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hh, mm, ss), WIB)


@dataclass
class World:
    tmp: Path
    store: SqliteEventStore
    clock: FixedClock
    reports: ReportRepository
    projector: Projector

    async def run(self, tracking_id: str, command: Command, when: datetime) -> None:
        self.clock.set(when)
        await self.reports.execute(
            tracking_id, command, Meta(actor=ADMIN, correlation_id=f"cid-{tracking_id}")
        )

    async def project(self) -> None:
        events = await self.store.read_all(0, 100_000)
        await asyncio.to_thread(self.projector.apply_batch, events)

    def ticker(self, projector: Projector | None = None) -> Ticker:
        return Ticker(projector or self.projector, self.reports, self.clock, RULES, 0.01)

    async def events(self, tracking_id: str, event_type: str) -> list[RecordedEvent]:
        stream = await self.store.read(stream_name(tracking_id))
        return [e for e in stream if e.event_type == event_type]

    def forget_done(self) -> None:
        with self.projector.transaction() as conn:
            conn.execute("DELETE FROM timer_done")

    def new_projector(self, name: str) -> Projector:
        return views.new_projector(self.tmp / f"{name}.db", RULES)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    store = SqliteEventStore(tmp_path / "events.db")
    clock = FixedClock(wib("2026-03-02"))
    projector = views.new_projector(tmp_path / "sla.db", RULES)
    try:
        yield World(tmp_path, store, clock, ReportRepository(store, clock), projector)
    finally:
        projector.close()
        await store.close()


async def submit(w: World, tracking_id: str, when: datetime) -> None:
    command = submit_command(tracking_id, location=Location(region_code="3171"))
    await w.run(tracking_id, command, when)


async def forward(w: World, tracking_id: str, when: datetime, due: str) -> None:
    await w.run(tracking_id, VerifyReport(), when)
    await w.run(
        tracking_id,
        ForwardReport(
            agency_code=AGENCY, agency_name="Dinas Kesehatan", follow_up_due=date.fromisoformat(due)
        ),
        when,
    )


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def breaches_in(keys: list[str]) -> list[str]:
    """The breach actions among a tick's keys (due-soon warnings aside)."""
    return [k for k in keys if k.startswith("sla:breach:")]


async def test_a_breach_is_stored_once_whatever_happens_to_the_ticker(world: World) -> None:
    await submit(world, "TICKA2345B", wib("2026-03-17", 9))  # due Friday 27 March
    await world.project()
    ticker = world.ticker()
    breaches = sample("lapor_sla_breaches_total", {"stage": "verification", "agency": "_"})

    nothing = await ticker.tick(wib("2026-03-27", 23, 59, 59))
    assert (
        breaches_in(nothing.appended) == []
        and await world.events("TICKA2345B", "SlaBreached") == []
    )
    # (the admins were warned the day before: SlaDueSoon, see the due-soon test)

    first = await ticker.tick(wib("2026-03-28", 0, 0, 1))
    assert breaches_in(first.appended) == ["sla:breach:verification:TICKA2345B:2026-03-27:v1"]
    [breach] = await world.events("TICKA2345B", "SlaBreached")
    [submitted] = await world.events("TICKA2345B", "ReportSubmitted")
    assert breach.data == {"stage": "verification", "due": "2026-03-27", "agency_code": None}
    assert breach.actor == Actor(kind="system", id="sla")
    assert breach.correlation_id == submitted.correlation_id
    assert breach.causation_id == str(submitted.event_id)

    # The view has not seen the breach yet, and the ticker forgot it acted (a crash): again.
    world.forget_done()
    again = await ticker.tick(wib("2026-03-28", 0, 1))
    assert again.appended == [] and len(breaches_in([k for k, _ in again.finished])) == 1
    # A restarted ticker, after the view caught up (and counted the breach): nothing left to do.
    await world.project()
    await world.project()
    restarted = await world.ticker().tick(wib("2026-04-30"))
    assert restarted.finished == [] and restarted.appended == []
    assert len(await world.events("TICKA2345B", "SlaBreached")) == 1
    assert sample("lapor_sla_breaches_total", {"stage": "verification", "agency": "_"}) == (
        breaches + 1
    )


class Replica:
    """The store as one replica sees it: its first read of a report waits for the other
    replica's, so both decide on the same stream before either appends (the race the fixed
    idempotency key settles), whatever the scheduler does."""

    def __init__(self, store: SqliteEventStore, together: asyncio.Barrier) -> None:
        self.store = store
        self.together = together
        self.met = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def read(self, stream: str) -> list[RecordedEvent]:
        events = await self.store.read(stream)
        if not self.met:
            self.met = True
            await self.together.wait()
        return events


async def test_two_replicas_ticking_at_once_store_one_breach(world: World) -> None:
    await submit(world, "TWINS2345C", wib("2026-03-02"))
    await world.project()
    other = world.new_projector("sla-replica")
    together = asyncio.Barrier(2)

    def replica(projector: Projector) -> Ticker:
        reports = ReportRepository(Replica(world.store, together), world.clock)  # type: ignore[arg-type]
        return Ticker(projector, reports, world.clock, RULES, 0.01)

    try:
        await asyncio.to_thread(other.apply_batch, await world.store.read_all(0, 1000))
        a, b = await asyncio.gather(
            replica(world.projector).tick(wib("2026-03-06")),
            replica(other).tick(wib("2026-03-06")),
        )
    finally:
        other.close()
    # Both replicas ran the command; the fixed idempotency key let only one event in.
    breach_outcomes = [o for k, o in a.finished + b.finished if k.startswith("sla:breach:")]
    assert breach_outcomes == ["done", "done"]
    assert len(await world.events("TWINS2345C", "SlaBreached")) == 1


async def test_a_view_behind_the_store_never_causes_a_wrong_breach(world: World) -> None:
    await submit(world, "LAGGY2345D", wib("2026-03-02"))
    await forward(world, "LAGGY2345D", wib("2026-03-02", 11), due="2026-03-09")
    await world.project()
    # The follow-up comes in time, but the view does not know it yet.
    await world.run(
        "LAGGY2345D", PostFollowUp(agency_code=AGENCY, text="Kami cek"), wib("2026-03-09", 16)
    )
    result = await world.ticker().tick(wib("2026-03-10", 8))
    assert result.appended == []
    assert ("sla:breach:follow_up:LAGGY2345D:2026-03-09:v3", "obsolete") in result.finished
    assert await world.events("LAGGY2345D", "SlaBreached") == []


async def test_auto_close_happens_once_and_a_reply_the_view_has_not_seen_prevents_it(
    world: World,
) -> None:
    for tid in ("QUIET2345E", "REPLY2345F"):
        await submit(world, tid, wib("2026-12-14"))
        await forward(world, tid, wib("2026-12-16"), due="2026-12-23")
        await world.run(
            tid,
            PostFollowUp(agency_code=AGENCY, text="Sudah diperbaiki", kind=FollowUpKind.FINAL),
            wib("2026-12-23", 14),
        )
    await world.project()
    await world.run("REPLY2345F", ReplyAsReporter(text="Belum!"), wib("2027-01-11"))
    ticker = world.ticker()

    early = await ticker.tick(wib("2027-01-12", 23, 59))
    assert [k for k in early.appended if "autoclose" in k] == []
    result = await ticker.tick(wib("2027-01-13", 0, 0, 1))
    assert "sla:autoclose:QUIET2345E:4" in result.appended
    assert ("sla:autoclose:REPLY2345F:4", "obsolete") in result.finished
    [closed] = await world.events("QUIET2345E", "ReportClosed")
    [follow_up] = await world.events("QUIET2345E", "FollowUpPosted")
    assert closed.data["reason"] == "no_response"
    assert closed.causation_id == str(follow_up.event_id)
    assert await world.events("REPLY2345F", "ReportClosed") == []

    world.forget_done()
    assert (await ticker.tick(wib("2027-01-14"))).appended == []
    assert len(await world.events("QUIET2345E", "ReportClosed")) == 1
    closes = sample("lapor_sla_auto_closes_total")
    await world.project()
    await world.project()
    assert sample("lapor_sla_auto_closes_total") == closes + 1
    state, _ = await world.reports.load("QUIET2345E")
    assert state is not None and state.status is Status.CLOSED


async def test_a_domain_error_makes_the_timer_obsolete_and_the_loop_goes_on(
    world: World, tmp_path: Path
) -> None:
    class MovedOn(ReportRepository):
        async def execute(self, *args: Any, **kwargs: Any) -> list[RecordedEvent]:
            raise InvalidTransition("close", Status.CLOSED)

    await submit(world, "MOVED2345G", wib("2026-03-02"))
    await world.project()
    ticker = Ticker(world.projector, MovedOn(world.store, world.clock), world.clock, RULES, 0.01)
    result = await ticker.tick(wib("2026-03-06"))
    [(key, outcome)] = [(k, o) for k, o in result.finished if k.startswith("sla:breach:")]
    assert key.startswith("sla:breach:verification:MOVED2345G") and outcome.startswith("obsolete")
    assert (await ticker.tick(wib("2026-03-07"))).finished == []  # remembered: not tried again


async def test_due_soon_is_signalled_once_and_the_gauge_counts_states(world: World) -> None:
    await submit(world, "SOONS2345H", wib("2026-03-02"))  # due Thursday 5 March
    await world.project()
    before = sample("lapor_sla_due_soon_total", {"stage": "verification"})
    ticker = world.ticker()
    await ticker.tick(wib("2026-03-03", 23))
    assert sample("lapor_sla_due_soon_total", {"stage": "verification"}) == before
    await ticker.tick(wib("2026-03-04", 0, 0, 1))
    await ticker.tick(wib("2026-03-04", 12))
    assert sample("lapor_sla_due_soon_total", {"stage": "verification"}) == before + 1
    assert sample("lapor_sla_deadlines", {"state": "due_soon"}) == 1
    assert sample("lapor_sla_deadlines", {"state": "overdue"}) == 0
    ticker.close()


async def test_deadlines_view_answers_by_state_at_read_time(world: World) -> None:
    await submit(world, "VIEWS2345J", datetime(2026, 3, 17, 2, 0, tzinfo=UTC))
    await world.project()
    with world.projector.transaction() as conn:
        [row] = conn.execute("SELECT * FROM deadlines WHERE stage = 'verification'").fetchall()
        assert views.deadline_json(row, wib("2026-03-25"))["state"] == "pending"
        assert views.deadline_json(row, wib("2026-03-26"))["state"] == "due_soon"
        overdue = views.deadline_json(row, wib("2026-03-28", 0, 0))
    assert overdue["state"] == "overdue"
    assert overdue["deadline"] == "2026-03-27T23:59:59.999999+07:00"
    assert overdue["due_soon_from"] == "2026-03-26T00:00:00+07:00"
