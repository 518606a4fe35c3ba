"""The report use case (load, decide, append) on a real SQLite store, told as stories."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from cli.audit import audit_store
from shared.clock import FixedClock
from shared.reports.commands import (
    AmendReport,
    CloseReport,
    Command,
    ForwardReport,
    PostFollowUp,
    RateReport,
    RecordBreach,
    ReplyAsReporter,
    ReturnReport,
    VerifyReport,
)
from shared.reports.events import (
    CloseReason,
    FollowUpPosted,
    ForwardedToOPD,
    Location,
    ReportClosed,
    ReporterReplied,
    ReportRated,
    ReportReopened,
    ReportReturned,
    ReportSubmitted,
    ReportVerified,
    SlaStage,
    Status,
)
from shared.reports.lifecycle import InvalidTransition, ReportNotFound
from shared.runtime.repository import Meta, ReportRepository, fixed_event_id
from shared.store.port import NewEvent, RecordedEvent, WrongExpectedVersion
from shared.store.sqlite import SqliteEventStore
from tests.builders import (
    ADMIN,
    AGENCY,
    CITIZEN,
    OFFICER,
    OTHER_AGENCY,
    REGION,
    SYSTEM,
    T0,
    TRACKING_ID,
    submit_command,
)

STREAM = f"report-{TRACKING_ID}"


def meta(actor: Any = ADMIN, key: str | None = None, **more: Any) -> Meta:
    return Meta(
        actor=actor,
        correlation_id=more.pop("correlation_id", "corr-1"),
        idempotency_key=key,
        **more,
    )


def forward(agency: str = AGENCY) -> ForwardReport:
    return ForwardReport(
        agency_code=agency, agency_name=f"Dinas {agency}", follow_up_due=date(2026, 3, 9)
    )


def types(events: Sequence[RecordedEvent]) -> list[str]:
    return [e.event_type for e in events]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteEventStore]:
    opened = SqliteEventStore(tmp_path / "events.db")
    yield opened
    await opened.close()


@pytest.fixture
def reports(store: SqliteEventStore, clock: FixedClock) -> ReportRepository:
    return ReportRepository(store, clock)


@pytest.fixture
async def submitted_report(reports: ReportRepository) -> None:
    await reports.execute(TRACKING_ID, submit_command(), meta(CITIZEN))


# --- the whole life of a report ------------------------------------------------------------------
async def test_a_report_goes_from_submission_to_closure(
    reports: ReportRepository, store: SqliteEventStore, clock: FixedClock
) -> None:
    # A citizen of Kota Kupang reports a pothole on the web.
    [submitted] = await reports.execute(
        TRACKING_ID, submit_command(), meta(CITIZEN, correlation_id="req-1")
    )
    assert submitted.event_type == "ReportSubmitted" and submitted.stream == STREAM
    assert (submitted.stream_version, submitted.occurred_at) == (1, T0)
    assert (submitted.region_code, submitted.agency_code) == (REGION, None)
    assert (submitted.correlation_id, submitted.causation_id) == ("req-1", "req-1")
    assert submitted.actor == CITIZEN

    # Next morning an administrator verifies it as it is.
    clock.set(T0 + timedelta(days=1))
    [verified] = await reports.execute(
        TRACKING_ID, VerifyReport(), meta(ADMIN, correlation_id="req-2")
    )
    assert verified.event_type == "ReportVerified" and verified.occurred_at == clock.now()

    # Routing forwards it to the health office (caused by the verification event).
    clock.set(T0 + timedelta(days=1, minutes=1))
    [forwarded] = await reports.execute(
        TRACKING_ID,
        forward(),
        meta(SYSTEM, correlation_id="req-2", causation_id=str(verified.event_id)),
    )
    assert (forwarded.region_code, forwarded.agency_code) == (REGION, AGENCY)
    assert forwarded.causation_id == str(verified.event_id)
    assert forwarded.correlation_id == "req-2"

    # The office posts a follow-up; the reporter answers it.
    clock.set(T0 + timedelta(days=3))
    [follow_up] = await reports.execute(
        TRACKING_ID, PostFollowUp(agency_code=AGENCY, text="Sudah ditambal."), meta(OFFICER)
    )
    assert follow_up.agency_code == AGENCY
    clock.set(T0 + timedelta(days=4))
    [reply] = await reports.execute(
        TRACKING_ID, ReplyAsReporter(text="Terima kasih, sudah rapi."), meta(CITIZEN)
    )
    assert reply.agency_code == AGENCY  # the office sees the answer on its subject

    # The reporter closes it and rates it well.
    clock.set(T0 + timedelta(days=5))
    [closed] = await reports.execute(
        TRACKING_ID, CloseReport(reason=CloseReason.BY_REPORTER), meta(CITIZEN)
    )
    [rated] = await reports.execute(
        TRACKING_ID, RateReport(rating=5, now=clock.now()), meta(CITIZEN)
    )

    state, events = await reports.load(TRACKING_ID)
    assert state is not None
    assert (state.status, state.agency_code, state.rating, state.version) == (
        Status.CLOSED,
        AGENCY,
        5,
        7,
    )
    assert state.closed_at == T0 + timedelta(days=5)
    assert events == [submitted, verified, forwarded, follow_up, reply, closed, rated]
    assert [type(e.payload()) for e in events] == [
        ReportSubmitted,
        ReportVerified,
        ForwardedToOPD,
        FollowUpPosted,
        ReporterReplied,
        ReportClosed,
        ReportRated,
    ]
    assert (await audit_store(store)).problems == []


async def test_a_report_that_does_not_exist_is_not_found(reports: ReportRepository) -> None:
    assert await reports.load(TRACKING_ID) == (None, [])
    with pytest.raises(ReportNotFound):
        await reports.execute(TRACKING_ID, VerifyReport(), meta())


@pytest.mark.usefixtures("submitted_report")
async def test_a_command_the_rules_refuse_stores_nothing(
    reports: ReportRepository, store: SqliteEventStore
) -> None:
    position = await store.last_position()
    with pytest.raises(InvalidTransition):
        await reports.execute(TRACKING_ID, forward(), meta())
    assert await store.last_position() == position


@pytest.mark.usefixtures("submitted_report")
async def test_a_repeated_command_without_a_key_stores_nothing_new(
    reports: ReportRepository, store: SqliteEventStore
) -> None:
    assert len(await reports.execute(TRACKING_ID, VerifyReport(), meta())) == 1
    position = await store.last_position()
    assert await reports.execute(TRACKING_ID, VerifyReport(), meta()) == []
    assert await store.last_position() == position


# --- envelopes name region and agency (for the NATS subject) -------------------------------------
@pytest.mark.usefixtures("submitted_report")
async def test_envelopes_carry_the_region_and_agency_the_report_has_after_each_event(
    reports: ReportRepository,
) -> None:
    [verified] = await reports.execute(
        TRACKING_ID, VerifyReport(region_code="5301", location=Location(region_code="5301")), meta()
    )
    assert (verified.region_code, verified.agency_code) == ("5301", None)
    [forwarded] = await reports.execute(TRACKING_ID, forward(), meta())
    assert (forwarded.region_code, forwarded.agency_code) == ("5301", AGENCY)
    # a return still names the agency it came from, so that agency's systems see it
    [returned] = await reports.execute(
        TRACKING_ID, ReturnReport(agency_code=AGENCY, reason="not_ours"), meta(OFFICER)
    )
    assert isinstance(returned.payload(), ReportReturned)
    assert (returned.region_code, returned.agency_code) == ("5301", AGENCY)
    [again] = await reports.execute(TRACKING_ID, forward(OTHER_AGENCY), meta())
    assert again.agency_code == OTHER_AGENCY


async def test_an_anonymous_report_without_a_location_has_no_region(
    reports: ReportRepository,
) -> None:
    [event] = await reports.execute(
        TRACKING_ID, submit_command(location=Location(), anonymous=True), meta(CITIZEN)
    )
    assert (event.region_code, event.agency_code) == (None, None)


# --- idempotency keys ----------------------------------------------------------------------------
@pytest.mark.usefixtures("submitted_report")
@pytest.mark.parametrize(
    ("setup", "command", "actor"),
    [
        ([], VerifyReport(), ADMIN),
        ([], AmendReport(text="Foto terlampir"), CITIZEN),
        ([VerifyReport(), forward()], PostFollowUp(agency_code=AGENCY, text="Dicek"), OFFICER),
        (
            [VerifyReport(), forward(), PostFollowUp(agency_code=AGENCY, text="Dicek")],
            ReplyAsReporter(text="Belum beres"),
            CITIZEN,
        ),
        ([VerifyReport()], CloseReport(reason=CloseReason.BY_ADMIN), ADMIN),
    ],
    ids=["verify", "amend", "follow-up", "reply", "close"],
)
async def test_a_retried_request_with_its_idempotency_key_returns_the_same_events(
    reports: ReportRepository,
    store: SqliteEventStore,
    setup: list[Command],
    command: Command,
    actor: Any,
) -> None:
    for step in setup:
        await reports.execute(TRACKING_ID, step, meta())
    first = await reports.execute(TRACKING_ID, command, meta(actor, key="http-abc"))
    assert len(first) == 1
    assert first[0].event_id == fixed_event_id(STREAM, "http-abc", 0)
    position = await store.last_position()
    again = await reports.execute(TRACKING_ID, command, meta(actor, key="http-abc"))
    assert again == first
    assert await store.last_position() == position


@pytest.mark.usefixtures("submitted_report")
async def test_a_key_still_finds_its_events_after_later_ones(
    reports: ReportRepository, store: SqliteEventStore
) -> None:
    first = await reports.execute(TRACKING_ID, AmendReport(text="Foto"), meta(CITIZEN, key="k1"))
    await reports.execute(TRACKING_ID, AmendReport(text="Foto lain"), meta(CITIZEN, key="k2"))
    await reports.execute(TRACKING_ID, VerifyReport(), meta(ADMIN, key="k3"))
    position = await store.last_position()
    assert (
        await reports.execute(TRACKING_ID, AmendReport(text="Foto"), meta(CITIZEN, key="k1"))
        == first
    )
    assert await store.last_position() == position


async def test_a_command_of_several_events_is_replayed_whole(
    reports: ReportRepository, store: SqliteEventStore, clock: FixedClock
) -> None:
    await reports.execute(TRACKING_ID, submit_command(), meta(CITIZEN))
    for step in (VerifyReport(), forward(), CloseReport(reason=CloseReason.RESOLVED)):
        await reports.execute(TRACKING_ID, step, meta())
    rate = RateReport(rating=1, comment="Tidak ada perbaikan", now=T0 + timedelta(days=2))
    first = await reports.execute(TRACKING_ID, rate, meta(CITIZEN, key="rate-1"))
    assert [e.event_type for e in first] == ["ReportRated", "ReportReopened"]
    assert isinstance(first[0].payload(), ReportRated)
    assert isinstance(first[1].payload(), ReportReopened)
    assert [e.event_id for e in first] == [
        fixed_event_id(STREAM, "rate-1", 0),
        fixed_event_id(STREAM, "rate-1", 1),
    ]
    position = await store.last_position()
    assert await reports.execute(TRACKING_ID, rate, meta(CITIZEN, key="rate-1")) == first
    # ... and without the key the repeat is recognised by the rules
    assert await reports.execute(TRACKING_ID, rate, meta(CITIZEN)) == []
    assert await store.last_position() == position


async def test_a_retried_submission_stores_one_report(
    reports: ReportRepository, store: SqliteEventStore
) -> None:
    first = await reports.execute(TRACKING_ID, submit_command(), meta(CITIZEN, key="submit|x"))
    again = await reports.execute(TRACKING_ID, submit_command(), meta(CITIZEN, key="submit|x"))
    assert again == first
    assert await reports.execute(TRACKING_ID, submit_command(), meta(CITIZEN)) == []
    assert len(await store.read(STREAM)) == 1


async def test_the_same_key_on_two_reports_gives_two_independent_sets_of_events(
    reports: ReportRepository,
) -> None:
    one = await reports.execute("ONE2222222", submit_command("ONE2222222"), meta(CITIZEN, key="k"))
    two = await reports.execute("TWO3333333", submit_command("TWO3333333"), meta(CITIZEN, key="k"))
    assert one[0].event_id != two[0].event_id
    assert one[0].stream == "report-ONE2222222" and two[0].stream == "report-TWO3333333"


# --- concurrent writers --------------------------------------------------------------------------
class Interleaved:
    """The real store, with another writer slipping in between our read and our append: the race
    every service meets, made deterministic. Everything else goes straight to the store."""

    def __init__(self, store: SqliteEventStore) -> None:
        self.store = store
        self.interlopers: list[Callable[[], Awaitable[object]]] = []

    async def read(self, stream: str) -> list[RecordedEvent]:
        events = await self.store.read(stream)
        if self.interlopers:
            await self.interlopers.pop(0)()
        return events

    async def append(
        self, stream: str, events: Sequence[NewEvent], expected_version: int | None
    ) -> list[RecordedEvent]:
        return await self.store.append(stream, events, expected_version)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@pytest.fixture
def racing(store: SqliteEventStore, clock: FixedClock) -> tuple[ReportRepository, Interleaved]:
    interleaved = Interleaved(store)
    return ReportRepository(interleaved, clock), interleaved


@pytest.mark.usefixtures("submitted_report")
async def test_a_conflict_without_retry_raises_and_stores_nothing_of_ours(
    reports: ReportRepository,
    racing: tuple[ReportRepository, Interleaved],
    store: SqliteEventStore,
) -> None:
    mine, interleaved = racing
    interleaved.interlopers.append(
        lambda: reports.execute(TRACKING_ID, AmendReport(text="dari reporter"), meta(CITIZEN))
    )
    with pytest.raises(WrongExpectedVersion) as conflict:
        await mine.execute(TRACKING_ID, VerifyReport(), meta(ADMIN))
    assert (conflict.value.expected, conflict.value.actual) == (1, 2)
    assert [e.event_type for e in await store.read(STREAM)] == ["ReportSubmitted", "ReportAmended"]


@pytest.mark.usefixtures("submitted_report")
async def test_a_conflict_with_retry_decides_again_on_the_new_history(
    reports: ReportRepository, racing: tuple[ReportRepository, Interleaved], store: SqliteEventStore
) -> None:
    mine, interleaved = racing
    interleaved.interlopers.append(
        lambda: reports.execute(TRACKING_ID, AmendReport(text="dari reporter"), meta(CITIZEN))
    )
    [verified] = await mine.execute(
        TRACKING_ID, VerifyReport(), meta(ADMIN), retry_on_conflict=True
    )
    assert verified.stream_version == 3
    assert types(await store.read(STREAM)) == ["ReportSubmitted", "ReportAmended", "ReportVerified"]


@pytest.mark.usefixtures("submitted_report")
async def test_a_conflict_with_retry_yields_nothing_when_the_other_writer_did_the_same(
    reports: ReportRepository, racing: tuple[ReportRepository, Interleaved], store: SqliteEventStore
) -> None:
    """Two admins verify at once: the second finds it verified and adds nothing."""
    mine, interleaved = racing
    interleaved.interlopers.append(
        lambda: reports.execute(TRACKING_ID, VerifyReport(), meta(ADMIN))
    )
    assert (
        await mine.execute(TRACKING_ID, VerifyReport(), meta(ADMIN), retry_on_conflict=True) == []
    )
    assert types(await store.read(STREAM)) == ["ReportSubmitted", "ReportVerified"]


@pytest.mark.usefixtures("submitted_report")
async def test_a_retry_that_meets_a_refusal_raises_the_domain_error(
    reports: ReportRepository, racing: tuple[ReportRepository, Interleaved]
) -> None:
    """The admin forwards while another admin closes it: the retry sees a closed report."""
    await reports.execute(TRACKING_ID, VerifyReport(), meta())
    mine, interleaved = racing
    interleaved.interlopers.append(
        lambda: reports.execute(TRACKING_ID, CloseReport(reason=CloseReason.BY_ADMIN), meta())
    )
    with pytest.raises(InvalidTransition):
        await mine.execute(TRACKING_ID, forward(), meta(), retry_on_conflict=True)


@pytest.mark.usefixtures("submitted_report")
async def test_retries_give_up_after_the_attempts_allowed(
    reports: ReportRepository, racing: tuple[ReportRepository, Interleaved], store: SqliteEventStore
) -> None:
    mine, interleaved = racing

    def amendment(n: int) -> Callable[[], Awaitable[object]]:
        return lambda: reports.execute(
            TRACKING_ID, AmendReport(text=f"tambahan {n}"), meta(CITIZEN)
        )

    interleaved.interlopers += [amendment(n) for n in range(3)]
    with pytest.raises(WrongExpectedVersion):
        await mine.execute(
            TRACKING_ID, VerifyReport(), meta(ADMIN), retry_on_conflict=True, attempts=3
        )
    assert "ReportVerified" not in types(await store.read(STREAM))


@pytest.mark.usefixtures("submitted_report")
async def test_a_retried_request_racing_itself_stores_its_events_once(
    reports: ReportRepository, racing: tuple[ReportRepository, Interleaved], store: SqliteEventStore
) -> None:
    """The same HTTP request arrives twice at once (a client retry): same key, same ids."""
    mine, interleaved = racing
    interleaved.interlopers.append(
        lambda: reports.execute(TRACKING_ID, AmendReport(text="Foto"), meta(CITIZEN, key="k"))
    )
    ours = await mine.execute(TRACKING_ID, AmendReport(text="Foto"), meta(CITIZEN, key="k"))
    assert types(await store.read(STREAM)) == ["ReportSubmitted", "ReportAmended"]
    assert ours == (await store.read(STREAM))[1:]


@pytest.mark.usefixtures("submitted_report")
async def test_a_person_is_not_bounced_by_the_systems_own_work(
    reports: ReportRepository, racing: tuple[ReportRepository, Interleaved], store: SqliteEventStore
) -> None:
    """The sla ticker records a breach between the admin's read and append: the admin's
    command is decided again on the new state and succeeds (no 409 for the machine's work)."""
    mine, interleaved = racing
    interleaved.interlopers.append(
        lambda: reports.execute(
            TRACKING_ID,
            RecordBreach(stage=SlaStage.VERIFICATION, due=date(2026, 3, 5)),
            meta(SYSTEM),
        )
    )
    [verified] = await mine.execute(TRACKING_ID, VerifyReport(), meta(ADMIN))
    assert verified.stream_version == 3
    assert types(await store.read(STREAM)) == ["ReportSubmitted", "SlaBreached", "ReportVerified"]


# --- a new tracking id: appended without reading an empty stream first ------------------------
async def test_a_submission_under_a_new_tracking_id_is_stored_without_reading_the_stream(
    reports: ReportRepository, store: SqliteEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    read = store.read

    async def counted(stream: str) -> list[RecordedEvent]:
        reads.append(stream)
        return await read(stream)

    monkeypatch.setattr(store, "read", counted)
    stored = await reports.execute(TRACKING_ID, submit_command(), meta(CITIZEN), new_stream=True)

    assert types(stored) == ["ReportSubmitted"]
    assert reads == []
    assert types(await read(STREAM)) == ["ReportSubmitted"]


@pytest.mark.usefixtures("submitted_report")
async def test_a_new_tracking_id_that_names_a_report_already_is_decided_on_that_report(
    reports: ReportRepository, store: SqliteEventStore
) -> None:
    position = await store.last_position()
    # As without the hint: the stream is read and the command decided on what it holds (the
    # report is submitted already: nothing to do), and nothing is stored over it.
    assert await reports.execute(TRACKING_ID, submit_command(), meta(CITIZEN)) == []
    assert (
        await reports.execute(TRACKING_ID, submit_command(), meta(CITIZEN), new_stream=True) == []
    )
    assert await store.last_position() == position
    assert types(await store.read(STREAM)) == ["ReportSubmitted"]
