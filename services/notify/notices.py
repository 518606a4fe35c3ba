"""Which notices a report event causes, and to whom. Pure: no I/O, no clock, no contact details.

A notice names its recipient by kind (the reporter, or one liaison officer of an agency) and the
channel it goes out on; the address itself is looked up only when it is sent. Its id is
deterministic, uuid5(cause event id, "kind|channel[|officer ref]"), so the same event planned twice
(a redelivery, a restart) gives the same notices.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from shared.notifications.events import NotificationChannel, RecipientKind
from shared.reports.events import (
    EscalatedToOmbudsman,
    FollowUpKind,
    FollowUpPosted,
    ForwardedToOPD,
    ReportClosed,
    ReportCompletionRequested,
    ReportRejected,
    ReportSubmitted,
    ReportTransferred,
    ReportVerified,
    SlaBreached,
    SlaStage,
)
from shared.store.port import RecordedEvent
from shared.values import Channel

# The channel a reporter wrote on is the channel they hear back on. Web, mobile, Open311 and
# walk-in reporters read their notices on the report page.
REPORTER_CHANNEL: dict[Channel, NotificationChannel] = {
    Channel.SMS: NotificationChannel.SMS,
    Channel.EMAIL: NotificationChannel.EMAIL,
    Channel.WHATSAPP: NotificationChannel.WHATSAPP,
    Channel.FACEBOOK: NotificationChannel.MESSENGER,
    Channel.INSTAGRAM: NotificationChannel.INSTAGRAM,
    Channel.TWITTER: NotificationChannel.X,
}

# Report events that cause a notice (everything else is ignored).
NOTIFYING = frozenset(
    {
        "ReportSubmitted",
        "ReportCompletionRequested",
        "ReportVerified",
        "ForwardedToOPD",
        "ReportTransferred",
        "FollowUpPosted",
        "ReportClosed",
        "ReportRejected",
        "SlaBreached",
        "EscalatedToOmbudsman",
    }
)

REPORTER_TEMPLATES = (
    "received",
    "completion_requested",
    "verified",
    "forwarded",
    "follow_up",
    "question",
    "closed",
    "rejected",
    "escalation_possible",
    "escalated",
)
OFFICER_TEMPLATES = ("officer_forwarded", "officer_sla_breached")


@dataclass(frozen=True)
class ReportFacts:
    """What notify needs to know about a report, as of the event being notified."""

    tracking_id: str
    channel: Channel
    language: str
    has_reporter: bool
    title: str
    category: str | None
    region_code: str | None
    agency_code: str | None = None
    agency_name: str | None = None

    @property
    def reporter_channel(self) -> NotificationChannel:
        if not self.has_reporter:
            return NotificationChannel.WEB
        return REPORTER_CHANNEL.get(self.channel, NotificationChannel.WEB)


def report_facts(history: Sequence[RecordedEvent]) -> ReportFacts | None:
    """Fold the report's stream (up to and including the event being notified)."""
    facts: ReportFacts | None = None
    for event in history:
        payload = event.payload()
        if isinstance(payload, ReportSubmitted):
            if facts is None:
                facts = ReportFacts(
                    tracking_id=payload.tracking_id,
                    channel=payload.channel,
                    language=payload.language,
                    has_reporter=payload.reporter is not None,
                    title=payload.title,
                    category=payload.category,
                    region_code=payload.location.region_code,
                )
            continue
        if facts is None:
            continue
        if isinstance(payload, ReportVerified):
            facts = replace(facts, category=payload.category, region_code=payload.region_code)
        elif isinstance(payload, ForwardedToOPD):
            facts = replace(facts, agency_code=payload.agency_code, agency_name=payload.agency_name)
        elif isinstance(payload, ReportTransferred):
            facts = replace(
                facts, agency_code=payload.to_agency, agency_name=payload.to_agency_name
            )
    return facts


@dataclass(frozen=True)
class Officer:
    """A liaison officer who gets notices by e-mail. `ref` names them without their address."""

    ref: str
    email: str


OfficerLookup = Callable[[str], Sequence[Officer]]


@dataclass(frozen=True)
class Notice:
    notification_id: uuid.UUID
    tracking_id: str
    cause_event_id: uuid.UUID
    cause_event_type: str
    cause_position: int
    correlation_id: str
    recipient_kind: RecipientKind
    recipient_ref: str
    agency_code: str | None
    channel: NotificationChannel
    template: str
    language: str
    context: dict[str, Any] = field(default_factory=dict)


