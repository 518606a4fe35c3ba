"""sla: working-day calendar, deadlines, breaches, auto-close and escalation to the Ombudsman.

Composition root and HTTP surface (DESIGN §5, port 8003). The deadlines are a view derived from
events (``views``, counted by ``rules``); the ticker (``ticker``) acts on those that pass; the
reporter escalates here, with a signed evidence pack (``evidence``).

No `from __future__ import annotations` here: FastAPI must resolve the route signatures that
refer to dependencies defined inside `build`.

(The SMS command for escalation belongs to intake's SMS grammar; it can call the same rule via
``POST /api/v1/reports/{tracking_id}/escalate`` with the reporter's access code.)
"""

import statistics
from collections import defaultdict
from datetime import date, datetime
from functools import cache
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from services.sla import views
from services.sla.config import Rules, SlaSettings, load_rules
from services.sla.evidence import EvidenceSigner, build_document, render_html, trail_sha256
from services.sla.ticker import Ticker
from shared.auth import Principal, Role, access_code_matches
from shared.calendar import deadline_end, timezone_for_region
from shared.directory.model import Directory
from shared.events.base import Actor
from shared.http.common import correlation_id
from shared.http.limits import AccessCodeGuard
from shared.reports.commands import EscalateToOmbudsman
from shared.reports.deadlines import ReportDeadlines, Stage, State, derive, facts_of
from shared.reports.lifecycle import ReportState
from shared.reports.tracking import InvalidTrackingId, normalize_tracking_id
from shared.runtime.access_audit import record_confidential_read  # security hook (issue 12)
from shared.runtime.bus import Service
from shared.runtime.projection import Projector, ViewReader
from shared.runtime.repository import Meta
from shared.runtime.service import Context
from shared.runtime.service import create_app as create_service_app
from shared.settings import Settings
from shared.store.port import RecordedEvent

NAME = "sla"
REGION = r"^[0-9]{2,10}$"
AGENCY = r"^[A-Z0-9-]+$"
OFFICERS = (Role.ADMIN, Role.OMBUDSMAN, Role.AGENCY)


def create_projector(settings: Settings, rules: Rules | None = None) -> Projector:
    rules = rules or load_rules()
    return Projector(
        settings.view_db(NAME), NAME, views.SCHEMA, views.make_apply(rules), views.TABLES
    )


def create_projectors(settings: Settings) -> list[Projector]:
    """Every read model of this service (for `lapor rebuild`)."""
    return [create_projector(settings)]


def tracking_id_param(tracking_id: str) -> str:
    try:
        return normalize_tracking_id(tracking_id)
    except InvalidTrackingId as error:
        raise HTTPException(
            422, [{"loc": ["path", "tracking_id"], "field": "tracking_id", "msg": str(error)}]
        ) from error


TrackingId = Annotated[str, Depends(tracking_id_param)]


def _invalid(location: str, name: str, message: str) -> HTTPException:
    return HTTPException(422, [{"loc": [location, name], "field": name, "msg": message}])


@cache
def _directory() -> Directory:
    return Directory.load()


