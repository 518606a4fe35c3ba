"""The sla service's HTTP surface (DESIGN §5, port 8003): the public calendar, the deadlines and
compliance for officers, the reporter's escalation to the Ombudsman and the evidence pack.

Routes parse, check who is calling, call a use case (``usecases.Sla``) and answer a model
(``models``). The reporter proves a report is theirs with its access code (``X-Access-Code``).

No `from __future__ import annotations` here: FastAPI must resolve the route signatures that
refer to dependencies defined inside `routers`.

(The SMS command for escalation belongs to intake's SMS grammar; it can call the same rule via
``POST /api/v1/reports/{tracking_id}/escalate`` with the reporter's access code.)
"""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from services.sla import models
from services.sla.evidence import render_html
from services.sla.usecases import OtherInstitution, Sla
from shared.auth import Principal, Role, access_code_matches
from shared.calendar import FIRST_YEAR, LAST_YEAR
from shared.http.common import ACCESS_CODE_REQUIRED, ACCESS_CODE_WRONG, correlation_id
from shared.http.limits import AccessCodeGuard
from shared.i18n import both, dates, translator
from shared.i18n.jinja import language_of
from shared.reports.deadlines import Stage, State
from shared.reports.lifecycle import EscalationNotOpen, ReportState
from shared.reports.tracking import InvalidTrackingId, normalize_tracking_id
from shared.runtime.escalation import Escalated
from shared.runtime.service import Context
from shared.store.port import RecordedEvent

REGION = r"^[0-9]{2,10}$"
AGENCY = r"^[A-Z0-9-]+$"
OFFICERS = (Role.ADMIN, Role.OMBUDSMAN, Role.AGENCY)

_PROBLEM: dict[str, Any] = {"model": models.Problem}
OFFICER_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _PROBLEM | {"description": "No or an invalid bearer token"},
    403: _PROBLEM | {"description": "Not an officer, or another institution's deadlines"},
}
REPORTER_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _PROBLEM | {"description": "X-Access-Code (or an officer's token) is required"},
    403: _PROBLEM | {"description": "Wrong access code for this report"},
    404: _PROBLEM | {"description": "No such report (or not within the officer's remit)"},
    429: _PROBLEM | {"description": "Too many wrong access codes from this address"},
}

# The HTML page's errors are JSON all the same (FastAPI would list them as text/html).
_PROBLEM_JSON = {
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
}
PAGE_ERRORS: dict[int | str, dict[str, Any]] = {
    code: _PROBLEM_JSON | {"description": answer["description"]}
    for code, answer in REPORTER_ERRORS.items()
}


def _invalid(location: str, name: str, message: str) -> HTTPException:
    return HTTPException(422, [{"loc": [location, name], "field": name, "msg": message}])


def tracking_id_param(tracking_id: str) -> str:
    try:
        return normalize_tracking_id(tracking_id)
    except InvalidTrackingId as error:
        raise _invalid("path", "tracking_id", str(error)) from error


TrackingId = Annotated[str, Depends(tracking_id_param)]


def _forbidden(error: OtherInstitution) -> HTTPException:
    return HTTPException(403, str(error))


class ReporterCheck:
    """The reporter's proof that a report is theirs: its access code, guessing slowed down.

    A try is reserved from the address's budget before the report is even loaded: an unknown
    tracking ID costs as much as a wrong code (no enumeration), and the budget holds however
    many tries arrive at once. The right code gives its try back."""

    def __init__(self, sla: Sla, secret: bytes, failures_per_minute: float) -> None:
        self.sla = sla
        self.secret = secret
        self.guard = AccessCodeGuard(failures_per_minute)

    async def load(
        self, tracking_id: str, code: str | None, request: Request
    ) -> tuple[ReportState, list[RecordedEvent]]:
        if not code:
            raise HTTPException(401, f"X-Access-Code: {both(ACCESS_CODE_REQUIRED)}")
        self.guard.reserve(request)
        state, events = await self.sla.load(tracking_id)  # 404 for an unknown ID: still spent
        if not access_code_matches(self.secret, state.tracking_id, code, state.access_code_hash):
            raise HTTPException(403, f"X-Access-Code: {both(ACCESS_CODE_WRONG)}")
        self.guard.release(request)
        return state, events


