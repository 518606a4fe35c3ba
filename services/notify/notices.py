"""Which notices a report event causes, and to whom. Pure: no I/O, no clock, no contact details.

A notice names its recipient by kind (the reporter, or one member of a staff group: the liaison
officers of the institution now holding the report, the administrators of the report's region,
the Ombudsman office of its province) and the channel it goes out on; the address itself is looked
up only when it is sent. Its id is deterministic, uuid5(cause event id, "kind|channel[|ref]"), so
the same event planned twice (a redelivery, a restart) gives the same notices.

The reporter's channel is decided by the caller (it needs the decrypted contact): the channel they
wrote on when it can answer them (SMS, e-mail, WhatsApp, Messenger, Instagram, X), otherwise
e-mail when they left an address, SMS when they left only a phone number, else the report page.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Protocol

from shared.events.base import DomainEvent
from shared.notifications.events import NotificationChannel, RecipientKind
from shared.reports import events
from shared.reports.events import FollowUpKind, SlaStage, Status
from shared.reports.lifecycle import ReportState, evolve
from shared.store.port import RecordedEvent
from shared.values import Channel

# The channel a reporter wrote on is the channel they hear back on, where LAPOR can answer there.
REPORTER_CHANNEL: dict[Channel, NotificationChannel] = {
    Channel.SMS: NotificationChannel.SMS,
    Channel.EMAIL: NotificationChannel.EMAIL,
    Channel.WHATSAPP: NotificationChannel.WHATSAPP,
    Channel.FACEBOOK: NotificationChannel.MESSENGER,
    Channel.INSTAGRAM: NotificationChannel.INSTAGRAM,
    Channel.TWITTER: NotificationChannel.X,
}
# Channels whose own answer (the SMS reply, the confirmation mail, the chat reply) is the receipt:
# the `received` notice is only recorded for the report page there, so nobody gets two.
ANSWERED_AT_ONCE = frozenset(REPORTER_CHANNEL)

# The report events whose notices quote a date from the report's deadlines (`Dates`), and which:
# only these need the deadlines derived.
DATED: dict[str, frozenset[str]] = {
    "ReportSubmitted": frozenset({"verification_due"}),
    "ReportCompletionRequested": frozenset({"completion_closes_on"}),
    "ReportReturned": frozenset({"reforward_due"}),
    "ReportReferred": frozenset({"reforward_due"}),
    "FollowUpPosted": frozenset({"auto_close_on"}),
    "SlaBreached": frozenset({"escalation_opens_on"}),
}

# Report events that cause a notice (everything else is ignored).
NOTIFYING = frozenset(
    {
        "ReportSubmitted",
        "ReportCompletionRequested",
        "CompletionReminded",
        "ReportAmended",
        "ReportVerified",
        "ForwardedToOPD",
        "ReportTransferred",
        "ReportDelegated",
        "ReportReturned",
        "ReportReferred",
        "FollowUpPosted",
        "ReporterReplied",
        "AdministratorReplied",
        "ReportClosed",
        "ReportRejected",
        "SlaDueSoon",
        "SlaBreached",
        "EscalatedToOmbudsman",
    }
)

REPORTER_TEMPLATES = (
    "received",
    "completion_requested",
    "completion_reminded",
    "verified",
    "forwarded",
    "follow_up",
    "question",
    "administrator_replied",
    "closed",
    "rejected",
    "escalation_possible",
    "escalated",
)
STAFF_TEMPLATES = (
    "officer_forwarded",
    "officer_due_soon",
    "officer_sla_breached",
    "officer_reporter_answered",
    "admin_attention",
    "ombudsman_escalated",
)
OFFICER_TEMPLATES = STAFF_TEMPLATES  # the name this module used before staff other than officers


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
    confidential: bool = False
    agency_code: str | None = None
    agency_name: str | None = None
    status_before: Status = Status.SUBMITTED  # before the event being notified
    last_follow_up_kind: FollowUpKind | None = None  # the latest answer before the event

    @property
    def reporter_channel(self) -> NotificationChannel:
        """The reporter's channel by the report alone (the caller refines it by their contact)."""
        if not self.has_reporter:
            return NotificationChannel.WEB
        return REPORTER_CHANNEL.get(self.channel, NotificationChannel.WEB)


