"""The system's own use of the store, on KurrentDB: one report's whole life through the shared
use case, and the relay publishing from KurrentDB to a real nats-server exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import nats
import pytest
from nats.js.client import JetStreamContext

from cli.audit import audit_store
from services.relay.relay import Checkpoint, Relay
from shared.clock import FixedClock
from shared.events.base import Actor
from shared.reports.commands import CloseReport, ForwardReport, PostFollowUp, VerifyReport
from shared.reports.events import CloseReason, FollowUpKind, Status
from shared.reports.lifecycle import stream_name
from shared.reports.tracking import new_tracking_id
from shared.runtime.messaging import POSITION_HEADER, STREAM_NAME, declare_event_stream, subject_for
from shared.runtime.repository import Meta, ReportRepository
from shared.store.kurrentdb import KurrentDbEventStore
from shared.store.port import NO_STREAM, WrongExpectedVersion
from tests.builders import ADMIN, AGENCY, CITIZEN, OFFICER, T0, submit_command
from tests.contract.store_contract import batch
from tests.kurrentdb_double import KurrentDbDouble
from tests.support import NatsServer, async_wait_for

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def store(double: KurrentDbDouble) -> AsyncIterator[KurrentDbEventStore]:
    opened = KurrentDbEventStore(double.url, retry_for=30, timeout=5)
    yield opened
    await opened.close()


async def test_a_report_goes_from_submission_to_closing_on_kurrentdb(
    store: KurrentDbEventStore,
) -> None:
    clock = FixedClock(T0)
    reports = ReportRepository(store, clock)
    tracking_id = new_tracking_id()
    citizen = Meta(actor=CITIZEN, correlation_id="corr-web-1", idempotency_key="web:form-1")

    submitted = await reports.execute(tracking_id, submit_command(tracking_id), citizen)
    assert await reports.execute(tracking_id, submit_command(tracking_id), citizen) == submitted

    clock.set(T0 + timedelta(hours=2))
    admin = Meta(actor=ADMIN, correlation_id="corr-desk-1")
    await reports.execute(tracking_id, VerifyReport(), admin)
    await reports.execute(
        tracking_id,
        ForwardReport(
            agency_code=AGENCY, agency_name="Dinas Kesehatan", follow_up_due=date(2026, 3, 9)
        ),
        admin,
    )
    clock.set(T0 + timedelta(days=1))
    officer = Meta(actor=OFFICER, correlation_id="corr-agency-1", idempotency_key="agency:fu-1")
    follow_up = PostFollowUp(agency_code=AGENCY, text="Sudah diperbaiki", kind=FollowUpKind.FINAL)
    posted = await reports.execute(tracking_id, follow_up, officer)
    assert await reports.execute(tracking_id, follow_up, officer) == posted  # a redelivery
    clock.set(T0 + timedelta(days=2))
    await reports.execute(tracking_id, CloseReport(reason=CloseReason.RESOLVED), admin)

    state, events = await reports.load(tracking_id)
    assert state is not None and state.status is Status.CLOSED
    assert state.agency_code == AGENCY
    assert [e.event_type for e in events] == [
        "ReportSubmitted",
        "ReportVerified",
        "ForwardedToOPD",
        "FollowUpPosted",
        "ReportClosed",
    ]
    assert [e.stream_version for e in events] == [1, 2, 3, 4, 5]
    assert events[3].correlation_id == "corr-agency-1"
    assert events[2].agency_code == AGENCY and events[0].region_code == "5371"
    audit = await audit_store(store, tracking_id)
    assert audit.problems == [] and audit.events == 5


async def test_two_desks_deciding_at_once_conflict_and_a_reaction_retries(
    store: KurrentDbEventStore, double: KurrentDbDouble
) -> None:
    tracking_id = new_tracking_id()
    other = KurrentDbEventStore(double.url)
    try:
        mine, theirs = (
            ReportRepository(store, FixedClock(T0)),
            ReportRepository(other, FixedClock(T0)),
        )
        await mine.execute(
            tracking_id, submit_command(tracking_id), Meta(actor=CITIZEN, correlation_id="c")
        )
        forward = ForwardReport(
            agency_code=AGENCY, agency_name="Dinas Kesehatan", follow_up_due=date(2026, 3, 9)
        )
        await mine.execute(tracking_id, VerifyReport(), Meta(actor=ADMIN, correlation_id="c"))
        results = await asyncio.gather(
            mine.execute(tracking_id, forward, Meta(actor=ADMIN, correlation_id="a")),
            theirs.execute(
                tracking_id,
                forward,
                Meta(actor=Actor(kind="system", id="routing"), correlation_id="b"),
                retry_on_conflict=True,
            ),
            return_exceptions=True,
        )
        assert not any(
            isinstance(r, BaseException) and not isinstance(r, WrongExpectedVersion)
            for r in results
        )
        events = await store.read(stream_name(tracking_id))
        assert [e.event_type for e in events].count("ForwardedToOPD") == 1
    finally:
        await other.close()


# --- the relay ---------------------------------------------------------------------------------
async def _run_relay(
    store: KurrentDbEventStore, js: JetStreamContext, checkpoint: Checkpoint
) -> tuple[asyncio.Task[None], asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.ensure_future(Relay(store, js, checkpoint, batch=50).run(stop))
    return task, stop


async def test_the_relay_publishes_every_kurrentdb_event_exactly_once_in_store_order(
    store: KurrentDbEventStore,
    double: KurrentDbDouble,
    fresh_nats: NatsServer,
    tmp_path: Path,
) -> None:
    nc = await nats.connect(fresh_nats.url)
    js = nc.jetstream()
    await declare_event_stream(js)
    double.append_system_event()
    appended = []
    for i in range(8):
        appended += await store.append(f"report-R{i}", batch(25, str(i)), NO_STREAM)
    checkpoint = Checkpoint(tmp_path / "relay.db")
    task, stop = await _run_relay(store, js, checkpoint)
    try:

        async def published(count: int) -> bool:
            return (await js.stream_info(STREAM_NAME)).state.messages >= count

        await async_wait_for(lambda: published(100), timeout=30, what="100 events in JetStream")
        # The relay stops mid-way (a deploy), more events arrive, and a new relay starts from
        # an older checkpoint (JetStream's last message knows better).
        stop.set()
        await asyncio.wait_for(task, 10)
        for i in range(8, 12):
            appended += await store.append(f"report-R{i}", batch(25, str(i)), NO_STREAM)
        double.append_system_event()
        checkpoint.save(appended[60].position)
        task, stop = await _run_relay(store, js, checkpoint)
        await async_wait_for(lambda: published(200), timeout=30, what="200 in JetStream")
        # The node restarts under the running relay, then more events arrive.
        double.stop()
        double.start()
        appended += await store.append("report-R0", batch(10, "late"), 25)
        total = len(appended)
        await async_wait_for(lambda: published(total), timeout=30, what=f"{total} in JetStream")
        stop.set()
        await asyncio.wait_for(task, 10)
        assert not task.exception()

        info = await js.stream_info(STREAM_NAME)
        assert info.state.messages == total, "JetStream holds a duplicate or lost an event"
        ids, positions, subjects_ok = [], [], True
        for seq in range(1, total + 1):
            msg = await js.get_msg(STREAM_NAME, seq=seq)
            assert msg.headers is not None
            ids.append(uuid.UUID(msg.headers["Nats-Msg-Id"]))
            positions.append(int(msg.headers[POSITION_HEADER]))
            subjects_ok &= msg.subject == subject_for(appended[seq - 1])
        assert ids == [e.event_id for e in appended]
        assert positions == [e.position for e in appended], "published out of store order"
        assert subjects_ok
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
        checkpoint.close()
        await nc.close()
