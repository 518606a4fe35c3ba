"""Routing: the institution directory, forwarding, returns, transfers and the agency desk.

Composition root and JSON API. No `from __future__ import annotations` here: FastAPI must resolve
the route signatures that refer to dependencies defined inside `build`.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from services.routing import views
from services.routing.desk import (
    AGENCY_CODE,
    Caller,
    FollowUpIn,
    ForwardIn,
    NotInInbox,
    ReturnIn,
    RoutingDesk,
    TransferIn,
)
from services.routing.pages import pages_router
from services.routing.reactions import make_react
from shared.auth import Principal, Role
from shared.calendar import WorkingDayCalendar
from shared.directory.model import (
    Directory,
    DirectoryError,
    Institution,
    RoutingRule,
    UnknownAgency,
    check_region_code,
)
from shared.directory.state import (
    InstitutionExists,
    decide_add,
    decide_rule,
    decide_rule_removal,
    decide_update,
)
from shared.events.base import Actor
from shared.http.common import correlation_id
from shared.reports.tracking import InvalidTrackingId, normalize_tracking_id
from shared.runtime.bus import Service
from shared.runtime.directory import DirectoryRepository, LiveDirectory
from shared.runtime.projection import Projector, ViewReader
from shared.runtime.repository import Meta
from shared.runtime.service import Context
from shared.runtime.service import create_app as create_service_app
from shared.settings import Settings
from shared.store.port import RecordedEvent

NAME = "routing"


def create_projector(settings: Settings) -> Projector:
    return Projector(settings.view_db(NAME), NAME, views.SCHEMA, views.apply, views.TABLES)


def create_projectors(settings: Settings) -> list[Projector]:
    """Every read model of this service (for `lapor rebuild`)."""
    return [create_projector(settings)]


class AgencyOut(BaseModel):
    code: str = Field(description="Agency code, as in NATS subjects")
    name: str
    level: str = Field(description="national|province|regency|city|opd|unit")
    region_code: str | None = Field(description="Kemendagri code without dots")
    parent: str | None = Field(description="The parent institution's code")


class AgencyDetail(AgencyOut):
    categories: list[str]
    sms_keywords: list[str]
    children: list[str]


def agency_out(inst: Institution) -> AgencyOut:
    return AgencyOut(
        code=inst.code,
        name=inst.name,
        level=inst.level,
        region_code=inst.region_code,
        parent=inst.parent,
    )


def tracking_id_param(tracking_id: Annotated[str, Path(max_length=40)]) -> str:
    try:
        return normalize_tracking_id(tracking_id)
    except InvalidTrackingId as error:
        raise HTTPException(
            422, [{"loc": ["path", "tracking_id"], "field": "tracking_id", "msg": str(error)}]
        ) from error


TrackingId = Annotated[str, Depends(tracking_id_param)]
IdempotencyKey = Annotated[str | None, Header(max_length=200)]

_PROBLEM_FIELDS = (
    ("parent", "parent"),
    ("keyword", "sms_keywords"),
    ("category", "categories"),
    ("region", "region_code"),
    ("government", "region_code"),
    ("level", "level"),
    ("agency code", "agency_code"),
)


def directory_problems(error: DirectoryError) -> HTTPException:
    """A directory that would be invalid: 400 naming the field each problem is about."""
    detail = []
    for problem in error.problems:
        text = problem.lower()
        field = next((f for word, f in _PROBLEM_FIELDS if word in text), "institution")
        detail.append({"loc": ["body", field], "field": field, "msg": problem})
    return HTTPException(400, detail)


def build(ctx: Context) -> Service:
    projector = create_projector(ctx.settings)
    calendar = WorkingDayCalendar.default()
    live = LiveDirectory(ctx.store)
    directories = DirectoryRepository(ctx.store, ctx.clock, live.base)
    desk = RoutingDesk(
        ctx.reports,
        ViewReader(projector.path),
        live,
        calendar,
        ctx.clock.now,
        ctx.caught_up,
    )
    router = APIRouter(prefix="/api/v1")

    require_agency = ctx.auth.require(Role.AGENCY)
    require_admin = ctx.auth.require(Role.ADMIN)

    def agency_of(principal: Annotated[Principal, Depends(require_agency)]) -> str:
        if not principal.agency:
            raise HTTPException(403, "Authorization: this agency token names no agency")
        return principal.agency

    def agency_caller(request: Request, agency: str, key: str | None) -> Caller:
        return Caller(Actor(kind="agency", id=agency), correlation_id(request), key)

    def admin_caller(request: Request, principal: Principal, key: str | None) -> Caller:
        return Caller(Actor(kind="admin", id=principal.subject), correlation_id(request), key)

    # --- directory (public reads, admin changes) -----------------------------------------------
    @router.get("/agencies", tags=["directory"], response_model=list[AgencyOut])
    async def agencies(
        level: Annotated[str | None, Query(max_length=16)] = None,
        region: Annotated[str | None, Query(pattern=r"^[0-9]{2,10}$")] = None,
        parent: Annotated[str | None, Query(pattern=AGENCY_CODE, max_length=64)] = None,
        q: Annotated[str | None, Query(max_length=100)] = None,
    ) -> list[AgencyOut]:
        """The institutions that receive reports: `[{code, name, level, region_code, parent}]`."""
        directory = await live.get()
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
        return [agency_out(i) for i in found]

    @router.get("/agencies/{code}", tags=["directory"], response_model=AgencyDetail)
    async def agency(
        code: Annotated[str, Path(pattern=AGENCY_CODE, max_length=64)],
    ) -> AgencyDetail:
        directory = await live.get()
        inst = directory.find(code)
        if inst is None:
            raise HTTPException(404, f"code: unknown institution {code}")
        return AgencyDetail(
            **agency_out(inst).model_dump(),
            categories=list(inst.categories),
            sms_keywords=list(inst.sms_keywords),
            children=[c.code for c in directory.children(code)],
        )

    async def change_directory(
        decide: Any, request: Request, principal: Principal, key: str | None
    ) -> list[RecordedEvent]:
        meta = Meta(
            actor=Actor(kind="admin", id=principal.subject),
            correlation_id=correlation_id(request),
            idempotency_key=f"routing:directory:{principal.subject}:{key}" if key else None,
        )
        try:
            stored = await directories.decide(decide, meta)
        except DirectoryError as error:
            raise directory_problems(error) from error
        except InstitutionExists as error:
            raise HTTPException(
                409, [{"loc": ["body", "code"], "field": "code", "msg": str(error)}]
            ) from error
        for event in stored:  # read your own writes; the consumer will see them again
            if not live.observe(event):
                await live.refresh()
        return stored

    @router.post("/agencies", tags=["directory"], status_code=201)
    async def add_agency(
        body: Institution,
        request: Request,
        principal: Annotated[Principal, Depends(require_admin)],
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Add an institution (admin): a DirectoryChanged event on the `directory` stream."""

        def decide(directory: Directory) -> list[Any]:
            return decide_add(directory, body)

        stored = await change_directory(decide, request, principal, idempotency_key)
        return {**agency_out(body).model_dump(), "events": [e.event_type for e in stored]}

    @router.put("/agencies/{code}", tags=["directory"])
    async def update_agency(
        code: Annotated[str, Path(pattern=AGENCY_CODE, max_length=64)],
        body: Institution,
        request: Request,
        principal: Annotated[Principal, Depends(require_admin)],
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Replace an institution's entry (admin): name, parent, keywords, categories, officers."""
        if body.code != code:
            raise HTTPException(
                400,
                [{"loc": ["body", "code"], "field": "code", "msg": f"must be {code} (the path)"}],
            )

        def decide(directory: Directory) -> list[Any]:
            try:
                return decide_update(directory, body)
            except UnknownAgency as error:
                raise HTTPException(404, f"code: unknown institution {code}") from error

        stored = await change_directory(decide, request, principal, idempotency_key)
        return {**agency_out(body).model_dump(), "events": [e.event_type for e in stored]}

    @router.get("/routing-rules", tags=["directory"])
    async def routing_rules() -> list[dict[str, Any]]:
        """Region (prefix) and category → institution; the most specific rule wins."""
        directory = await live.get()
        return [r.model_dump(mode="json") for r in directory.rules]

    @router.post("/routing-rules", tags=["directory"])
    async def set_routing_rule(
        body: RoutingRule,
        request: Request,
        principal: Annotated[Principal, Depends(require_admin)],
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Add or replace the rule for (region_prefix, category) (admin)."""

        def decide(directory: Directory) -> list[Any]:
            return decide_rule(directory, body)

        stored = await change_directory(decide, request, principal, idempotency_key)
        return {**body.model_dump(mode="json"), "events": [e.event_type for e in stored]}

    @router.delete("/routing-rules", tags=["directory"])
    async def remove_routing_rule(
        request: Request,
        principal: Annotated[Principal, Depends(require_admin)],
        region_prefix: Annotated[str | None, Query(pattern=r"^[0-9]{2,10}$")] = None,
        category: Annotated[str | None, Query(max_length=64)] = None,
    ) -> dict[str, Any]:
        """Remove the rule for (region_prefix, category) (admin)."""
        if region_prefix is not None:
            try:
                check_region_code(region_prefix)
            except ValueError as error:
                raise HTTPException(
                    422,
                    [
                        {
                            "loc": ["query", "region_prefix"],
                            "field": "region_prefix",
                            "msg": str(error),
                        }
                    ],
                ) from error

        def decide(directory: Directory) -> list[Any]:
            return decide_rule_removal(directory, region_prefix, category)

        stored = await change_directory(decide, request, principal, None)
        return {
            "region_prefix": region_prefix,
            "category": category,
            "events": [e.event_type for e in stored],
        }

    # --- agency desk ---------------------------------------------------------------------------
    @router.get("/inbox", tags=["agency desk"])
    async def inbox(
        agency: Annotated[str, Depends(agency_of)],
        status: Annotated[str | None, Query(pattern=r"^(forwarded|followed_up)$")] = None,
        category: Annotated[str | None, Query(max_length=64)] = None,
        overdue: Annotated[bool | None, Query()] = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[dict[str, Any]]:
        """Reports now with your institution (confidential ones included), soonest due first.

        `time_left` counts to the end of the first follow-up's due day in the report's region;
        it is null once a follow-up was posted. Never shows who reported."""
        return await desk.inbox(
            agency,
            status=status,
            category=category,
            overdue=overdue,
            q=q,
            limit=limit,
            offset=offset,
        )

    @router.get("/inbox/{tracking_id}", tags=["agency desk"])
    async def inbox_item(
        tracking_id: TrackingId,
        agency: Annotated[str, Depends(agency_of)],
        reader: Annotated[Principal, Depends(require_agency)],  # security hook (issue 12)
    ) -> dict[str, Any]:
        """One report in your inbox with its history; 404 if it is not with your institution."""
        try:
            return await desk.inbox_item(agency, tracking_id, reader=reader)
        except NotInInbox as error:
            raise HTTPException(404, "report not found") from error

    @router.post("/reports/{tracking_id}/follow-ups", tags=["agency desk"], status_code=201)
    async def follow_up(
        tracking_id: TrackingId,
        body: FollowUpIn,
        request: Request,
        agency: Annotated[str, Depends(agency_of)],
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Post a follow-up (interim, final, or a question the reporter is asked through LAPOR)."""
        caller = agency_caller(request, agency, idempotency_key)
        return await desk.follow_up(agency, tracking_id, body, caller)

    @router.post("/reports/{tracking_id}/return", tags=["agency desk"])
    async def return_report(
        tracking_id: TrackingId,
        body: ReturnIn,
        request: Request,
        agency: Annotated[str, Depends(agency_of)],
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Not ours: back to the admins with a reason; LAPOR suggests the next candidate."""
        caller = agency_caller(request, agency, idempotency_key)
        return await desk.return_report(agency, tracking_id, body, caller)

    @router.post("/reports/{tracking_id}/transfer", tags=["agency desk"])
    async def transfer(
        tracking_id: TrackingId,
        body: TransferIn,
        request: Request,
        agency: Annotated[str, Depends(agency_of)],
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Hand the report to an institution under the same parent (e.g. a sibling OPD)."""
        caller = agency_caller(request, agency, idempotency_key)
        return await desk.transfer(agency, tracking_id, body, caller)

    # --- admins --------------------------------------------------------------------------------
    @router.post("/reports/{tracking_id}/forward", tags=["admin"])
    async def forward(
        tracking_id: TrackingId,
        body: ForwardIn,
        request: Request,
        principal: Annotated[Principal, Depends(require_admin)],
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Forward a verified or returned report to the institution the admin chooses."""
        return await desk.forward(
            tracking_id, body, admin_caller(request, principal, idempotency_key)
        )

    @router.get("/returned", tags=["admin"])
    async def returned(
        _: Annotated[Principal, Depends(require_admin)],
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[dict[str, Any]]:
        """Reports institutions sent back, with their reason and the suggested next institution."""
        return await desk.returned(limit, offset)

    return Service(
        routers=[router, pages_router(ctx, desk)],
        projectors=[projector],
        react=make_react(ctx.reports, live, calendar),
    )


def create_app(settings: Settings | None = None, *, in_process: bool = False) -> FastAPI:
    return create_service_app(
        NAME,
        build,
        settings,
        in_process=in_process,
        title="LAPOR routing",
        description=(
            "The institution directory and routing rules, forwarding of verified reports, and the"
            " agency desk: inbox, follow-ups, returns and transfers (JSON API and HTML at /desk)."
        ),
    )


__all__ = ["create_app", "create_projector"]
