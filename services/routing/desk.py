"""The agency desk's and the admins' routing use cases, shared by the JSON API and the HTML pages.

Each command is: check who may act, decide (the report aggregate), append with the expected
version. Reads come from routing's own views, never from the aggregate.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.routing.decisions import follow_up_due, next_candidate, time_left
from shared.auth import Principal, Role  # security hook (issue 12)
from shared.calendar import WorkingDayCalendar
from shared.errors import DomainError
from shared.events.base import Actor
from shared.reports.commands import ForwardReport, PostFollowUp, ReturnReport, TransferReport
from shared.reports.events import FollowUpKind, ReportTransferred, Status
from shared.reports.lifecycle import NotYourReport, ReportNotFound, ReportState, stream_name
from shared.runtime.access_audit import record_confidential_read  # security hook (issue 12)
from shared.runtime.directory import LiveDirectory
from shared.runtime.projection import ViewReader
from shared.runtime.repository import Meta, ReportRepository, fixed_event_id
from shared.store.port import RecordedEvent
from shared.values import Attachment

AGENCY_CODE = r"^[A-Z0-9-]+$"
WITH_AGENCY = (Status.FORWARDED.value, Status.FOLLOWED_UP.value)
ReturnReason = Literal["not_our_authority", "wrong_region", "duplicate", "other"]


DESK_ACTIONS = Counter(
    "lapor_routing_desk_actions_total",
    "Events stored by agency desk and admin routing commands (a retried request counts again)",
    ["event_type"],
)


class NotInInbox(Exception):
    """The report is not (or no longer) with this agency: it does not exist for them."""


# --- inputs ------------------------------------------------------------------------------------
class FollowUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=10_000, description="The answer or action taken")
    kind: FollowUpKind = Field(
        default=FollowUpKind.INTERIM,
        description="interim (work in progress), final (done) or question (to the reporter)",
    )
    attachments: tuple[Attachment, ...] = Field(default=(), max_length=20)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be blank")
        return value


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ReturnReason = Field(description="Why the report is not for this institution")
    note: str | None = Field(default=None, max_length=2000)
    suggested_agency: str | None = Field(
        default=None,
        pattern=AGENCY_CODE,
        description="Who should get it instead, if the agency knows (else LAPOR suggests one)",
    )


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency_code: str = Field(
        pattern=AGENCY_CODE, max_length=64, description="An institution under the same parent"
    )
    note: str | None = Field(default=None, max_length=2000, description="Why it goes there")


class ForwardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agency_code: str = Field(pattern=AGENCY_CODE, max_length=64)
    note: str | None = Field(default=None, max_length=2000)


# --- outputs -----------------------------------------------------------------------------------
def report_item(row: Any, calendar: WorkingDayCalendar, now: datetime) -> dict[str, Any]:
    """A report as the desk shows it: never who reported."""
    due = row["follow_up_due"]
    left = None
    if due and not row["followed_up"] and row["status"] in WITH_AGENCY:
        t = time_left(calendar, datetime.fromisoformat(due).date(), now, row["region_code"])
        left = {
            "due": t.due.isoformat(),
            "deadline": t.deadline.isoformat(),
            "seconds": t.seconds,
            "working_days": t.working_days,
            "overdue": t.overdue,
        }
    return {
        "tracking_id": row["tracking_id"],
        "status": row["status"],
        "classification": row["classification"],
        "title": row["title"],
        "body": row["body"],
        "category": row["category"],
        "location": {
            "lat": row["lat"],
            "lon": row["lon"],
            "region_code": row["region_code"],
            "address": row["address"],
        },
        "channel": row["channel"],
        "anonymous": bool(row["anonymous"]),
        "confidential": bool(row["confidential"]),
        "requires_field_inspection": bool(row["requires_field_inspection"]),
        "agency_code": row["agency_code"],
        "agency_name": row["agency_name"],
        "routed_by": row["routed_by"],
        "forwarded_at": row["forwarded_at"],
        "follow_up_due": due,
        "follow_up_done": bool(row["followed_up"]),
        "follow_up_count": row["follow_up_count"],
        "time_left": left,
        "submitted_at": row["submitted_at"],
        "updated_at": row["updated_at"],
    }


def history_item(row: Any) -> dict[str, Any]:
    return {
        "event_type": row["event_type"],
        "occurred_at": row["occurred_at"],
        "actor": row["actor_kind"],
        **json.loads(row["details"]),
    }


@dataclass(frozen=True)
class Caller:
    """Who acts, with the request's correlation id and idempotency key."""

    actor: Actor
    correlation_id: str
    idempotency_key: str | None = None

    def meta(self, action: str) -> Meta:
        key = self.idempotency_key
        return Meta(
            actor=self.actor,
            correlation_id=self.correlation_id,
            idempotency_key=f"routing:{action}:{self.actor.id}:{key}" if key else None,
        )