def notification_id(
    cause_event_id: uuid.UUID, recipient_kind: str, channel: NotificationChannel, ref: str = ""
) -> uuid.UUID:
    name = f"{recipient_kind}|{channel.value}" + (f"|{ref}" if ref else "")
    return uuid.uuid5(cause_event_id, name)


@dataclass(frozen=True)
class Links:
    public_base_url: str

    def report(self, tracking_id: str) -> str:
        return f"{self.public_base_url.rstrip('/')}/reports/{tracking_id}"


def plan(
    event: RecordedEvent, facts: ReportFacts, officers: OfficerLookup, links: Links
) -> list[Notice]:
    """The notices one report event causes (none for events nobody is told about)."""
    if event.event_type not in NOTIFYING:
        return []
    payload = event.payload()
    base = {
        "tracking_id": facts.tracking_id,
        "title": facts.title,
        "report_url": links.report(facts.tracking_id),
        "channel": facts.reporter_channel.value,
    }
    notices: list[Notice] = []

    def reporter(template: str, **context: Any) -> None:
        notices.append(
            _notice(
                event,
                facts,
                "reporter",
                "",
                None,
                facts.reporter_channel,
                template,
                facts.language,
                base | context,
            )
        )

    def officers_of(agency_code: str | None, template: str, **context: Any) -> None:
        if not agency_code:
            return
        officer_context = {
            "tracking_id": facts.tracking_id,
            "title": facts.title,
            "category": facts.category,
            "region_code": facts.region_code,
            "report_url": links.report(facts.tracking_id),
            "channel": NotificationChannel.EMAIL.value,
            "agency_code": agency_code,
        } | context
        for officer in officers(agency_code):
            notices.append(
                _notice(
                    event,
                    facts,
                    "officer",
                    officer.ref,
                    agency_code,
                    NotificationChannel.EMAIL,
                    template,
                    "id",
                    officer_context,
                )
            )

    match payload:
        case ReportSubmitted():
            reporter("received")
        case ReportCompletionRequested():
            reporter("completion_requested", note=payload.note)
        case ReportVerified():
            reporter("verified")
        case ForwardedToOPD():
            due = payload.follow_up_due.isoformat()
            reporter("forwarded", agency_name=payload.agency_name, follow_up_due=due)
            officers_of(
                payload.agency_code,
                "officer_forwarded",
                agency_name=payload.agency_name,
                follow_up_due=due,
            )
        case ReportTransferred():
            due = payload.follow_up_due.isoformat()
            reporter("forwarded", agency_name=payload.to_agency_name, follow_up_due=due)
            officers_of(
                payload.to_agency,
                "officer_forwarded",
                agency_name=payload.to_agency_name,
                follow_up_due=due,
            )
        case FollowUpPosted():
            agency_name = facts.agency_name or payload.agency_code
            if payload.kind is FollowUpKind.QUESTION:
                reporter("question", agency_name=agency_name, text=payload.text)
            else:
                reporter(
                    "follow_up",
                    agency_name=agency_name,
                    text=payload.text,
                    final=payload.kind is FollowUpKind.FINAL,
                )
        case ReportClosed():
            reporter(
                "closed", reason=payload.reason.value, rate_url=links.report(facts.tracking_id)
            )
        case ReportRejected():
            reporter(
                "rejected",
                reason=payload.reason.value,
                note=payload.note,
                duplicate_of=payload.duplicate_of,
            )
        case SlaBreached():
            agency_code = payload.agency_code or facts.agency_code
            if payload.stage is SlaStage.FOLLOW_UP:
                reporter(
                    "escalation_possible",
                    agency_name=facts.agency_name or agency_code,
                    due=payload.due.isoformat(),
                )
            officers_of(
                agency_code,
                "officer_sla_breached",
                stage=payload.stage.value,
                due=payload.due.isoformat(),
                agency_name=facts.agency_name,
            )
        case EscalatedToOmbudsman():
            reporter("escalated", ombudsman_office=payload.ombudsman_office)
        case _:
            pass
    return notices


def _notice(
    event: RecordedEvent,
    facts: ReportFacts,
    kind: RecipientKind,
    ref: str,
    agency_code: str | None,
    channel: NotificationChannel,
    template: str,
    language: str,
    context: dict[str, Any],
) -> Notice:
    return Notice(
        notification_id=notification_id(event.event_id, kind, channel, ref),
        tracking_id=facts.tracking_id,
        cause_event_id=event.event_id,
        cause_event_type=event.event_type,
        cause_position=event.position,
        correlation_id=event.correlation_id,
        recipient_kind=kind,
        recipient_ref=ref,
        agency_code=agency_code,
        channel=channel,
        template=template,
        language=language,
        context=context,
    )
