"""What the sla service's routes do: the calendar, the deadlines and compliance queries, the
reporter's escalation to the Ombudsman and the evidence pack.

The deadlines of a report are derived from its stream (``shared.reports.deadlines``) whenever a
decision depends on them (escalation, the evidence pack), never taken from the view, which may
lag; the view answers the lists (``views``).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime
from typing import Any, Literal

from services.sla import views
from services.sla.config import Rules
from services.sla.evidence import build_document, with_checkpoint
from shared.audit.checkpoints import head_evidence
from shared.audit.events import StoreCheckpointed
from shared.auth import Principal, Role
from shared.calendar import Holiday, deadline_end, timezone_for_region
from shared.errors import DomainError
from shared.reports.deadlines import ReportDeadlines, Stage, State
from shared.reports.escalation import ombudsman_office
from shared.reports.lifecycle import ReportNotFound, ReportState, stream_name
from shared.runtime.access_audit import record_confidential_read  # security hook (issue 12)
from shared.runtime.escalation import Escalated, Escalations
from shared.runtime.projection import ViewReader
from shared.runtime.service import Context
from shared.signing import Signer
from shared.store.port import RecordedEvent


class OtherInstitution(DomainError):
    """An institution asking for another institution's deadlines."""


def may_read(state: ReportState, who: Principal) -> bool:
    """May an officer read a report's evidence pack without its access code?"""
    if who.role in (Role.ADMIN, Role.OMBUDSMAN):
        return who.covers_region(state.region_code)
    if who.role is Role.AGENCY:
        # Only the institution that holds the report now, not one it was transferred from.
        return who.agency is not None and state.agency_code == who.agency
    return False


def agency_scope(principal: Principal, agency: str | None) -> str | None:
    """The institution whose deadlines a caller sees: any (or the one asked for) for officers,
    only its own for an institution."""
    if principal.role is not Role.AGENCY:
        return agency
    if agency is not None and agency != principal.agency:
        raise OtherInstitution("agency: an institution sees only its own deadlines")
    return principal.agency