# --- the use cases -----------------------------------------------------------------------------
class RoutingDesk:
    def __init__(
        self,
        reports: ReportRepository,
        views: ViewReader,
        directory: LiveDirectory,
        calendar: WorkingDayCalendar,
        now: Callable[[], datetime],
        caught_up: Callable[[int | None], Awaitable[bool]] | None = None,
    ) -> None:
        self.reports = reports
        self.views = views
        self.directory = directory
        self.calendar = calendar
        self.now = now
        self.caught_up = caught_up

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
    ) -> list[dict[str, Any]]:
        where = ["agency_code = ?", "status IN (?, ?)"]
        params: list[object] = [agency, *WITH_AGENCY]
        if status:
            where.append("status = ?")
            params.append(status)
        if category:
            where.append("category = ?")
            params.append(category)
        if q:
            where.append("(title LIKE ? ESCAPE '\\' OR body LIKE ? ESCAPE '\\')")
            like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            params.extend([like, like])
        if overdue:
            where.append("followed_up = 0")
        order = " ORDER BY followed_up ASC, follow_up_due ASC, forwarded_at ASC"
        sql = "SELECT * FROM reports WHERE " + " AND ".join(where) + order  # noqa: S608
        now = self.now()
        if overdue is None:
            rows = await self.views.fetchall(sql + " LIMIT ? OFFSET ?", [*params, limit, offset])
            return [report_item(r, self.calendar, now) for r in rows]
        items = [report_item(r, self.calendar, now) for r in await self.views.fetchall(sql, params)]
        chosen = [i for i in items if bool(i["time_left"] and i["time_left"]["overdue"]) == overdue]
        return chosen[offset : offset + limit]

    async def inbox_item(
        self, agency: str, tracking_id: str, reader: Principal | None = None
    ) -> dict[str, Any]:
        row = await self.views.fetchone(
            "SELECT * FROM reports WHERE tracking_id = ? AND agency_code = ? AND status IN (?, ?)",
            (tracking_id, agency, *WITH_AGENCY),
        )
        if row is None:
            raise NotInInbox(tracking_id)
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
        history = await self.views.fetchall(
            "SELECT * FROM history WHERE tracking_id = ? ORDER BY position", (tracking_id,)
        )
        item["history"] = [history_item(h) for h in history]
        return item

    async def returned(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Reports institutions sent back, for the admins: the reason and a suggestion."""
        rows = await self.views.fetchall(
            "SELECT * FROM reports WHERE status = ? ORDER BY updated_at LIMIT ? OFFSET ?",
            (Status.RETURNED.value, limit, offset),
        )
        directory = await self.directory.get()
        out = []
        for row in rows:
            item = report_item(row, self.calendar, self.now())
            suggested = row["suggested_agency"]
            inst = directory.find(suggested) if suggested else None
            item["returned"] = {
                "by": row["returned_from"],
                "reason": row["return_reason"],
                "note": row["return_note"],
                "returned_by": json.loads(row["returned_by"]),
                "suggested_agency": (
                    {"code": inst.code, "name": inst.name} if inst is not None else None
                ),
            }
            out.append(item)
        return out

    # commands
    async def _state(self, tracking_id: str) -> tuple[ReportState, list[RecordedEvent]]:
        state, history = await self.reports.load(tracking_id)
        if state is None:
            raise ReportNotFound("no such report")
        return state, history

    @staticmethod
    def _replayed(tracking_id: str, meta: Meta, history: list[RecordedEvent]) -> bool:
        if meta.idempotency_key is None:
            return False
        first = fixed_event_id(stream_name(tracking_id), meta.idempotency_key, 0)
        return any(e.event_id == first for e in history)

    @staticmethod
    def _require(state: ReportState, agency: str, repeat: bool = False) -> None:
        if state.agency_code != agency and not repeat:
            raise NotYourReport("this report is not forwarded to your institution")

    async def follow_up(
        self, agency: str, tracking_id: str, body: FollowUpIn, caller: Caller
    ) -> dict[str, Any]:
        meta = caller.meta("follow-up")
        state, history = await self._state(tracking_id)
        self._require(state, agency, self._replayed(tracking_id, meta, history))
        command = PostFollowUp(
            agency_code=agency, text=body.text, kind=body.kind, attachments=body.attachments
        )
        events = await self.reports.execute(tracking_id, command, meta)
        await self._settle(events)
        return {
            "tracking_id": tracking_id,
            "status": Status.FOLLOWED_UP.value,
            "kind": body.kind.value,
            "events": [e.event_type for e in events],
        }

    async def return_report(
        self, agency: str, tracking_id: str, body: ReturnIn, caller: Caller
    ) -> dict[str, Any]:
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
        events = await self.reports.execute(tracking_id, command, meta)
        await self._settle(events)
        stored = next((e for e in events if e.event_type == "ReportReturned"), None)
        code = stored.data.get("suggested_agency") if stored else command.suggested_agency
        inst = directory.find(code) if code else None
        return {
            "tracking_id": tracking_id,
            "status": Status.RETURNED.value,
            "reason": body.reason,
            "suggested_agency": {"code": inst.code, "name": inst.name} if inst else None,
            "events": [e.event_type for e in events],
        }

    async def transfer(
        self, agency: str, tracking_id: str, body: TransferIn, caller: Caller
    ) -> dict[str, Any]:
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
        directory = await self.directory.get()
        target = directory.find(body.agency_code)
        if target is None:
            raise DomainError(f"agency_code: unknown institution {body.agency_code}")
        own = directory.find(agency)
        if target.code != agency and (
            own is None or not directory.same_parent(agency, target.code)
        ):
            parent = own.parent if own is not None else None
            raise DomainError(
                f"agency_code: {target.code} is not under the same parent as {agency}"
                + (f" ({parent}); return the report to the admins instead" if parent else "")
            )
        due = follow_up_due(self.calendar, target.code, self.now(), state.region_code)
        command = TransferReport(
            from_agency=agency,
            to_agency=target.code,
            to_agency_name=target.name,
            follow_up_due=due,
            note=body.note,
        )
        events = await self.reports.execute(tracking_id, command, meta)
        await self._settle(events)
        stored = next((e for e in events if e.event_type == "ReportTransferred"), None)
        return {
            "tracking_id": tracking_id,
            "status": state.status.value if repeat else Status.FORWARDED.value,
            "agency_code": target.code,
            "agency_name": target.name,
            "follow_up_due": stored.data["follow_up_due"] if stored else due.isoformat(),
            "events": [e.event_type for e in events],
        }

    async def forward(self, tracking_id: str, body: ForwardIn, caller: Caller) -> dict[str, Any]:
        """An admin forwards a verified or returned report by hand."""
        state, _ = await self._state(tracking_id)
        directory = await self.directory.get()
        target = directory.find(body.agency_code)
        if target is None:
            raise DomainError(f"agency_code: unknown institution {body.agency_code}")
        due = follow_up_due(self.calendar, target.code, self.now(), state.region_code)
        command = ForwardReport(
            agency_code=target.code, agency_name=target.name, follow_up_due=due, routed_by="admin"
        )
        events = await self.reports.execute(tracking_id, command, caller.meta("forward"))
        await self._settle(events)
        stored = next((e for e in events if e.event_type == "ForwardedToOPD"), None)
        return {
            "tracking_id": tracking_id,
            "status": Status.FORWARDED.value,
            "agency_code": target.code,
            "agency_name": target.name,
            "routed_by": "admin",
            "follow_up_due": stored.data["follow_up_due"] if stored else None,
            "events": [e.event_type for e in events],
        }