def routers(ctx: Context, sla: Sla) -> list[APIRouter]:
    officer = ctx.auth.require(*OFFICERS)
    optional_officer = ctx.auth.optional()
    reporter = ReporterCheck(
        sla, ctx.settings.master_secret, ctx.settings.failed_access_codes_per_minute
    )

    # -- the calendar (public) --
    calendar = APIRouter(prefix="/api/v1/calendar", tags=["calendar"])

    @calendar.get(
        "/working-days", response_model=models.WorkingDays, response_model_exclude_unset=True
    )
    async def working_days(
        start: Annotated[
            date,
            Query(
                ge=date(FIRST_YEAR, 1, 1),
                le=date(LAST_YEAR, 12, 31),
                description="YYYY-MM-DD: the day of the event (day zero)",
            ),
        ],
        days: Annotated[int, Query(ge=0, le=1000, description="How many working days")],
        region: Annotated[str | None, Query(pattern=REGION)] = None,
    ) -> models.WorkingDays:
        """The Nth working day after `start` (day one is the first working day after it)."""
        due, deadline = sla.working_days(start, days, region)
        named = {"region": region} if region is not None else {}
        return models.WorkingDays(
            start=start, days=days, due=due, deadline=deadline.isoformat(), **named
        )

    @calendar.get("/holidays")
    async def holidays(
        year: Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR)] = None,
        region: Annotated[str | None, Query(pattern=REGION)] = None,
    ) -> list[models.Holiday]:
        """Every holiday and cuti bersama day of `year` (this year by default), sorted by date."""
        return [
            models.Holiday(date=h.date.isoformat(), name=h.name, category=h.category)
            for h in sla.holidays(year, region)
        ]

    # -- deadlines and compliance (officers) --
    api = APIRouter(prefix="/api/v1", tags=["deadlines"], responses=OFFICER_ERRORS)

    @api.get("/deadlines")
    async def deadlines(
        principal: Annotated[Principal, Depends(officer)],
        tracking_id: Annotated[str | None, Query(max_length=40)] = None,
        agency: Annotated[str | None, Query(pattern=AGENCY, max_length=100)] = None,
        state: Annotated[State | None, Query()] = None,
        stage: Annotated[Stage | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[models.DeadlineRow]:
        """Deadlines by report, institution, state (overdue, due_soon, …) or stage."""
        if tracking_id is not None:
            try:
                tracking_id = normalize_tracking_id(tracking_id)
            except InvalidTrackingId as error:
                raise _invalid("query", "tracking_id", str(error)) from error
        try:
            rows = await sla.deadlines(
                principal,
                tracking_id=tracking_id,
                agency=agency,
                state=state,
                stage=stage,
                limit=limit,
                offset=offset,
            )
        except OtherInstitution as error:
            raise _forbidden(error) from error
        return [models.DeadlineRow.model_validate(row) for row in rows]

    @api.get("/compliance", response_model=models.Compliance, response_model_exclude_unset=True)
    async def compliance(
        principal: Annotated[Principal, Depends(officer)],
        agency: Annotated[str | None, Query(pattern=AGENCY, max_length=100)] = None,
    ) -> models.Compliance:
        """Per institution: the share of deadlines handled within their limit, and the median
        working days from forwarding to the first follow-up."""
        try:
            summary = await sla.compliance(principal, agency)
        except OtherInstitution as error:
            raise _forbidden(error) from error
        return models.Compliance.model_validate(summary)

    # -- escalation and evidence (the reporter; officers may read the evidence) --
    reporter_api = APIRouter(prefix="/api/v1", tags=["escalation"])

    @reporter_api.get("/evidence-key")
    async def evidence_key() -> models.EvidenceKey:
        """The Ed25519 public key that signs every evidence pack."""
        return models.EvidenceKey.model_validate(sla.signer.public_key_json())

    @reporter_api.post(
        "/reports/{tracking_id}/escalate",
        status_code=201,
        response_model=models.EscalationOutcome,
        response_model_exclude_unset=True,
        responses={
            **REPORTER_ERRORS,
            200: {"model": models.EscalationOutcome, "description": "Escalated before"},
            409: {"model": models.NotEligible, "description": "Not eligible (yet)"},
        },
    )
    async def escalate(
        tracking_id: TrackingId,
        request: Request,
        response: Response,
        x_access_code: Annotated[str | None, Header()] = None,
    ) -> models.EscalationOutcome:
        """Escalate to the Ombudsman RI office of the report's province: open 60 working days
        after the report without a final answer (wherever it is stuck), or 5 working days after
        a reopening without a new one. 409 names the day it opens."""
        state, events = await reporter.load(tracking_id, x_access_code, request)
        try:
            done = await sla.escalate(state, events, correlation_id(request))
        except EscalationNotOpen as error:
            raise HTTPException(
                409,
                {
                    "msg": f"not eligible for escalation: {error.reason or error}",
                    "eligible_from": error.eligible_from.isoformat()
                    if error.eligible_from
                    else None,
                    "opens_on": error.opens_on.isoformat() if error.opens_on else None,
                },
            ) from error
        named: dict[str, Any]
        if done.new:
            named = {
                "ombudsman_office_name": done.ombudsman_office_name,
                "already_escalated": False,
            }
        else:
            named = {"already_escalated": True, "message": already_escalated(done, state)}
            response.status_code = 200
        return models.EscalationOutcome(
            tracking_id=done.tracking_id,
            status="escalated",
            ombudsman_office=done.ombudsman_office,
            province_code=done.province_code,
            evidence_sha256=done.evidence_sha256,
            escalated_at=done.escalated_at.isoformat(),
            evidence=models.EvidenceLinks(
                json=f"/api/v1/reports/{tracking_id}/evidence.json",
                html=f"/api/v1/reports/{tracking_id}/evidence.html",
            ),
            **named,
        )

    def already_escalated(done: Escalated, state: ReportState) -> str:
        """A repeat (or a simultaneous second request) is told so, in both languages."""
        office = done.ombudsman_office_name or done.ombudsman_office or "Ombudsman RI"
        said = []
        for lang in ("id", "en"):
            t = translator(lang)
            at = dates.when(done.escalated_at, state.region_code, lang)
            said.append(t("api.escalation.already", office=office, at=at))
        return " / ".join(said)

    async def evidence_for(
        tracking_id: str, code: str | None, who: Principal | None, request: Request
    ) -> dict[str, Any]:
        if who is not None and code is None:
            state, events = await sla.load(tracking_id)
            await sla.officer_reads(state, who)
        else:
            state, events = await reporter.load(tracking_id, code, request)
        return await sla.evidence(state, events)

    @reporter_api.get(
        "/reports/{tracking_id}/evidence.json",
        response_model=models.EvidenceDocument,
        responses=REPORTER_ERRORS,
    )
    async def evidence_json(
        tracking_id: TrackingId,
        request: Request,
        who: Annotated[Principal | None, Depends(optional_officer)],
        x_access_code: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """The whole audit trail with its hash chain, signed (Ed25519).

        Answered exactly as signed: the model documents the document, it never re-encodes it
        (one changed character and the signature no longer verifies)."""
        document = await evidence_for(tracking_id, x_access_code, who, request)
        return JSONResponse(
            document,
            headers={"Content-Disposition": f'inline; filename="lapor-{tracking_id}.json"'},
        )

    @reporter_api.get(
        "/reports/{tracking_id}/evidence.html",
        response_class=HTMLResponse,
        responses=PAGE_ERRORS,
    )
    async def evidence_html(
        tracking_id: TrackingId,
        request: Request,
        who: Annotated[Principal | None, Depends(optional_officer)],
        x_access_code: Annotated[str | None, Header()] = None,
    ) -> HTMLResponse:
        """A readable, printable proof of a prior complaint."""
        document = await evidence_for(tracking_id, x_access_code, who, request)
        return HTMLResponse(render_html(document, language_of(request)))

    # -- the Ombudsman's list --
    ombudsman = ctx.auth.require(Role.OMBUDSMAN, Role.ADMIN)

    @reporter_api.get(
        "/escalations",
        response_model=list[models.EscalationRow],
        responses=OFFICER_ERRORS,
    )
    async def escalations(
        principal: Annotated[Principal, Depends(ombudsman)],
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[models.EscalationRow]:
        """Reports escalated to the Ombudsman RI, newest first: for role `ombudsman` (and the
        national administrators), only the reports of the token's region. Each names the office
        that received it and links its signed evidence pack (an officer reads it with the same
        token)."""
        rows = await sla.escalation_list(principal, limit, offset)
        return [
            models.EscalationRow.model_validate(
                row
                | {
                    "evidence": {
                        "json": f"/api/v1/reports/{row['tracking_id']}/evidence.json",
                        "html": f"/api/v1/reports/{row['tracking_id']}/evidence.html",
                    }
                }
            )
            for row in rows
        ]

    return [calendar, api, reporter_api]
