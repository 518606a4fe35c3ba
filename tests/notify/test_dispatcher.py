"""Exactly once, in one process: the outbox, retries, crashes and erasure, on a real SQLite store.

The test runs the dispatcher (its periodic job "dispatch") when it wants; "a crash" is cancelling
a run mid-send and starting a fresh dispatcher on the same files, which is what a restarted
process finds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from services.notify.bootstrap import create_projector
from services.notify.contacts import Contacts, StaffDirectory
from services.notify.dispatcher import Dispatcher
from services.notify.notices import Links
from services.notify.outbox import Outbox
from services.notify.reactions import Reactions
from services.notify.rendering import Renderer
from services.notify.settings import NotifySettings
from shared.calendar import WorkingDayCalendar
from shared.clock import SystemClock
from shared.reports.commands import VerifyReport
from shared.reports.policy import DEFAULT_POLICY
from shared.runtime.directory import LiveDirectory
from shared.senders.base import PermanentSendError, Sender, TransientSendError
from shared.settings import Settings
from shared.store.port import RecordedEvent
from shared.values import Channel
from tests.notify.harness import Hands, ScriptedSender
from tests.support import async_wait_for

SECRET = "dispatcher-test-secret"
PHONE = "+6281234500001"


class World:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.lapor = Hands.on(tmp, SECRET)
        self.settings = NotifySettings(
            notify_max_attempts=3,
            notify_retry_base_seconds=0.01,
            notify_retry_max_seconds=0.05,
            notify_send_timeout_seconds=0.2,  # how long a stop waits for a send on its way
        )
        self.position = 0
        self.outbox = Outbox(tmp / "notify_outbox.db")
        self.staff = StaffDirectory(SECRET.encode(), LiveDirectory(self.lapor.store))
        self.contacts = Contacts(self.lapor.store, self.lapor.keys, self.staff)

    def dispatcher(self, senders: dict[str, Sender]) -> Dispatcher:
        return Dispatcher(
            outbox=self.outbox,
            store=self.lapor.store,
            clock=SystemClock(),
            renderer=Renderer(),
            contacts=self.contacts,
            senders=senders,
            unconfigured={"email": "e-mail is not configured (LAPOR_SMTP_URL is not set)"},
            settings=self.settings,
        )

    def reactions(self) -> Reactions:
        return Reactions(
            store=self.lapor.store,
            outbox=self.outbox,
            clock=SystemClock(),
            staff=self.staff,
            contacts=self.contacts,
            links=Links("https://lapor.example"),
            calendar=WorkingDayCalendar.default(),
            policy=DEFAULT_POLICY,
        )

    async def new_events(self) -> list[RecordedEvent]:
        events = await self.lapor.store.read_all(self.position)
        if events:
            self.position = events[-1].position
        return [e for e in events if e.stream.startswith("report-")]

    async def react(self, times: int = 1) -> None:
        events = await self.new_events()
        for _ in range(times):  # a redelivery is the same event again
            for event in events:
                await self.reactions()(event)

    async def outcomes(self, tracking_id: str) -> list[RecordedEvent]:
        return await self.lapor.outcomes(tracking_id)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = World(tmp_path)
    yield w
    w.outbox.close()
    await w.lapor.close()


async def until(condition: Callable[[], Awaitable[Any]], what: str) -> Any:
    return await async_wait_for(condition, timeout=10, what=what)


async def dispatched(
    dispatcher: Dispatcher, condition: Callable[[], Awaitable[Any]], what: str
) -> Any:
    """Run the dispatcher (as the runtime does, every so often) until `condition` holds."""

    async def run_then_check() -> Any:
        await dispatcher.dispatch()
        return await condition()

    return await until(run_then_check, what)


@contextlib.asynccontextmanager
async def a_run(dispatcher: Dispatcher) -> AsyncIterator[asyncio.Task[int]]:
    """A run in the background; leaving the block stops it (as a process stop does)."""
    task = asyncio.create_task(dispatcher.dispatch())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_notice_is_sent_once_however_often_its_event_arrives(world: World) -> None:
    sms = ScriptedSender()
    dispatcher = world.dispatcher({"sms": sms})
    report = await world.lapor.submit(Channel.WEB, {"phone": PHONE})
    await world.react(times=3)
    [sent] = await dispatched(
        dispatcher, lambda: world.outcomes(report.tracking_id), "NotificationSent"
    )
    await world.react()  # and once more after it went out
    await dispatcher.dispatch()
    assert sent.event_type == "NotificationSent"
    assert sent.data["template"] == "received" and sent.data["attempts"] == 1
    assert sent.data["possible_duplicate"] is False
    assert sent.correlation_id == report.correlation_id  # carried from the report's event
    assert [(to, str(nid)) for to, _, nid in sms.sent] == [(PHONE, sent.data["notification_id"])]
    assert report.tracking_id in sms.sent[0][1]
    assert len(await world.outcomes(report.tracking_id)) == 1


async def test_transient_failures_are_retried_with_backoff(world: World) -> None:
    sms = ScriptedSender(failures=[TransientSendError("sendsms answered HTTP 503")] * 2)
    dispatcher = world.dispatcher({"sms": sms})
    report = await world.lapor.submit(Channel.WEB, {"phone": PHONE})
    await world.react()
    [sent] = await dispatched(
        dispatcher, lambda: world.outcomes(report.tracking_id), "NotificationSent"
    )
    assert (sent.event_type, sent.data["attempts"], sms.tries) == ("NotificationSent", 3, 3)


async def test_a_run_sends_what_is_due_and_leaves_a_backoff_to_a_later_run(world: World) -> None:
    world.settings.notify_retry_base_seconds = 30.0
    world.settings.notify_retry_max_seconds = 60.0
    sms = ScriptedSender(failures=[TransientSendError("sendsms answered HTTP 503")])
    dispatcher = world.dispatcher({"sms": sms})
    report = await world.lapor.submit(Channel.WEB, {"phone": PHONE})
    await world.react()
    assert await dispatcher.dispatch() == 1
    [row] = world.outbox.rows_for(report.tracking_id)
    assert (row.state, row.attempts, row.detail) == ("retrying", 1, "sendsms answered HTTP 503")
    assert row.next_attempt_epoch is not None
    assert 29 < row.next_attempt_epoch - time.time() <= 30  # the first backoff: the base
    assert await dispatcher.dispatch() == 0  # not due yet: the run sends nothing
    assert sms.tries == 1 and await world.outcomes(report.tracking_id) == []
    assert dispatcher.backoff(2) == 60.0 and dispatcher.backoff(5) == 60.0  # doubled, capped

    world.outbox.attempt_failed(row.notification_id, "sendsms answered HTTP 503", time.time())
    assert await dispatcher.dispatch() == 1  # due now
    [sent] = await world.outcomes(report.tracking_id)
    assert (sent.event_type, sent.data["attempts"], sms.tries) == ("NotificationSent", 2, 2)


async def test_a_channel_that_keeps_failing_ends_in_notification_failed(world: World) -> None:
    sms = ScriptedSender(failures=[TransientSendError("sendsms answered HTTP 503")] * 10)
    dispatcher = world.dispatcher({"sms": sms})
    report = await world.lapor.submit(Channel.WEB, {"phone": PHONE})
    await world.react()
    [failed] = await dispatched(
        dispatcher, lambda: world.outcomes(report.tracking_id), "NotificationFailed"
    )
    assert failed.event_type == "NotificationFailed"
    assert (failed.data["attempts"], sms.tries) == (3, 3)  # bounded
    assert failed.data["error"] == "sendsms answered HTTP 503"
    [row] = world.outbox.rows_for(report.tracking_id)
    assert (row.state, row.attempts, row.recorded) == ("failed", 3, True)


async def test_a_permanent_refusal_is_not_retried(world: World) -> None:
    sms = ScriptedSender(failures=[PermanentSendError("sendsms refused the message (HTTP 400)")])
    dispatcher = world.dispatcher({"sms": sms})
    report = await world.lapor.submit(Channel.WEB, {"phone": PHONE})
    await world.react()
    [failed] = await dispatched(
        dispatcher, lambda: world.outcomes(report.tracking_id), "NotificationFailed"
    )
    assert (failed.event_type, failed.data["attempts"]) == ("NotificationFailed", 1)


async def test_a_channel_without_configuration_fails_naming_the_setting(world: World) -> None:
    dispatcher = world.dispatcher({})
    report = await world.lapor.submit(Channel.WEB, {"email": "siti@example.com"})
    await world.react()
    [failed] = await dispatched(
        dispatcher, lambda: world.outcomes(report.tracking_id), "NotificationFailed"
    )
    assert "LAPOR_SMTP_URL" in failed.data["error"] and failed.data["attempts"] == 0


async def test_an_sms_reporters_receipt_is_the_sms_answer_and_only_recorded_for_the_page(
    world: World,
) -> None:
    sms = ScriptedSender()
    dispatcher = world.dispatcher({"sms": sms})
    report = await world.lapor.submit(Channel.SMS, {"phone": PHONE})
    await world.react()
    [sent] = await dispatched(
        dispatcher, lambda: world.outcomes(report.tracking_id), "NotificationSent"
    )
    assert (sent.data["channel"], sent.data["attempts"], sms.tries) == ("web", 0, 0)


async def test_an_erased_reporter_cannot_be_reached_and_that_is_not_a_failure(
    world: World,
) -> None:
    sms = ScriptedSender()
    dispatcher = world.dispatcher({"sms": sms})
    report = await world.lapor.submit(Channel.SMS, {"phone": PHONE})
    await world.lapor.do(report.tracking_id, VerifyReport())
    world.lapor.erase(report.tracking_id)
    await world.react()
    _receipt, skipped = await dispatched(
        dispatcher, lambda: _count(world.outcomes(report.tracking_id), 2), "two outcomes"
    ) and await world.outcomes(report.tracking_id)
    assert skipped.event_type == "NotificationSkipped"
    assert skipped.data["reason"] == "identity_erased"
    assert skipped.data["detail"] == "cannot reach reporter (identity erased)"
    assert sms.tries == 0


async def test_notices_to_one_reporter_keep_the_reports_order(world: World) -> None:
    sms = ScriptedSender(failures=[TransientSendError("busy")] * 2)
    dispatcher = world.dispatcher({"sms": sms})
    report = await world.lapor.submit(Channel.WEB, {"phone": PHONE})
    await world.lapor.do(report.tracking_id, VerifyReport())
    await world.react()
    await dispatched(
        dispatcher, lambda: _count(world.outcomes(report.tracking_id), 2), "two notices recorded"
    )
    assert ["diterima" in text for _, text, _ in sms.sent] == [True, False]
    assert "diverifikasi" in sms.sent[1][1]


async def test_one_run_sends_a_recipients_notices_one_after_another(world: World) -> None:
    sms = ScriptedSender()
    dispatcher = world.dispatcher({"sms": sms})
    report = await world.lapor.submit(Channel.WEB, {"phone": PHONE})
    await world.lapor.do(report.tracking_id, VerifyReport())
    await world.react()
    assert await dispatcher.dispatch() == 2  # the second became due when the first went out
    assert [e.data["template"] for e in await world.outcomes(report.tracking_id)] == [
        "received",
        "verified",
    ]


async def _count(outcomes: Awaitable[list[RecordedEvent]], n: int) -> bool:
    return len(await outcomes) >= n


async def test_a_crash_during_a_send_resends_and_flags_a_possible_duplicate(
    world: World,
) -> None:
    hanging = ScriptedSender(hold=asyncio.Event())
    dispatcher = world.dispatcher({"sms": hanging})
    report = await world.lapor.submit(Channel.WEB, {"phone": PHONE})
    await world.react()
    async with a_run(dispatcher):
        await asyncio.wait_for(hanging.entered.wait(), 10)  # the message is on its way: crash
    [row] = world.outbox.rows_for(report.tracking_id)
    assert (row.state, row.attempts) == ("sending", 1)

    sms = ScriptedSender()
    [sent] = await dispatched(
        world.dispatcher({"sms": sms}),
        lambda: world.outcomes(report.tracking_id),
        "NotificationSent",
    )
    assert sent.data["possible_duplicate"] is True and sent.data["attempts"] == 2
    assert len(sms.sent) == 1


async def test_a_graceful_stop_lets_a_send_on_its_way_finish(world: World) -> None:
    slow = ScriptedSender(hold=asyncio.Event())
    dispatcher = world.dispatcher({"sms": slow})
    report = await world.lapor.submit(Channel.WEB, {"phone": PHONE})
    await world.react()
    async with a_run(dispatcher) as task:
        await asyncio.wait_for(slow.entered.wait(), 10)
        task.cancel()  # SIGTERM: the service stops its periodic jobs
        assert slow.hold is not None
        slow.hold.set()  # the gateway answers within the grace period
    [row] = world.outbox.rows_for(report.tracking_id)
    assert (row.state, row.attempts, row.possible_duplicate) == ("sent", 1, False)

    again = ScriptedSender()
    [sent] = await dispatched(
        world.dispatcher({"sms": again}),
        lambda: world.outcomes(report.tracking_id),
        "NotificationSent",
    )
    assert sent.data["possible_duplicate"] is False and again.tries == 0


async def test_a_crash_after_the_send_records_it_without_sending_again(world: World) -> None:
    sms = ScriptedSender()
    report = await world.lapor.submit(Channel.WEB, {"phone": PHONE})
    await world.react()
    [row] = world.outbox.rows_for(report.tracking_id)
    world.outbox.begin_attempt(row.notification_id, "2026-03-02T08:00:00+00:00")
    world.outbox.finish(row.notification_id, "sent", "2026-03-02T08:00:01+00:00")  # then: crash

    [sent] = await dispatched(
        world.dispatcher({"sms": sms}),
        lambda: world.outcomes(report.tracking_id),
        "NotificationSent",
    )
    assert (sent.data["attempts"], sms.tries) == (1, 0)


async def test_a_lost_outbox_does_not_resend_what_the_store_records(world: World) -> None:
    sms = ScriptedSender()
    dispatcher = world.dispatcher({"sms": sms})
    report = await world.lapor.submit(Channel.WEB, {"phone": PHONE})
    events = await world.new_events()
    for event in events:
        await world.reactions()(event)
    await dispatched(dispatcher, lambda: world.outcomes(report.tracking_id), "NotificationSent")
    assert sms.tries == 1

    world.outbox.close()
    (world.tmp / "notify_outbox.db").unlink()
    world.outbox = Outbox(world.tmp / "notify_outbox.db")
    again = world.dispatcher({"sms": sms})
    for event in events:  # the consumer redelivers everything to a fresh outbox
        await world.reactions()(event)
    await dispatched(
        again,
        lambda: _recorded(world.outbox, report.tracking_id),
        "outcome adopted from the store",
    )
    assert sms.tries == 1
    assert len(await world.outcomes(report.tracking_id)) == 1


async def _recorded(outbox: Outbox, tracking_id: str) -> bool:
    rows = outbox.rows_for(tracking_id)
    return bool(rows) and all(r.recorded for r in rows)


async def test_a_crash_after_an_unsendable_notices_outcome_is_stored_records_it_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notice that ends without an attempt (here: e-mail not configured) has its outcome
    event stored before the outbox finishes it; dying in between, the next run adopts it."""
    report = await world.lapor.submit(Channel.WEB, {"email": "siti@example.com"})
    await world.react()

    async def crash(*args: object, **kwargs: object) -> bool:
        raise OSError("the process died here")

    monkeypatch.setattr(world.outbox, "settle_soon", crash)
    await world.dispatcher({}).dispatch()
    [stored] = await world.outcomes(report.tracking_id)
    [row] = world.outbox.rows_for(report.tracking_id)
    assert (stored.event_type, row.state, row.recorded) == ("NotificationFailed", "pending", False)

    monkeypatch.undo()  # the restart
    await dispatched(
        world.dispatcher({}),
        lambda: _recorded(world.outbox, report.tracking_id),
        "outcome adopted from the store",
    )
    assert [e.event_id for e in await world.outcomes(report.tracking_id)] == [stored.event_id]
    [row] = world.outbox.rows_for(report.tracking_id)
    assert (row.state, row.attempts, row.recorded) == ("failed", 0, True)
    assert "LAPOR_SMTP_URL" in (row.detail or "")


async def test_the_delivery_log_can_be_rebuilt_from_the_store(world: World) -> None:
    sms = ScriptedSender(failures=[PermanentSendError("sendsms refused the message (HTTP 400)")])
    dispatcher = world.dispatcher({"sms": sms})
    report = await world.lapor.submit(Channel.WEB, {"phone": PHONE})
    await world.lapor.do(report.tracking_id, VerifyReport())
    await world.react()
    await dispatched(
        dispatcher, lambda: _count(world.outcomes(report.tracking_id), 2), "two outcomes"
    )

    projector = create_projector(Settings(data_dir=world.tmp))
    try:
        assert await projector.rebuild(world.lapor.store) > 0
        rows = projector.conn.execute(
            "SELECT template, status, attempts, detail FROM notifications"
            " WHERE tracking_id = ? ORDER BY position",
            (report.tracking_id,),
        ).fetchall()
    finally:
        projector.close()
    assert [tuple(r) for r in rows] == [
        ("received", "failed", 1, "sendsms refused the message (HTTP 400)"),
        ("verified", "sent", 1, None),
    ]