def report_facts(
    history: Sequence[RecordedEvent], payloads: Sequence[DomainEvent] | None = None
) -> ReportFacts | None:
    """Fold the report's stream up to and including the event being notified (the last one).
    `payloads`: the events' payloads when the caller has parsed them already."""
    if not history:
        return None
    state: ReportState | None = None
    names: dict[str, str] = {}
    last_kind: FollowUpKind | None = None
    before: ReportState | None = None
    language = "id"
    for index, event in enumerate(history):
        payload = payloads[index] if payloads is not None else event.payload()
        if index == len(history) - 1:
            before = state
        if isinstance(payload, events.ReportSubmitted):
            language = payload.language
        elif isinstance(payload, events.ForwardedToOPD):
            names[payload.agency_code] = payload.agency_name
        elif isinstance(payload, events.ReportTransferred | events.ReportDelegated):
            names[payload.to_agency] = payload.to_agency_name
        if index < len(history) - 1 and isinstance(payload, events.FollowUpPosted):
            last_kind = payload.kind
        state = evolve(state, payload, event.occurred_at)
    if state is None:
        return None
    agency = state.agency_code
    return ReportFacts(
        tracking_id=state.tracking_id,
        channel=state.channel,
        language=language,
        has_reporter=state.reporter is not None,
        title=state.title,
        category=state.category,
        region_code=state.region_code or state.location.region_code,
        confidential=state.confidential,
        agency_code=agency,
        agency_name=names.get(agency) if agency else None,
        status_before=before.status if before is not None else Status.SUBMITTED,
        last_follow_up_kind=last_kind,
    )


@dataclass(frozen=True)
class Dates:
    """The days a notice mentions, from the report's deadlines as of the event (see
    `shared.reports.deadlines`): computed by the caller with the calendar and policy."""

    verification_due: date | None = None
    completion_closes_on: date | None = None
    auto_close_on: date | None = None
    reforward_due: date | None = None
    escalation_opens_on: date | None = None


@dataclass(frozen=True)
class Officer:
    """A member of staff who gets notices by e-mail. `ref` names them without their address."""

    ref: str
    email: str


@dataclass(frozen=True)
class StaffGroup:
    """The people behind one desk: an institution's liaison officers, a region's administrators,
    an Ombudsman office. `code` is the institution's agency code (kept with each notice)."""

    code: str
    name: str
    members: tuple[Officer, ...] = ()


class Staff(Protocol):
    """Who works where, from the live directory (see contacts.StaffDirectory)."""

    def officers(self, agency_code: str) -> StaffGroup | None: ...

    def administrators(self, region_code: str | None) -> StaffGroup | None: ...

    def ombudsman(self, region_code: str | None) -> StaffGroup | None: ...

    def name_of(self, agency_code: str) -> str | None: ...

    def category_name(self, code: str | None) -> str | None: ...


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
    """Where a notice sends its reader: the reporter to the report page (a confidential report's
    to its sign-in with the access code), officers to their desk item, administrators to the
    console, the Ombudsman to the evidence pack."""

    public_base_url: str
    desk_base_url: str = ""
    console_base_url: str = ""
    evidence_base_url: str = ""

    def report(self, tracking_id: str, confidential: bool = False) -> str:
        base = self.public_base_url.rstrip("/")
        return f"{base}/laporan/{tracking_id}" + ("/masuk" if confidential else "")

    def desk(self, tracking_id: str) -> str:
        return (
            f"{(self.desk_base_url or self.public_base_url).rstrip('/')}/desk/reports/{tracking_id}"
        )

    def console(self, tracking_id: str) -> str:
        base = (self.console_base_url or self.public_base_url).rstrip("/")
        return f"{base}/console/reports/{tracking_id}"

    def evidence(self, tracking_id: str) -> str:
        base = (self.evidence_base_url or self.public_base_url).rstrip("/")
        return f"{base}/api/v1/reports/{tracking_id}/evidence.html"


def plan(
    event: RecordedEvent,
    facts: ReportFacts,
    staff: Staff,
    links: Links,
    *,
    reporter_channel: NotificationChannel | None = None,
    dates: Dates | None = None,
    payload: DomainEvent | None = None,
) -> list[Notice]:
    """The notices one report event causes (none for events nobody is told about).
    `payload`: the event's payload when the caller has parsed it already."""
    if event.event_type not in NOTIFYING:
        return []
    planner = _Planner(event, facts, staff, links, reporter_channel, dates or Dates())
    return planner.plan(payload if payload is not None else event.payload())