class Sla:
    """The use cases of the sla service, on one process's calendar and policy (`rules`)."""

    def __init__(
        self,
        ctx: Context,
        rules: Rules,
        reader: ViewReader,
        signer: Signer,
        escalations: Escalations,
    ) -> None:
        self.ctx = ctx
        self.rules = rules
        self.reader = reader
        self.signer = signer
        self.escalations = escalations

    # -- the calendar --
    def working_days(self, start: date, days: int, region: str | None) -> tuple[date, datetime]:
        """The Nth working day after `start` and the last instant of it in the region."""
        due = self.rules.calendar.add_working_days(start, days, region)
        return due, deadline_end(due, timezone_for_region(region))

    def holidays(self, year: int | None, region: str | None) -> list[Holiday]:
        """Every holiday and cuti bersama day of `year` (this year in the region by default)."""
        year = year or self.ctx.clock.now().astimezone(timezone_for_region(region)).year
        return list(self.rules.calendar.holidays_in(year, region))

    # -- deadlines and compliance --
    async def deadlines(
        self,
        principal: Principal,
        *,
        tracking_id: str | None,
        agency: str | None,
        state: State | None,
        stage: Stage | None,
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        now = self.ctx.clock.now()
        sql, params = views.deadlines_query(
            now,
            tracking_id=tracking_id,
            agency_code=agency_scope(principal, agency),
            region_prefix=principal.region,
            state=state,
            stage=stage,
            limit=limit,
            offset=offset,
        )
        return [views.deadline_json(r, now) for r in await self.reader.fetchall(sql, params)]

    async def compliance(self, principal: Principal, agency: str | None) -> dict[str, Any]:
        now = self.ctx.clock.now()
        scoped = agency_scope(principal, agency)
        sql, params = views.compliance_query(agency_code=scoped, region_prefix=principal.region)
        rows = await self.reader.fetchall(sql, params)
        return summarize_compliance(rows, now, include_desk=scoped is None)

    # -- escalation and evidence --
    def derived(self, tracking_id: str, events: list[RecordedEvent]) -> ReportDeadlines:
        return self.escalations.deadlines(tracking_id, events)

    async def load(self, tracking_id: str) -> tuple[ReportState, list[RecordedEvent]]:
        return await self.escalations.load(tracking_id)

    async def escalate(
        self, state: ReportState, events: list[RecordedEvent], correlation_id: str
    ) -> Escalated:
        """Escalate to the Ombudsman (the shared use case: the same on the web and by SMS);
        `EscalationNotOpen` names the day it opens."""
        return await self.escalations.escalate(state, events, correlation_id)

    async def escalation_list(
        self, principal: Principal, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """Escalated reports for the Ombudsman (their region's), newest first."""
        sql, params = views.escalations_query(
            region_prefix=principal.region, office=None, limit=limit, offset=offset
        )
        directory = await self.escalations.directory.get()
        rows = []
        for row in await self.reader.fetchall(sql, params):
            office = directory.find(row["ombudsman_office"])
            holder = directory.find(row["agency_code"]) if row["agency_code"] else None
            rows.append(
                {
                    "tracking_id": row["tracking_id"],
                    "escalated_at": row["escalated_at"],
                    "ombudsman_office": row["ombudsman_office"],
                    "ombudsman_office_name": office.name if office else None,
                    "province_code": row["province_code"],
                    "region_code": row["region_code"],
                    "agency_code": row["agency_code"],
                    "agency_name": holder.name if holder else None,
                    "grounds": row["grounds"],
                    "evidence_sha256": row["evidence_sha256"],
                }
            )
        return rows

    async def officer_reads(self, state: ReportState, who: Principal) -> None:
        """An officer reads a report's evidence: only within their remit (else, as for a report
        that does not exist, 404); a confidential report's read is recorded first."""
        if not may_read(state, who):
            raise ReportNotFound(state.tracking_id)
        if state.confidential:
            # Security hook (issue 12, access audit): recorded before the pack is returned.
            await record_confidential_read(
                self.ctx.store,
                who,
                state.tracking_id,
                service=self.ctx.name,
                what="report",
                at=self.ctx.clock.now(),
            )

    async def evidence(self, state: ReportState, events: list[RecordedEvent]) -> dict[str, Any]:
        """The signed evidence pack of a report as of now, with the newest head of its stream
        a signed store checkpoint vouched for: a trail whose newest events were deleted is
        `verified: false` and says so."""
        directory = await self.escalations.directory.get()
        office = ombudsman_office(directory, state.region_code)
        document = build_document(
            state,
            events,
            self.derived(state.tracking_id, events),
            generated_at=self.ctx.clock.now(),
            ombudsman_office={
                "code": office.code,
                "name": office.name,
                "province_code": directory.province_of(state.region_code) or "",
            },
        )
        vouched = await self.vouched_head(stream_name(state.tracking_id))
        return self.signer.sign(with_checkpoint(document, vouched))

    async def vouched_head(self, stream: str) -> dict[str, Any] | None:
        """What proves the stream's newest checkpointed head: the head, its Merkle proof and
        the checkpoint's signed part and signature (None: no checkpoint covers it yet)."""
        row = await self.reader.fetchone(
            "SELECT checkpoint_position FROM audit_heads WHERE stream = ?", (stream,)
        )
        if row is None:
            return None
        position = int(row["checkpoint_position"])
        found = await self.ctx.store.read_all(position - 1, 1)
        if not found or found[0].position != position:
            return {"position": position, "missing": True}
        checkpoint = found[0].payload()
        if not isinstance(checkpoint, StoreCheckpointed):
            return {"position": position, "missing": True}
        return head_evidence(checkpoint, position, stream)


# --- compliance -------------------------------------------------------------------------------
def _share(within: int, decided: int) -> float | None:
    return round(within / decided, 4) if decided else None


def summarize_compliance(rows: list[Any], now: datetime, *, include_desk: bool) -> dict[str, Any]:
    """Per institution and stage: met within the limit, late, overdue, still running; the share
    within the limit of those decided (met in time / (met in time + met late + overdue)); and the
    median working days from forwarding to the first follow-up."""
    by_agency: dict[str, dict[str, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    follow_up_days: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        state = views.row_state(row, now)
        key = row["agency_code"] or "_"
        counts = by_agency[key][row["stage"]]
        outcome: Literal["within_limit", "late", "overdue", "running", "other"]
        if state is State.MET:
            outcome = "within_limit"
        elif state is State.MET_LATE:
            outcome = "late"
        elif state is State.OVERDUE:
            outcome = "overdue"
        elif state in (State.PENDING, State.DUE_SOON, State.PAUSED):
            outcome = "running"
        else:
            outcome = "other"
        counts[outcome] += 1
        if row["stage"] == "follow_up" and row["ended_by"] == "FollowUpPosted":
            follow_up_days[key].append(int(row["working_days"]))
    agencies: list[dict[str, Any]] = []
    desk: dict[str, Any] | None = None
    for key in sorted(by_agency):
        entry: dict[str, Any] = {"agency_code": None if key == "_" else key}
        for stage in ("verification", "follow_up", "resolution"):
            if stage not in by_agency[key]:
                continue
            c = by_agency[key][stage]
            decided = c["within_limit"] + c["late"] + c["overdue"]
            entry[stage] = {
                "within_limit": c["within_limit"],
                "late": c["late"],
                "overdue": c["overdue"],
                "running": c["running"],
                "share_within_limit": _share(c["within_limit"], decided),
            }
        days = follow_up_days.get(key)
        entry["median_working_days_to_first_follow_up"] = statistics.median(days) if days else None
        entry["first_follow_ups"] = len(days or [])
        if key == "_":
            desk = entry
        else:
            agencies.append(entry)
    answer: dict[str, Any] = {"as_of": now.isoformat(), "agencies": agencies}
    if include_desk:
        answer["verification_desk"] = desk.get("verification") if desk else None
    return answer
