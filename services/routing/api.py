"""Routing's JSON API: the directory (public reads, admin changes), the agency desk (inbox,
follow-ups, returns, transfers) and the admins' forwarding. Each route parses, calls a use case
and answers a model of `models.py`; the directory's refusals become errors naming the field.

No `from __future__ import annotations` here: FastAPI must resolve the route signatures that refer
to dependencies defined inside `api_router`.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request

from services.routing import models
from services.routing.usecases import Caller, DirectoryDesk, NotInInbox, RoutingDesk
from shared.auth import Principal, Role
from shared.directory.model import (
    DirectoryError,
    Institution,
    RoutingRule,
    UnknownAgency,
    check_region_code,
)
from shared.directory.state import InstitutionExists
from shared.http.auth import Auth
from shared.http.common import REPORT_NOT_FOUND, correlation_id
from shared.i18n import both
from shared.reports.tracking import InvalidTrackingId, normalize_tracking_id


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error answers of a route, for the OpenAPI document: all are `{"detail": …}`."""
    return {code: {"model": models.ErrorOut} for code in codes}


def tracking_id_param(tracking_id: Annotated[str, Path(max_length=40)]) -> str:
    try:
        return normalize_tracking_id(tracking_id)
    except InvalidTrackingId as error:
        raise HTTPException(
            422, [{"loc": ["path", "tracking_id"], "field": "tracking_id", "msg": str(error)}]
        ) from error


TrackingId = Annotated[str, Depends(tracking_id_param)]
IdempotencyKey = Annotated[str | None, Header(max_length=200)]
AgencyCode = Annotated[str, Path(pattern=models.AGENCY_CODE, max_length=64)]

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


@contextmanager
def directory_refusals() -> Iterator[None]:
    """A directory change refused: the errors name the field it is about."""
    try:
        yield
    except DirectoryError as error:
        raise directory_problems(error) from error
    except InstitutionExists as error:
        raise field_error(409, "body", "code", str(error)) from error


def unknown_institution(code: str) -> HTTPException:
    return HTTPException(404, f"code: unknown institution {code}")


def field_error(status: int, where: str, field: str, msg: str) -> HTTPException:
    return HTTPException(status, [{"loc": [where, field], "field": field, "msg": msg}])