def build(ctx: Context) -> Service:
    rules = load_rules(SlaSettings())
    projector = create_projector(ctx.settings, rules)
    reader = ViewReader(projector.path)
    signer = EvidenceSigner(ctx.settings.data_dir / "keys")
    ticker = Ticker(projector, ctx.reports, ctx.clock, rules, ctx.settings.sla_tick_seconds)
    secret = ctx.settings.master_secret
    officer = ctx.auth.require(*OFFICERS)

    def derived(tracking_id: str, events: list[RecordedEvent]) -> ReportDeadlines:
        return derive(tracking_id, facts_of(events), rules.calendar, rules.policy)

    # -- the calendar (public) --
    calendar = APIRouter(prefix="/api/v1/calendar", tags=["calendar"])

    @calendar.get("/working-days")
    async def working_days(
        start: Annotated[date, Query(description="YYYY-MM-DD: the day of the event (day zero)")],
        days: Annotated[int, Query(ge=0, le=1000, description="How many working days")],
        region: Annotated[str | None, Query(pattern=REGION)] = None,
    ) -> dict[str, Any]:
        """The Nth working day after `start` (day one is the first working day after it)."""
        due = rules.calendar.add_working_days(start, days, region)
        answer: dict[str, Any] = {
            "start": start.isoformat(),
            "days": days,
            "due": due.isoformat(),
            "deadline": deadline_end(due, timezone_for_region(region)).isoformat(),
        }
        if region is not None:
            answer["region"] = region
        return answer

    @calendar.get("/holidays")
    async def holidays(
        year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
        region: Annotated[str | None, Query(pattern=REGION)] = None,
    ) -> list[dict[str, str]]:
        """Every holiday and cuti bersama day of `year` (this year by default), sorted by date."""
        year = year or ctx.clock.now().astimezone(timezone_for_region(region)).year
        return [
            {"date": h.date.isoformat(), "name": h.name, "category": h.category}
            for h in rules.calendar.holidays_in(year, region)
        ]

    # -- deadlines and compliance (officers) --
    api = APIRouter(prefix="/api/v1", tags=["deadlines"])

    def agency_scope(principal: Principal, agency: str | None) -> str | None:
        if principal.role is not Role.AGENCY:
            return agency
        if agency is not None and agency != principal.agency:
            raise HTTPException(403, "agency: an institution sees only its own deadlines")
        return principal.agency

    @api.get("/deadlines")
    async def deadlines(
        principal: Annotated[Principal, Depends(officer)],
        tracking_id: Annotated[str | None, Query(max_length=40)] = None,
        agency: Annotated[str | None, Query(pattern=AGENCY, max_length=100)] = None,
        state: Annotated[State | None, Query()] = None,
        stage: Annotated[Stage | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[dict[str, Any]]:
        """Deadlines by report, institution, state (overdue, due_soon, …) or stage."""
        now = ctx.clock.now()
        where: list[str] = []
        params: list[object] = []
        if tracking_id is not None:
            try:
                tracking_id = normalize_tracking_id(tracking_id)
            except InvalidTrackingId as error:
                raise _invalid("query", "tracking_id", str(error)) from error
            where.append("tracking_id = ?")
            params.append(tracking_id)
        scoped = agency_scope(principal, agency)
        if scoped is not None:
            where.append("agency_code = ?")
            params.append(scoped)
        if principal.region is not None:
            where.append("region_code LIKE ?")
            params.append(principal.region + "%")
        if state is not None:
            condition, values = views.state_condition(state, now)
            where.append(condition)
            params.extend(values)
        if stage is not None:
            where.append("stage = ?")
            params.append(stage.value)
        sql = "SELECT * FROM deadlines"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY deadline_utc IS NULL, deadline_utc, tracking_id, stage, cycle"
        rows = await reader.fetchall(sql + " LIMIT ? OFFSET ?", [*params, limit, offset])
        return [views.deadline_json(r, now) for r in rows]

    @api.get("/compliance")
    async def compliance(
        principal: Annotated[Principal, Depends(officer)],
        agency: Annotated[str | None, Query(pattern=AGENCY, max_length=100)] = None,
    ) -> dict[str, Any]:
        """Per institution: the share of deadlines handled within their limit, and the median
        working days from forwarding to the first follow-up."""
        now = ctx.clock.now()
        scoped = agency_scope(principal, agency)
        sql = "SELECT * FROM deadlines WHERE stage IN ('verification', 'follow_up', 'resolution')"
        params: list[object] = []
        if scoped is not None:
            sql += " AND agency_code = ?"
            params.append(scoped)
        if principal.region is not None:
            sql += " AND region_code LIKE ?"
            params.append(principal.region + "%")
        rows = await reader.fetchall(sql, params)
        return summarize_compliance(rows, now, include_desk=scoped is None)

    # -- escalation and evidence (the reporter; officers may read the evidence) --
    reporter_api = APIRouter(prefix="/api/v1", tags=["escalation"])

    optional_officer = ctx.auth.optional()

    async def load_report(tracking_id: str) -> tuple[ReportState, list[RecordedEvent]]:
        state, events = await ctx.reports.load(tracking_id)
        if state is None:
            raise HTTPException(404, "report not found")
        return state, events

    guard = AccessCodeGuard(ctx.settings.failed_access_codes_per_minute)

    def check_access_code(state: ReportState, code: str | None, request: Request) -> None:
        if not code:
            raise HTTPException(401, "X-Access-Code: the report's access code is required")
        guard.check(request)
        if not access_code_matches(secret, state.tracking_id, code, state.access_code_hash):
            guard.failed(request)
            raise HTTPException(403, "X-Access-Code: wrong access code for this report")

    def may_read(state: ReportState, events: list[RecordedEvent], who: Principal) -> bool:
        if who.role in (Role.ADMIN, Role.OMBUDSMAN):
            return who.covers_region(state.region_code)
        if who.role is Role.AGENCY:
            # Only the institution that holds the report now, not one it was transferred from.
            return who.agency is not None and state.agency_code == who.agency
        return False

    def office_of(state: ReportState) -> dict[str, str]:
        directory = _directory()
        office = directory.ombudsman_office_for(state.region_code)
        return {
            "code": office.code,
            "name": office.name,
            "province_code": directory.province_of(state.region_code) or "",
        }

    @reporter_api.get("/evidence-key")
    async def evidence_key() -> dict[str, str]:
        """The Ed25519 public key that signs every evidence pack."""
        return signer.public_key_json()

    @reporter_api.post("/reports/{tracking_id}/escalate", status_code=201)
    async def escalate(
        tracking_id: TrackingId,
        request: Request,
        x_access_code: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """Escalate to the Ombudsman after 60 working days (policy) without any follow-up."""
        state, events = await load_report(tracking_id)
        check_access_code(state, x_access_code, request)
        links = {
            "json": f"/api/v1/reports/{tracking_id}/evidence.json",
            "html": f"/api/v1/reports/{tracking_id}/evidence.html",
        }
        if state.escalated:
            done = next(e for e in events if e.event_type == "EscalatedToOmbudsman")
            return JSONResponse(
                {
                    "tracking_id": tracking_id,
                    "status": "escalated",
                    "ombudsman_office": done.data.get("ombudsman_office"),
                    "province_code": done.data.get("province_code"),
                    "evidence_sha256": done.data.get("evidence_sha256"),
                    "escalated_at": done.occurred_at.isoformat(),
                    "evidence": links,
                },
                status_code=200,
            )
        now = ctx.clock.now()
        eligibility = derived(tracking_id, events).escalation_eligibility(now)
        if not eligibility.eligible:
            raise HTTPException(
                409,
                {
                    "msg": f"not eligible for escalation: {eligibility.reason}",
                    "eligible_from": eligibility.eligible_from.isoformat()
                    if eligibility.eligible_from
                    else None,
                },
            )
        office = office_of(state)
        stored = await ctx.reports.execute(
            tracking_id,
            EscalateToOmbudsman(
                ombudsman_office=office["code"],
                province_code=office["province_code"] or None,
                eligible=True,
                evidence_sha256=trail_sha256(events),
            ),
            Meta(
                actor=Actor(kind="citizen", id="anonymous" if state.anonymous else "reporter"),
                correlation_id=correlation_id(request),
                idempotency_key=f"sla:escalate:{tracking_id}",
            ),
        )
        event = stored[0]
        return JSONResponse(
            {
                "tracking_id": tracking_id,
                "status": "escalated",
                "ombudsman_office": office["code"],
                "ombudsman_office_name": office["name"],
                "province_code": event.data.get("province_code"),
                "evidence_sha256": event.data.get("evidence_sha256"),
                "escalated_at": event.occurred_at.isoformat(),
                "evidence": links,
            },
            status_code=201,
        )

    async def evidence_for(
        tracking_id: str, code: str | None, who: Principal | None, request: Request
    ) -> dict[str, Any]:
        state, events = await load_report(tracking_id)
        if who is not None and code is None:
            if not may_read(state, events, who):
                raise HTTPException(404, "report not found")
            if state.confidential:
                # Security hook (issue 12, access audit): recorded before the pack is returned.
                await record_confidential_read(
                    ctx.store, who, tracking_id, service=NAME, what="report", at=ctx.clock.now()
                )
        else:
            check_access_code(state, code, request)
        document = build_document(
            state,
            events,
            derived(tracking_id, events),
            generated_at=ctx.clock.now(),
            ombudsman_office=office_of(state),
        )
        return signer.sign(document)

    @reporter_api.get("/reports/{tracking_id}/evidence.json")
    async def evidence_json(
        tracking_id: TrackingId,
        request: Request,
        who: Annotated[Principal | None, Depends(optional_officer)],
        x_access_code: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """The whole audit trail with its hash chain, signed (Ed25519)."""
        document = await evidence_for(tracking_id, x_access_code, who, request)
        return JSONResponse(
            document,
            headers={"Content-Disposition": f'inline; filename="lapor-{tracking_id}.json"'},
        )

    @reporter_api.get("/reports/{tracking_id}/evidence.html", response_class=HTMLResponse)
    async def evidence_html(
        tracking_id: TrackingId,
        request: Request,
        who: Annotated[Principal | None, Depends(optional_officer)],
        x_access_code: Annotated[str | None, Header()] = None,
    ) -> HTMLResponse:
        """A readable, printable proof of a prior complaint."""
        document = await evidence_for(tracking_id, x_access_code, who, request)
        return HTMLResponse(render_html(document))

    async def close_ticker() -> None:
        ticker.close()

    return Service(
        routers=[calendar, api, reporter_api],
        projectors=[projector],
        background=[ticker.run],
        on_stop=[close_ticker],
    )


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


def create_app(settings: Settings | None = None, *, in_process: bool = False) -> FastAPI:
    return create_service_app(
        NAME,
        build,
        settings,
        in_process=in_process,
        title="LAPOR sla",
        description="Working-day calendar, deadlines, breaches, auto-close and escalation to the"
        " Ombudsman.",
    )


__all__ = ["create_app", "create_projector"]
