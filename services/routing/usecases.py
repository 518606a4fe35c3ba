"""What the agency desk, the admins and the directory's keepers do, shared by the JSON API and the
HTML pages.

Each command is: check who may act, decide (the report aggregate or the directory stream), append
with the expected version. Reads come from routing's own views and the live directory, never
from the aggregate.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from prometheus_client import Counter

from services.routing import views
from services.routing.decisions import next_candidate, usable_region
from services.routing.models import (
    AgencyChanged,
    AgencyDetail,
    AgencyOut,
    DelegateIn,
    DelegateOut,
    FollowUpIn,
    FollowUpOut,
    ForwardIn,
    ForwardOut,
    HandedOn,
    HandedOnItem,
    HistoryItem,
    InboxDetail,
    InboxItem,
    ReturnedInfo,
    ReturnedItem,
    ReturnIn,
    ReturnOut,
    RoutingRuleChanged,
    RoutingRuleOut,
    RoutingRuleRemoved,
    SuggestedAgency,
    TimeLeftOut,
    TransferIn,
    TransferOut,
)
from shared.auth import Principal, Role  # security hook (issue 12)
from shared.calendar import WorkingDayCalendar
from shared.directory.events import DIRECTORY_STREAM, DirectoryChanged
from shared.directory.model import Directory, Institution, RoutingRule, UnknownAgency
from shared.directory.state import decide_add, decide_rule, decide_rule_removal, decide_update
from shared.errors import DomainError
from shared.events.base import Actor
from shared.reports.audience import readable_after_handing_on
from shared.reports.commands import (
    DelegateReport,
    ForwardReport,
    PostFollowUp,
    ReturnReport,
    TransferReport,
)
from shared.reports.deadlines import time_left
from shared.reports.events import ReportTransferred, Status
from shared.reports.lifecycle import (
    NOT_FORWARDED_TO_YOU,
    NotYourReport,
    ReportNotFound,
    ReportState,
    stream_name,
)
from shared.reports.policy import DEFAULT_POLICY, SlaPolicy
from shared.runtime.access_audit import record_confidential_read  # security hook (issue 12)
from shared.runtime.directory import DirectoryRepository, LiveDirectory
from shared.runtime.projection import ViewReader
from shared.runtime.repository import Meta, ReportRepository, done_before
from shared.store.port import RecordedEvent

DESK_ACTIONS = Counter(
    "lapor_routing_desk_actions_total",
    "Events stored by agency desk and admin routing commands (a retried request counts again)",
    ["event_type"],
)


class NotInInbox(Exception):
    """The report is not (or no longer) with this agency: it does not exist for them."""


@dataclass(frozen=True)
class Caller:
    """Who acts, with the request's correlation id and idempotency key."""

    actor: Actor
    correlation_id: str
    idempotency_key: str | None = None

    @classmethod
    def agency(cls, code: str, correlation_id: str, key: str | None = None) -> Caller:
        return cls(Actor(kind="agency", id=code), correlation_id, key)

    @classmethod
    def admin(cls, subject: str, correlation_id: str, key: str | None = None) -> Caller:
        return cls(Actor(kind="admin", id=subject), correlation_id, key)

    def meta(self, action: str) -> Meta:
        key = self.idempotency_key
        return Meta(
            actor=self.actor,
            correlation_id=self.correlation_id,
            idempotency_key=f"routing:{action}:{self.actor.id}:{key}" if key else None,
        )


# --- what the desk shows -----------------------------------------------------------------------
def report_item(row: Any, calendar: WorkingDayCalendar, now: datetime) -> InboxItem:
    """A report as the desk shows it: never who reported."""
    due = row["follow_up_due"]
    left = None
    if due and not row["followed_up"] and row["status"] in views.WITH_AGENCY:
        t = time_left(date.fromisoformat(due), now, calendar, usable_region(row["region_code"]))
        left = TimeLeftOut(
            due=t.due.isoformat(),
            deadline=t.deadline_end.isoformat(),
            seconds=int(t.remaining.total_seconds()),
            working_days=t.working_days,
            overdue=t.overdue,
        )
    columns = dict(row)  # the view's columns carry the item's names
    return InboxItem.model_validate(
        columns
        | {
            "location": columns,
            "follow_up_done": bool(row["followed_up"]),
            "time_left": left,
        }
    )