def api_router(auth: Auth, desk: RoutingDesk, directory: DirectoryDesk) -> APIRouter:
    router = APIRouter(prefix="/api/v1")

    require_agency = auth.require(Role.AGENCY)
    require_admin = auth.require(Role.ADMIN)

    def agency_of(principal: Annotated[Principal, Depends(require_agency)]) -> str:
        if not principal.agency:
            raise HTTPException(403, "Authorization: this agency token names no agency")
        return principal.agency

    Agency = Annotated[str, Depends(agency_of)]

    def agency_caller(
        request: Request, agency: Agency, idempotency_key: IdempotencyKey = None
    ) -> Caller:
        """The institution acting at its desk, with the request's ids."""
        return Caller.agency(agency, correlation_id(request), idempotency_key)

    AgencyCaller = Annotated[Caller, Depends(agency_caller)]

    Admin = Annotated[Principal, Depends(require_admin)]

    def admin_caller(
        request: Request, principal: Admin, idempotency_key: IdempotencyKey = None
    ) -> Caller:
        """An administrator acting, with the request's ids."""
        return Caller.admin(principal.subject, correlation_id(request), idempotency_key)

    AdminCaller = Annotated[Caller, Depends(admin_caller)]

    # --- directory (public reads, admin changes) -----------------------------------------------
    @router.get("/agencies", tags=["directory"])
    async def agencies(
        level: Annotated[str | None, Query(max_length=16)] = None,
        region: Annotated[str | None, Query(pattern=r"^[0-9]{2,10}$")] = None,
        parent: Annotated[str | None, Query(pattern=models.AGENCY_CODE, max_length=64)] = None,
        q: Annotated[str | None, Query(max_length=100)] = None,
    ) -> list[models.AgencyOut]:
        """The institutions that receive reports: `[{code, name, level, region_code, parent}]`."""
        return await directory.agencies(level=level, region=region, parent=parent, q=q)

    @router.get("/agencies/{code}", tags=["directory"], responses=_errors(404))
    async def agency(code: AgencyCode) -> models.AgencyDetail:
        try:
            return await directory.agency(code)
        except UnknownAgency as error:
            raise unknown_institution(code) from error

    @router.post(
        "/agencies", tags=["directory"], status_code=201, responses=_errors(400, 401, 403, 409)
    )
    async def add_agency(
        body: Institution,
        principal: Admin,
        caller: AdminCaller,
    ) -> models.AgencyChanged:
        """Add an institution (admin): a DirectoryChanged event on the `directory` stream."""
        with directory_refusals():
            return await directory.add(body, caller, principal)

    @router.put("/agencies/{code}", tags=["directory"], responses=_errors(400, 401, 403, 404))
    async def update_agency(
        code: AgencyCode,
        body: Institution,
        principal: Admin,
        caller: AdminCaller,
    ) -> models.AgencyChanged:
        """Replace an institution's entry (admin): name, parent, keywords, categories, officers."""
        if body.code != code:
            raise field_error(400, "body", "code", f"must be {code} (the path)")
        try:
            with directory_refusals():
                return await directory.update(body, caller, principal)
        except UnknownAgency as error:
            raise unknown_institution(code) from error

    @router.get("/routing-rules", tags=["directory"])
    async def routing_rules() -> list[models.RoutingRuleOut]:
        """Region (prefix) and category → institution; the most specific rule wins."""
        return await directory.rules()

    @router.post("/routing-rules", tags=["directory"], responses=_errors(400, 401, 403))
    async def set_routing_rule(
        body: RoutingRule,
        principal: Admin,
        caller: AdminCaller,
    ) -> models.RoutingRuleChanged:
        """Add or replace the rule for (region_prefix, category) (admin)."""
        with directory_refusals():
            return await directory.set_rule(body, caller, principal)

    @router.delete("/routing-rules", tags=["directory"], responses=_errors(400, 401, 403))
    async def remove_routing_rule(
        request: Request,
        principal: Admin,
        region_prefix: Annotated[str | None, Query(pattern=r"^[0-9]{2,10}$")] = None,
        category: Annotated[str | None, Query(max_length=64)] = None,
    ) -> models.RoutingRuleRemoved:
        """Remove the rule for (region_prefix, category) (admin)."""
        if region_prefix is not None:
            try:
                check_region_code(region_prefix)
            except ValueError as error:
                raise field_error(422, "query", "region_prefix", str(error)) from error
        caller = admin_caller(request, principal, None)
        with directory_refusals():
            return await directory.remove_rule(region_prefix, category, caller, principal)

    # --- agency desk ---------------------------------------------------------------------------
    @router.get("/inbox", tags=["agency desk"], responses=_errors(401, 403))
    async def inbox(
        agency: Agency,
        status: Annotated[str | None, Query(pattern=r"^(forwarded|followed_up)$")] = None,
        category: Annotated[str | None, Query(max_length=64)] = None,
        overdue: Annotated[bool | None, Query()] = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[models.InboxItem]:
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

    @router.get("/inbox/{tracking_id}", tags=["agency desk"], responses=_errors(401, 403, 404))
    async def inbox_item(
        tracking_id: TrackingId,
        agency: Agency,
        reader: Annotated[Principal, Depends(require_agency)],  # security hook (issue 12)
    ) -> models.InboxDetail:
        """One report in your inbox with its history; 404 if it is not with your institution."""
        try:
            return await desk.inbox_item(agency, tracking_id, reader=reader)
        except NotInInbox as error:
            raise HTTPException(404, both(REPORT_NOT_FOUND)) from error

    desk_errors = _errors(400, 401, 403, 404, 409)

    @router.post(
        "/reports/{tracking_id}/follow-ups",
        tags=["agency desk"],
        status_code=201,
        responses=desk_errors,
    )
    async def follow_up(
        tracking_id: TrackingId,
        body: models.FollowUpIn,
        agency: Agency,
        caller: AgencyCaller,
    ) -> models.FollowUpOut:
        """Post a follow-up: `interim` (work in progress: meets the first-response deadline),
        `final` (done: starts the 10 working days to closing) or `question` (to the reporter:
        meets nothing; the inbox flags the report when the reporter answers)."""
        return await desk.follow_up(agency, tracking_id, body, caller)

    @router.post("/reports/{tracking_id}/return", tags=["agency desk"], responses=desk_errors)
    async def return_report(
        tracking_id: TrackingId,
        body: models.ReturnIn,
        agency: Agency,
        caller: AgencyCaller,
    ) -> models.ReturnOut:
        """Not ours: back to the admins with a reason; LAPOR suggests the next candidate."""
        return await desk.return_report(agency, tracking_id, body, caller)

    @router.post("/reports/{tracking_id}/transfer", tags=["agency desk"], responses=desk_errors)
    async def transfer(
        tracking_id: TrackingId,
        body: models.TransferIn,
        agency: Agency,
        caller: AgencyCaller,
    ) -> models.TransferOut:
        """Hand the report to an institution under the same parent (a sibling OPD: a new
        follow-up deadline), or to one of your own units (a delegation: the same deadline)."""
        return await desk.transfer(agency, tracking_id, body, caller)

    @router.post("/reports/{tracking_id}/delegate", tags=["agency desk"], responses=desk_errors)
    async def delegate(
        tracking_id: TrackingId,
        body: models.DelegateIn,
        agency: Agency,
        caller: AgencyCaller,
    ) -> models.DelegateOut:
        """Hand the report to one of your own units in the directory (a city's desk to its OPD,
        a Dinkes to its Puskesmas). The unit answers under the same follow-up deadline; the
        report stays in your desk as handed on (`GET /api/v1/handed-on`)."""
        return await desk.delegate(agency, tracking_id, body, caller)

    @router.get("/handed-on", tags=["agency desk"], responses=_errors(401, 403))
    async def handed_on(
        agency: Agency,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[models.HandedOnItem]:
        """Reports that left your institution (delegated to a unit, transferred, returned to
        the admins), newest first, with their status and the institution holding them now."""
        return await desk.handed_on(agency, limit, offset)

    # --- admins --------------------------------------------------------------------------------
    @router.post("/reports/{tracking_id}/forward", tags=["admin"], responses=desk_errors)
    async def forward(
        tracking_id: TrackingId,
        body: models.ForwardIn,
        principal: Admin,
        caller: AdminCaller,
    ) -> models.ForwardOut:
        """Forward a verified or returned report to the institution the admin chooses."""
        return await desk.forward(tracking_id, body, caller, principal)

    @router.get("/returned", tags=["admin"], responses=_errors(401, 403))
    async def returned(
        principal: Admin,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[models.ReturnedItem]:
        """Reports institutions sent back, with their reason and the suggested next institution
        (a regional admin's: those of their region)."""
        return await desk.returned(limit, offset, principal.region)

    return router
