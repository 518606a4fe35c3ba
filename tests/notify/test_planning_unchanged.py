"""Every notice a citizen or officer receives is the same, word for word, whichever way notify
plans it: the reactions parse each event once and derive a report's deadlines only for the events
whose notices quote a date, and what they plan (recipient, channel, template, language, the dates
and times in the report's zone) and the messages rendered from it must equal what the full
derivation of every date, with each event parsed anew, gives for the same lifecycles."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from services.notify.contacts import Contacts, StaffDirectory, Unreachable, reporter_channel
from services.notify.notices import NOTIFYING, Dates, Links, Notice, plan, report_facts
from services.notify.outbox import Outbox
from services.notify.reactions import Reactions, _first_due, _open_due
from services.notify.rendering import Renderer
from shared.calendar import WorkingDayCalendar
from shared.clock import SystemClock
from shared.crypto import KeyStore
from shared.events.base import Actor
from shared.reports.commands import PostFollowUp, RecordBreach
from shared.reports.deadlines import Stage, derive
from shared.reports.events import FollowUpKind, SlaStage
from shared.reports.facts import facts_of
from shared.reports.policy import DEFAULT_POLICY
from shared.runtime.directory import LiveDirectory
from shared.runtime.repository import Meta, ReportRepository
from shared.senders.base import PermanentSendError
from shared.store.port import RecordedEvent
from shared.store.sqlite import SqliteEventStore
from tests.view_batches import generated_events

SECRET = b"planning-unchanged-secret"
LINKS = Links("https://lapor.example", desk_base_url="https://desk.lapor.example")


def every_date(history: list[RecordedEvent], event: RecordedEvent, tracking_id: str) -> Dates:
    """Each date a notice could quote, derived in full (as notify did for every event)."""
    calendar = WorkingDayCalendar.default()
    deadlines = derive(tracking_id, facts_of(history), calendar, DEFAULT_POLICY)
    return Dates(
        verification_due=_first_due(deadlines, Stage.VERIFICATION),
        completion_closes_on=_open_due(deadlines, Stage.COMPLETION_EXPIRY),
        auto_close_on=_open_due(deadlines, Stage.AUTO_CLOSE),
        reforward_due=_open_due(deadlines, Stage.REFORWARD),
        escalation_opens_on=deadlines.escalation_eligibility(event.occurred_at).opens_on,
    )


def as_planned(notice: Notice) -> tuple[Any, ...]:
    return (
        str(notice.notification_id),
        notice.recipient_kind,
        notice.recipient_ref,
        notice.channel.value,
        notice.template,
        notice.language,
        json.loads(json.dumps(notice.context, sort_keys=True)),
    )


@pytest.fixture
def stored(tmp_path: Path) -> list[RecordedEvent]:
    """Realistic lifecycles (the bench's generator), interleaved, in tmp_path/events.db."""
    return generated_events(tmp_path, reports=150, seed=21)


async def test_the_notices_of_many_lifecycles_are_planned_and_worded_as_before(
    tmp_path: Path, stored: list[RecordedEvent]
) -> None:
    store = SqliteEventStore(tmp_path / "events.db")
    keys = KeyStore(tmp_path / "keys.db", SECRET)
    outbox = Outbox(tmp_path / "notify_outbox.db")
    staff = StaffDirectory(SECRET, LiveDirectory(store))
    contacts = Contacts(store, keys, staff)
    reactions = Reactions(
        store=store,
        outbox=outbox,
        clock=SystemClock(),
        staff=staff,
        contacts=contacts,
        links=LINKS,
        calendar=WorkingDayCalendar.default(),
        policy=DEFAULT_POLICY,
    )
    renderer = Renderer()
    try:
        # sla's follow-up breaches on the reports an institution holds: the reporter is told
        # when escalation to the Ombudsman opens (a date derived from the deadlines).
        reports = ReportRepository(store, SystemClock())
        last: dict[str, RecordedEvent] = {e.stream: e for e in stored}
        held = [e for e in last.values() if e.event_type in ("ForwardedToOPD", "FollowUpPosted")]
        for event in held[:12]:
            breach = RecordBreach(stage=SlaStage.FOLLOW_UP, due=event.occurred_at.date())
            await reports.execute(
                event.stream.removeprefix("report-"),
                breach,
                Meta(actor=Actor(kind="system", id="sla"), correlation_id=f"t-{event.stream}"),
            )
        # Final answers on others: the reporter is told the day the report closes by itself.
        for event in held[12:24]:
            final = PostFollowUp(
                agency_code=event.agency_code or "",
                text="Jalan sudah diperbaiki.",
                kind=FollowUpKind.FINAL,
            )
            await reports.execute(
                event.stream.removeprefix("report-"),
                final,
                Meta(actor=Actor(kind="agency", id="officer"), correlation_id=f"f-{event.stream}"),
            )
        stored = await store.read_all(0, 100_000)
        expected: dict[str, tuple[Any, ...]] = {}
        histories: dict[str, list[RecordedEvent]] = {}
        for event in stored:
            if not event.stream.startswith("report-"):
                continue
            history = histories.setdefault(event.stream, [])
            history.append(event)
            await reactions(event)
            if event.event_type not in NOTIFYING:
                continue
            facts = report_facts(list(history))
            assert facts is not None
            try:
                contact = await contacts.reporter_contact(facts.tracking_id)
                channel = reporter_channel(facts.reporter_channel, contact)
            except (Unreachable, PermanentSendError):  # erased or unreadable: as it wrote
                channel = facts.reporter_channel
            for notice in plan(
                event,
                facts,
                staff,
                LINKS,
                reporter_channel=channel,
                dates=every_date(list(history), event, facts.tracking_id),
            ):
                expected[str(notice.notification_id)] = as_planned(notice)

        rows = outbox.rows_for(limit=100_000)
        planned = {
            str(r.notification_id): (
                str(r.notification_id),
                r.recipient_kind,
                r.recipient_ref,
                r.channel,
                r.template,
                r.language,
                r.context,
            )
            for r in rows
        }
        assert planned == expected
        # The lifecycles hold the notices that quote dates, and the messages are the same.
        templates = Counter(r.template for r in rows)
        assert {"received", "completion_requested", "follow_up", "escalation_possible"} <= set(
            templates
        ), templates
        assert any(r.context.get("closes_on") for r in rows if r.template == "follow_up")
        for key, (_, _, _, _, template, language, context) in expected.items():
            assert renderer.render(template, language, context) == renderer.render(
                planned[key][4], planned[key][5], planned[key][6]
            )
    finally:
        outbox.close()
        keys.close()
        await store.close()
