"""Notify's reaction to events: plan the notices of a report event into the outbox (the
dispatcher's next run sends them), and keep the live directory current from the `directory`
stream (who the liaison officers, administrators and Ombudsman offices are).

Idempotent by construction: notice ids are deterministic and the outbox ignores an id it already
holds, so a redelivered event (after a crash before the checkpoint moved) plans nothing new. No
message is sent here, so a slow or broken channel never holds up the event stream.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from services.notify.contacts import Contacts, StaffDirectory, Unreachable, reporter_channel
from services.notify.notices import DATED, NOTIFYING, Dates, Links, ReportFacts, plan, report_facts
from services.notify.outbox import Outbox
from shared.calendar import WorkingDayCalendar, local_date, timezone_for_region
from shared.clock import Clock
from shared.directory.events import DIRECTORY_STREAM
from shared.events.base import DomainEvent
from shared.logs import get_logger
from shared.notifications.events import NotificationChannel
from shared.reports.deadlines import ReportDeadlines, Stage, derive
from shared.reports.deadlines import Status as DeadlineStatus
from shared.reports.facts import RELEVANT_EVENT_TYPES, Fact, fact_of
from shared.reports.policy import SlaPolicy
from shared.senders.base import PermanentSendError
from shared.store.port import EventStore, RecordedEvent

log = get_logger(__name__)
REMEMBERED_CHANNELS = 10_000
REMEMBERED_SUBMISSION_DAYS = 4096  # (region, day) pairs: the country's regions over a few days


@dataclass(kw_only=True, eq=False)
class Reactions:
    store: EventStore
    outbox: Outbox
    clock: Clock
    staff: StaffDirectory
    contacts: Contacts
    links: Links
    calendar: WorkingDayCalendar
    policy: SlaPolicy
    _channels: OrderedDict[str, NotificationChannel] = field(
        default_factory=OrderedDict, init=False, repr=False
    )
    _submission_dates: OrderedDict[tuple[str | None, date], Dates] = field(
        default_factory=OrderedDict, init=False, repr=False
    )

    async def __call__(self, event: RecordedEvent) -> None:
        if event.stream == DIRECTORY_STREAM:
            if not self.staff.live.observe(event):
                await self.staff.live.refresh()
            return
        if not event.stream.startswith("report-") or event.event_type not in NOTIFYING:
            return
        if event.stream_version == 1:
            history = [event]  # a report's first event (its submission) is its whole history
        else:
            history = [
                e
                for e in await self.store.read(event.stream)
                if e.stream_version <= event.stream_version
            ]
        payloads = [e.payload() for e in history]  # parsed once for all that follows
        facts = report_facts(history, payloads)
        if facts is None:
            log.warning("notify_report_without_submission", event_type=event.event_type)
            return
        await self.staff.ready()
        notices = plan(
            event,
            facts,
            self.staff,
            self.links,
            reporter_channel=await self._reporter_channel(facts, history[0], payloads[0]),
            dates=self._dates(facts, history, payloads, event),
            payload=payloads[-1] if history[-1].event_id == event.event_id else None,
        )
        if not notices:
            return
        added = await self.outbox.enqueue_soon(notices, self.clock.now().isoformat())
        if added:
            log.info(
                "notices_planned",
                tracking_id=facts.tracking_id,
                event_type=event.event_type,
                count=added,
                correlation_id=event.correlation_id,
            )

    async def _reporter_channel(
        self, facts: ReportFacts, first: RecordedEvent, submitted: DomainEvent
    ) -> NotificationChannel:
        wrote_on = facts.reporter_channel
        if wrote_on is not NotificationChannel.WEB or not facts.has_reporter:
            return wrote_on
        known = self._channels.get(facts.tracking_id)
        if known is not None:
            self._channels.move_to_end(facts.tracking_id)
            return known
        try:
            contact = await self.contacts.reporter_contact(facts.tracking_id, first, submitted)
        except (Unreachable, PermanentSendError):
            return NotificationChannel.WEB  # erased or unreadable: the report page only
        channel = reporter_channel(wrote_on, contact)
        self._channels[facts.tracking_id] = channel
        while len(self._channels) > REMEMBERED_CHANNELS:
            self._channels.popitem(last=False)
        return channel

    def _dates(
        self,
        facts: ReportFacts,
        history: Sequence[RecordedEvent],
        payloads: Sequence[DomainEvent],
        event: RecordedEvent,
    ) -> Dates:
        """The dates the event's notices quote (`DATED`), from the report's deadlines; the
        deadlines are derived only for events whose notices quote one."""
        wanted = DATED.get(event.event_type)
        if not wanted:
            return Dates()
        try:
            facts_so_far = _facts(history, payloads)
            # A lone submission's dates (its verification due day) depend only on its region
            # and its local day there, with this process's calendar and policy: derived once
            # per pair.
            lone = len(facts_so_far) == 1 and event.event_type == "ReportSubmitted"
            if lone:
                region = facts_so_far[0].region_code
                key = (region, local_date(event.occurred_at, timezone_for_region(region)))
                known = self._submission_dates.get(key)
                if known is not None:
                    return known
            deadlines = derive(facts.tracking_id, facts_so_far, self.calendar, self.policy)
        except Exception as error:  # dates decorate a notice: never lose the notice for them
            log.warning("notify_deadlines_unavailable", error_type=type(error).__name__)
            return Dates()
        dates = Dates(
            verification_due=_first_due(deadlines, Stage.VERIFICATION),
            completion_closes_on=_open_due(deadlines, Stage.COMPLETION_EXPIRY),
            auto_close_on=_open_due(deadlines, Stage.AUTO_CLOSE),
            reforward_due=_open_due(deadlines, Stage.REFORWARD),
            escalation_opens_on=(
                deadlines.escalation_eligibility(event.occurred_at).opens_on
                if "escalation_opens_on" in wanted
                else None
            ),
        )
        if lone:
            self._submission_dates[key] = dates
            while len(self._submission_dates) > REMEMBERED_SUBMISSION_DAYS:
                self._submission_dates.popitem(last=False)
        return dates


def _facts(history: Sequence[RecordedEvent], payloads: Sequence[DomainEvent]) -> list[Fact]:
    """`facts_of(history)`, from payloads parsed already."""
    facts = (
        fact_of(
            payload,
            version=event.stream_version,
            at=event.occurred_at,
            event_id=str(event.event_id),
            correlation_id=event.correlation_id,
        )
        for event, payload in zip(history, payloads, strict=True)
        if event.event_type in RELEVANT_EVENT_TYPES
    )
    return [f for f in facts if f is not None]


def _first_due(deadlines: ReportDeadlines, stage: Stage) -> date | None:
    found = deadlines.of_stage(stage)
    return found[0].due if found else None


def _open_due(deadlines: ReportDeadlines, stage: Stage) -> date | None:
    for deadline in reversed(deadlines.of_stage(stage)):
        if deadline.status is DeadlineStatus.OPEN:
            return deadline.due
    return None