class _Planner:
    def __init__(
        self,
        event: RecordedEvent,
        facts: ReportFacts,
        staff: Staff,
        links: Links,
        reporter_channel: NotificationChannel | None,
        dates: Dates,
    ) -> None:
        self.event = event
        self.facts = facts
        self.staff = staff
        self.links = links
        self.channel = reporter_channel or facts.reporter_channel
        self.dates = dates
        self.notices: list[Notice] = []
        self._seen: set[uuid.UUID] = set()

    # -- recipients ----------------------------------------------------------------------
    def reporter(
        self, template: str, *, channel: NotificationChannel | None = None, **context: Any
    ) -> None:
        facts = self.facts
        channel = channel or self.channel
        url = self.links.report(facts.tracking_id, facts.confidential)
        base = {
            "tracking_id": facts.tracking_id,
            "title": facts.title,
            "report_url": url,
            "channel": channel.value,
            # An e-mail reporter may answer by replying (the reply lands on the report).
            "replyable": channel is NotificationChannel.EMAIL,
        }
        self._add(
            "reporter", "reporter", "", None, channel, template, facts.language, base | context
        )

    def staff_group(
        self, role: str, group: StaffGroup | None, template: str, url: str, **context: Any
    ) -> None:
        if group is None:
            return
        facts = self.facts
        common = {
            "tracking_id": facts.tracking_id,
            "title": facts.title,
            "category": facts.category,
            "category_name": self.staff.category_name(facts.category) or facts.category,
            "region_code": facts.region_code,
            "report_url": url,
            "channel": NotificationChannel.EMAIL.value,
            "agency_code": group.code,
            "agency_name": group.name,
            "desk_name": group.name,
            "office_name": group.name,
        } | context
        for member in group.members:
            # Officer notices keep their id formula of old; other staff are named by their role.
            kind = "officer" if role == "officer" else f"staff:{role}:{group.code}"
            self._add(
                kind,
                "officer",
                member.ref,
                group.code,
                NotificationChannel.EMAIL,
                template,
                "id",
                common,
            )

    def officers(self, agency_code: str | None, template: str, **context: Any) -> None:
        if not agency_code:
            return
        group = self.staff.officers(agency_code)
        self.staff_group(
            "officer", group, template, self.links.desk(self.facts.tracking_id), **context
        )

    def administrators(self, template: str, **context: Any) -> None:
        self.administrators_of(self.facts.region_code, template, **context)

    def administrators_of(self, region_code: str | None, template: str, **context: Any) -> None:
        """The administrators of the desk of `region_code` (None: the national desk)."""
        group = self.staff.administrators(region_code)
        self.staff_group(
            "admin", group, template, self.links.console(self.facts.tracking_id), **context
        )

    def _add(
        self,
        id_kind: str,
        kind: RecipientKind,
        ref: str,
        agency_code: str | None,
        channel: NotificationChannel,
        template: str,
        language: str,
        context: dict[str, Any],
    ) -> None:
        nid = notification_id(self.event.event_id, id_kind, channel, ref)
        if nid in self._seen:
            return
        self._seen.add(nid)
        self.notices.append(
            Notice(
                notification_id=nid,
                tracking_id=self.facts.tracking_id,
                cause_event_id=self.event.event_id,
                cause_event_type=self.event.event_type,
                cause_position=self.event.position,
                correlation_id=self.event.correlation_id,
                recipient_kind=kind,
                recipient_ref=ref,
                agency_code=agency_code,
                channel=channel,
                template=template,
                language=language,
                context=context,
            )
        )

    # -- what each event says --------------------------------------------------------------
    def plan(self, payload: DomainEvent) -> list[Notice]:
        facts, dates = self.facts, self.dates
        iso = _iso
        match payload:
            case events.ReportSubmitted():
                channel = NotificationChannel.WEB if facts.channel in ANSWERED_AT_ONCE else None
                self.reporter(
                    "received", channel=channel, verification_due=iso(dates.verification_due)
                )
            case events.ReportCompletionRequested():
                self.reporter(
                    "completion_requested",
                    note=payload.note,
                    closes_on=iso(dates.completion_closes_on),
                )
            case events.CompletionReminded():
                self.reporter("completion_reminded", closes_on=payload.closes_on.isoformat())
            case events.ReportAmended():
                if facts.status_before in (Status.SUBMITTED, Status.COMPLETION_REQUESTED):
                    self.administrators(
                        "admin_attention", what="amended", stage=None, due=None, note=None
                    )
                else:
                    self._reporter_answered(amended=True)
            case events.ReportVerified():
                self.reporter("verified")
            case events.ForwardedToOPD() | events.ReportTransferred():
                # A transfer reaches its new institution as a forwarding does (with its note).
                if isinstance(payload, events.ForwardedToOPD):
                    agency, name, note = payload.agency_code, payload.agency_name, None
                else:
                    agency, name, note = payload.to_agency, payload.to_agency_name, payload.note
                due = payload.follow_up_due.isoformat()
                self.reporter("forwarded", agency_name=name, follow_up_due=due)
                self.officers(
                    agency, "officer_forwarded", follow_up_due=due, delegated_by=None, note=note
                )
            case events.ReportDelegated():
                by = self.staff.name_of(payload.from_agency) or payload.from_agency
                self.officers(
                    payload.to_agency,
                    "officer_forwarded",
                    follow_up_due=None,
                    delegated_by=by,
                    note=payload.note,
                )
            case events.ReportReturned():
                self.administrators(
                    "admin_attention",
                    what="returned",
                    stage=SlaStage.REFORWARD.value,
                    due=iso(dates.reforward_due),
                    note=payload.note or payload.reason,
                    agency_name=self.staff.name_of(payload.agency_code) or payload.agency_code,
                )
            case events.ReportReferred():
                # The desk it was sent to hears it is theirs now (with its own re-forward day
                # when an institution had returned it).
                self.administrators_of(
                    payload.to_region,
                    "admin_attention",
                    what="referred",
                    stage=SlaStage.REFORWARD.value if dates.reforward_due else None,
                    due=iso(dates.reforward_due),
                    note=payload.note,
                )
            case events.FollowUpPosted():
                agency_name = (
                    self.staff.name_of(payload.agency_code)
                    or facts.agency_name
                    or payload.agency_code
                )
                if payload.kind is FollowUpKind.QUESTION:
                    self.reporter("question", agency_name=agency_name, text=payload.text)
                else:
                    final = payload.kind is FollowUpKind.FINAL
                    self.reporter(
                        "follow_up",
                        agency_name=agency_name,
                        text=payload.text,
                        final=final,
                        closes_on=iso(dates.auto_close_on) if final else None,
                    )
            case events.ReporterReplied():
                self._reporter_answered(amended=False)
            case events.AdministratorReplied():
                self.reporter("administrator_replied", text=payload.text)
            case events.ReportClosed():
                self.reporter(
                    "closed",
                    reason=payload.reason.value,
                    rate_url=self.links.report(facts.tracking_id, facts.confidential),
                )
            case events.ReportRejected():
                self.reporter(
                    "rejected",
                    reason=payload.reason.value,
                    note=payload.note,
                    duplicate_of=payload.duplicate_of,
                )
            case events.SlaDueSoon():
                due = payload.due.isoformat()
                if payload.stage in (SlaStage.VERIFICATION, SlaStage.REFORWARD):
                    self.administrators(
                        "admin_attention",
                        what="due_soon",
                        stage=payload.stage.value,
                        due=due,
                        note=None,
                    )
                else:
                    self.officers(
                        payload.agency_code or facts.agency_code,
                        "officer_due_soon",
                        stage=payload.stage.value,
                        due=due,
                    )
            case events.SlaBreached():
                self._breached(payload)
            case events.EscalatedToOmbudsman():
                office = self.staff.name_of(payload.ombudsman_office) or payload.ombudsman_office
                self.reporter("escalated", ombudsman_office=office)
                group = self.staff.ombudsman(facts.region_code)
                self.staff_group(
                    "ombudsman",
                    group,
                    "ombudsman_escalated",
                    self.links.evidence(facts.tracking_id),
                    grounds=payload.grounds.value if payload.grounds else None,
                    agency_name=facts.agency_name,
                )
            case _:
                pass
        return self.notices

    def _reporter_answered(self, *, amended: bool) -> None:
        """The institution hears that the reporter answered (perhaps its question)."""
        self.officers(
            self.facts.agency_code,
            "officer_reporter_answered",
            answered_question=self.facts.last_follow_up_kind is FollowUpKind.QUESTION,
            amended=amended,
        )

    def _breached(self, payload: events.SlaBreached) -> None:
        facts, due = self.facts, payload.due.isoformat()
        opens_on = _iso(self.dates.escalation_opens_on)
        if payload.stage in (SlaStage.VERIFICATION, SlaStage.REFORWARD):
            self.administrators(
                "admin_attention", what="breached", stage=payload.stage.value, due=due, note=None
            )
            return
        agency_code = payload.agency_code or facts.agency_code
        if payload.stage is SlaStage.FOLLOW_UP and opens_on is not None:
            self.reporter(
                "escalation_possible",
                agency_name=(self.staff.name_of(agency_code) if agency_code else None)
                or facts.agency_name
                or agency_code
                or "-",
                due=due,
                escalation_opens_on=opens_on,
            )
        self.officers(
            agency_code,
            "officer_sla_breached",
            stage=payload.stage.value,
            due=due,
            escalation_opens_on=opens_on,
        )


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


__all__ = [
    "DATED",
    "NOTIFYING",
    "OFFICER_TEMPLATES",
    "REPORTER_TEMPLATES",
    "STAFF_TEMPLATES",
    "Dates",
    "Links",
    "Notice",
    "Officer",
    "ReportFacts",
    "Staff",
    "StaffGroup",
    "notification_id",
    "plan",
    "replace",
    "report_facts",
]