def history_item(row: Any) -> HistoryItem:
    return HistoryItem(
        event_type=row["event_type"],
        occurred_at=row["occurred_at"],
        actor=row["actor_kind"],
        **json.loads(row["details"]),
    )


def is_own_unit(directory: Directory, agency: str, code: str) -> bool:
    """Is `code` one of `agency`'s units (a child or deeper) in the directory?"""
    if code == agency or directory.find(code) is None:
        return False
    return any(a.code == agency for a in directory.ancestors(code))


def suggestion(inst: Institution | None) -> SuggestedAgency | None:
    return SuggestedAgency(code=inst.code, name=inst.name) if inst is not None else None


def _stored(events: list[RecordedEvent], event_type: str) -> RecordedEvent | None:
    return next((e for e in events if e.event_type == event_type), None)


def _types(events: list[RecordedEvent]) -> list[str]:
    return [e.event_type for e in events]


# --- the agency desk and the admins' routing ---------------------------------------------------
@dataclass(eq=False)
class RoutingDesk:
    reports: ReportRepository
    views: ViewReader
    directory: LiveDirectory
    calendar: WorkingDayCalendar
    now: Callable[[], datetime]
    caught_up: Callable[[int | None], Awaitable[bool]] | None = None
    policy: SlaPolicy = DEFAULT_POLICY

    async def _settle(self, events: list[RecordedEvent]) -> None:
        """Read your writes: the desk's views include what was stored before it answers."""
        for event in events:
            DESK_ACTIONS.labels(event.event_type).inc()
        if events and self.caught_up is not None:
            await self.caught_up(max(e.position for e in events))

    # reads
    async def inbox(
        self,
        agency: str,
        *,
        status: str | None = None,
        category: str | None = None,
        overdue: bool | None = None,
        q: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[InboxItem]:
        """Reports now with `agency`, soonest due first. Whether one is overdue depends on the
        clock, not on the view: filtering on it reads every candidate, then pages."""
        now = self.now()
        if overdue is None:
            rows = await views.inbox(
                self.views, agency, status=status, category=category, q=q, page=(limit, offset)
            )
            return [report_item(r, self.calendar, now) for r in rows]
        rows = await views.inbox(
            self.views, agency, status=status, category=category, q=q, not_followed_up=overdue
        )
        items = [report_item(r, self.calendar, now) for r in rows]
        chosen = [i for i in items if bool(i.time_left and i.time_left.overdue) == overdue]
        return chosen[offset : offset + limit]

    async def inbox_item(
        self, agency: str, tracking_id: str, reader: Principal | None = None
    ) -> InboxDetail:
        row = await views.inbox_report(self.views, agency, tracking_id)
        handed = None
        if row is None:
            row, handed = await self._handed_on_report(agency, tracking_id)
        if row["confidential"]:
            # Security hook (issue 12, access audit): recorded before the detail is returned.
            await record_confidential_read(
                self.reports.store,
                reader or Principal(subject=agency, role=Role.AGENCY, agency=agency),
                tracking_id,
                service="routing",
                what="inbox_detail",
                at=self.now(),
            )
        item = report_item(row, self.calendar, self.now())
        history = await views.history(self.views, tracking_id)
        return InboxDetail(
            **dict(item),
            history=[history_item(h) for h in history],
            handed_on=HandedOn.model_validate(dict(handed)) if handed is not None else None,
        )

    async def _handed_on_report(self, agency: str, tracking_id: str) -> tuple[Any, Any]:
        """A report that left `agency`, to read only (`readable_after_handing_on`)."""
        handed = await views.handed_on_by(self.views, agency, tracking_id)
        row = await views.report_row(self.views, tracking_id) if handed is not None else None
        if (
            row is None
            or handed is None
            or not readable_after_handing_on(handed["how"], bool(row["confidential"]))
        ):
            raise NotInInbox(tracking_id)
        return row, handed

    async def returned(
        self, limit: int = 50, offset: int = 0, region: str | None = None
    ) -> list[ReturnedItem]:
        """Reports institutions sent back, for the admins (a regional admin's `region` only):
        the reason and a suggestion."""
        rows = await views.returned(self.views, limit, offset, region)
        directory = await self.directory.get()
        out = []
        for row in rows:
            item = report_item(row, self.calendar, self.now())
            suggested = row["suggested_agency"]
            returned = ReturnedInfo(
                by=row["returned_from"],
                reason=row["return_reason"],
                note=row["return_note"],
                returned_by=json.loads(row["returned_by"]),
                suggested_agency=suggestion(directory.find(suggested) if suggested else None),
            )
            out.append(ReturnedItem(**dict(item), returned=returned))
        return out

    # commands
    async def _state(self, tracking_id: str) -> tuple[ReportState, list[RecordedEvent]]:
        state, history = await self.reports.load(tracking_id)
        if state is None:
            raise ReportNotFound("no such report")
        return state, history

    @staticmethod
    def _replayed(tracking_id: str, meta: Meta, history: list[RecordedEvent]) -> bool:
        """A retry of a command already stored: it answers again, whoever holds the report now."""
        key = meta.idempotency_key
        return key is not None and bool(done_before(stream_name(tracking_id), history, key))

    @staticmethod
    def _require(state: ReportState, agency: str, repeat: bool = False) -> None:
        if state.agency_code != agency and not repeat:
            raise NotYourReport(NOT_FORWARDED_TO_YOU)

    def _follow_up_due(self, agency_code: str, region_code: str | None) -> date:
        """From now, the agency's follow-up limit of the policy, in the report's region."""
        limits = self.policy.policy_for(agency_code)
        return limits.follow_up.due_after(self.now(), self.calendar, usable_region(region_code))

    async def _target(self, code: str) -> tuple[Directory, Institution]:
        directory = await self.directory.get()
        target = directory.find(code)
        if target is None:
            raise DomainError(f"agency_code: unknown institution {code}")
        return directory, target

    async def follow_up(
        self, agency: str, tracking_id: str, body: FollowUpIn, caller: Caller
    ) -> FollowUpOut:
        meta = caller.meta("follow-up")
        state, history = await self._state(tracking_id)
        self._require(state, agency, self._replayed(tracking_id, meta, history))
        command = PostFollowUp(
            agency_code=agency, text=body.text, kind=body.kind, attachments=body.attachments
        )
        # Another follow-up under a used key would be answered 201 with its kind while the
        # first one stays the only one stored: refused (`KeyReused`), a retry answered again.
        events = await self.reports.execute_once(tracking_id, command, meta)
        await self._settle(events)
        return FollowUpOut(
            tracking_id=tracking_id,
            status=Status.FOLLOWED_UP.value,
            kind=body.kind.value,
            events=_types(events),
        )

    async def return_report(
        self, agency: str, tracking_id: str, body: ReturnIn, caller: Caller
    ) -> ReturnOut:
        if body.reason == "other" and not (body.note and body.note.strip()):
            raise DomainError("note: a return with reason 'other' needs a note saying why")
        meta = caller.meta("return")
        state, history = await self._state(tracking_id)
        repeat = state.status is Status.RETURNED and state.returned_by[-1:] == (agency,)
        self._require(state, agency, repeat or self._replayed(tracking_id, meta, history))
        directory = await self.directory.get()
        if body.suggested_agency is not None:
            suggested = directory.find(body.suggested_agency)
            if suggested is None:
                raise DomainError(f"suggested_agency: unknown institution {body.suggested_agency}")
        else:
            tried = {*state.returned_by, agency}
            suggested = next_candidate(directory, state.region_code, state.category, tried)
        command = ReturnReport(
            agency_code=agency,
            reason=body.reason,
            note=body.note,
            suggested_agency=suggested.code if suggested else None,
        )
        # A suggestion the desk made is the directory's at the time, not what was asked.
        suggestion_made = () if body.suggested_agency else ("suggested_agency",)
        events = await self.reports.execute_once(
            tracking_id, command, meta, worked_out=suggestion_made
        )
        await self._settle(events)
        stored = _stored(events, "ReportReturned")
        code = stored.data.get("suggested_agency") if stored else command.suggested_agency
        return ReturnOut(
            tracking_id=tracking_id,
            status=Status.RETURNED.value,
            reason=body.reason,
            suggested_agency=suggestion(directory.find(code) if code else None),
            events=_types(events),
        )

    async def transfer(
        self, agency: str, tracking_id: str, body: TransferIn, caller: Caller
    ) -> TransferOut:
        meta = caller.meta("transfer")
        state, history = await self._state(tracking_id)
        last = history[-1] if history else None
        repeat = (
            last is not None
            and last.event_type == ReportTransferred.event_type
            and last.data.get("from_agency") == agency
            and last.data.get("to_agency") == body.agency_code
        )
        self._require(state, agency, repeat or self._replayed(tracking_id, meta, history))
        directory, target = await self._target(body.agency_code)
        if is_own_unit(directory, agency, target.code):
            # The documented way to give a report to one of your units: a delegation (the unit
            # answers under your deadline), not a transfer to a sibling with a new one.
            delegated = await self.delegate(
                agency, tracking_id, DelegateIn(agency_code=target.code, note=body.note), caller
            )
            return TransferOut(
                tracking_id=tracking_id,
                status=delegated.status,
                agency_code=delegated.agency_code,
                agency_name=delegated.agency_name,
                follow_up_due=delegated.follow_up_due or "",
                events=delegated.events,
            )
        own = directory.find(agency)
        if target.code != agency and (
            own is None or not directory.same_parent(agency, target.code)
        ):
            parent = own.parent if own is not None else None
            raise DomainError(
                f"agency_code: {target.code} is neither one of your units nor under the same"
                f" parent as {agency}"
                + (f" ({parent}); return the report to the admins instead" if parent else "")
            )
        due = self._follow_up_due(target.code, state.region_code)
        command = TransferReport(
            from_agency=agency,
            to_agency=target.code,
            to_agency_name=target.name,
            follow_up_due=due,
            note=body.note,
        )
        events = await self.reports.execute_once(
            tracking_id, command, meta, worked_out=("follow_up_due",)
        )
        await self._settle(events)
        stored = _stored(events, "ReportTransferred")
        return TransferOut(
            tracking_id=tracking_id,
            status=state.status.value if repeat else Status.FORWARDED.value,
            agency_code=target.code,
            agency_name=target.name,
            follow_up_due=stored.data["follow_up_due"] if stored else due.isoformat(),
            events=_types(events),
        )

    async def delegate(
        self, agency: str, tracking_id: str, body: DelegateIn, caller: Caller
    ) -> DelegateOut:
        """Hand a report to one of your own units (a city's desk to its OPD, a Dinkes to its
        Puskesmas): the unit answers under the same follow-up deadline, and the report stays
        in your desk as handed on."""
        meta = caller.meta("delegate")
        state, history = await self._state(tracking_id)
        repeat = state.agency_code == body.agency_code and state.delegated_from == agency
        self._require(state, agency, repeat or self._replayed(tracking_id, meta, history))
        directory, target = await self._target(body.agency_code)
        if not is_own_unit(directory, agency, target.code):
            raise DomainError(
                f"agency_code: {target.code} is not one of the units of {agency} in the"
                " directory; transfer to a sibling, or return the report to the admins"
            )
        command = DelegateReport(
            from_agency=agency, to_agency=target.code, to_agency_name=target.name, note=body.note
        )
        events = await self.reports.execute_once(tracking_id, command, meta)
        await self._settle(events)
        row = await views.report_row(self.views, tracking_id)
        return DelegateOut(
            tracking_id=tracking_id,
            status=state.status.value,
            agency_code=target.code,
            agency_name=target.name,
            follow_up_due=row["follow_up_due"] if row else None,
            events=_types(events),
        )

    async def handed_on(self, agency: str, limit: int = 50, offset: int = 0) -> list[HandedOnItem]:
        """Reports that left `agency`, newest first, and where each is now."""
        rows = await views.handed_on(self.views, agency, limit, offset)
        return [HandedOnItem.model_validate(dict(r)) for r in rows]

    async def forward(
        self, tracking_id: str, body: ForwardIn, caller: Caller, admin: Principal
    ) -> ForwardOut:
        """An admin forwards a verified or returned report by hand (a regional admin only the
        reports of their region)."""
        state, _ = await self._state(tracking_id)
        admin.require_region(state.region_code, "tracking_id")
        _, target = await self._target(body.agency_code)
        due = self._follow_up_due(target.code, state.region_code)
        command = ForwardReport(
            agency_code=target.code, agency_name=target.name, follow_up_due=due, routed_by="admin"
        )
        events = await self.reports.execute_once(
            tracking_id, command, caller.meta("forward"), worked_out=("follow_up_due",)
        )
        await self._settle(events)
        stored = _stored(events, "ForwardedToOPD")
        return ForwardOut(
            tracking_id=tracking_id,
            status=Status.FORWARDED.value,
            agency_code=target.code,
            agency_name=target.name,
            routed_by="admin",
            follow_up_due=stored.data["follow_up_due"] if stored else None,
            events=_types(events),
        )


# --- the directory -----------------------------------------------------------------------------
DIRECTORY_KEY_REUSED = (
    "Idempotency-Key: sudah dipakai untuk perubahan direktori lain; kirim kunci baru"
    " / already used for another change of the directory; send a new key"
)


class DirectoryDesk:
    """The public directory and the admins' changes to it: DirectoryChanged events on the
    `directory` stream. Raises `DirectoryError` (the directory it would make is invalid),
    `InstitutionExists` and `UnknownAgency` for the edges to translate."""

    def __init__(self, live: LiveDirectory, repository: DirectoryRepository) -> None:
        self.live = live
        self.repository = repository

    async def agencies(
        self,
        *,
        level: str | None = None,
        region: str | None = None,
        parent: str | None = None,
        q: str | None = None,
    ) -> list[AgencyOut]:
        directory = await self.live.get()
        found = list(directory.institutions)
        if level:
            found = [i for i in found if i.level == level]
        if region:
            found = [i for i in found if i.region_code and i.region_code.startswith(region)]
        if parent:
            found = [i for i in found if i.parent == parent]
        if q:
            needle = q.casefold()
            found = [i for i in found if needle in i.name.casefold() or needle in i.code.casefold()]
        return [AgencyOut.of(i) for i in found]

    async def agency(self, code: str) -> AgencyDetail:
        directory = await self.live.get()
        inst = directory.find(code)
        if inst is None:
            raise UnknownAgency(code)
        return AgencyDetail(
            **dict(AgencyOut.of(inst)),
            categories=list(inst.categories),
            sms_keywords=list(inst.sms_keywords),
            children=[c.code for c in directory.children(code)],
        )

    async def rules(self) -> list[RoutingRuleOut]:
        directory = await self.live.get()
        return [RoutingRuleOut.of(r) for r in directory.rules]

    async def _change(
        self, decide: Callable[[Directory], list[DirectoryChanged]], caller: Caller
    ) -> list[str]:
        # An admin's key sent again with another change is refused, not answered as the first.
        stored = await self.repository.execute_once(
            DIRECTORY_STREAM, decide, caller.meta("directory"), refusal=DIRECTORY_KEY_REUSED
        )
        for event in stored:  # read your own writes; the consumer will see them again
            if not self.live.observe(event):
                await self.live.refresh()
        return _types(stored)

    async def add(self, inst: Institution, caller: Caller, admin: Principal) -> AgencyChanged:
        admin.require_region(inst.region_code, "region_code")
        events = await self._change(lambda directory: decide_add(directory, inst), caller)
        return AgencyChanged(**dict(AgencyOut.of(inst)), events=events)

    async def update(self, inst: Institution, caller: Caller, admin: Principal) -> AgencyChanged:
        """Replace an institution's entry; a regional admin only one of their region, and it
        stays there."""
        if admin.region is not None:
            current = (await self.live.get()).find(inst.code)
            if current is None:
                raise UnknownAgency(inst.code)
            admin.require_region(current.region_code, "code")
            admin.require_region(inst.region_code, "region_code")
        events = await self._change(lambda directory: decide_update(directory, inst), caller)
        return AgencyChanged(**dict(AgencyOut.of(inst)), events=events)

    async def set_rule(
        self, rule: RoutingRule, caller: Caller, admin: Principal
    ) -> RoutingRuleChanged:
        admin.require_region(rule.region_prefix, "region_prefix")
        events = await self._change(lambda directory: decide_rule(directory, rule), caller)
        return RoutingRuleChanged(**dict(RoutingRuleOut.of(rule)), events=events)

    async def remove_rule(
        self,
        region_prefix: str | None,
        category: str | None,
        caller: Caller,
        admin: Principal,
    ) -> RoutingRuleRemoved:
        admin.require_region(region_prefix, "region_prefix")
        events = await self._change(
            lambda directory: decide_rule_removal(directory, region_prefix, category), caller
        )
        return RoutingRuleRemoved(region_prefix=region_prefix, category=category, events=events)
