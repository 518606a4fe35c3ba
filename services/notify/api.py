"""Notify's JSON route: the delivery log (`GET /api/v1/notifications`).

No `from __future__ import annotations` here: FastAPI reads the route's signature at run time.
"""

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request

from services.notify.models import STATUSES, Notification, Problem
from services.notify.usecases import DeliveryLog
from shared.auth import Role
from shared.http.auth import Auth
from shared.http.common import ACCESS_CODE_WRONG
from shared.http.limits import AccessCodeGuard
from shared.i18n import both
from shared.reports.tracking import InvalidTrackingId, normalize_tracking_id

READERS = (Role.ADMIN, Role.OMBUDSMAN)


def router(log: DeliveryLog, auth: Auth, guard: AccessCodeGuard) -> APIRouter:
    routes = APIRouter(prefix="/api/v1", tags=["notifications"])
    # Called in the route, not as a dependency: a malformed tracking_id is answered (422)
    # before who is calling is looked at, as it always was.
    officer = auth.optional()

    @routes.get(
        "/notifications",
        summary="The delivery log: which notice went where, and how it ended",
        description="Officers (admin, ombudsman) see every notice (a regional officer those of"
        " the reports in their region); a reporter (X-Access-Code with tracking_id) sees the"
        " notices to them. Contact details appear masked at most.",
        responses={
            401: {"model": Problem, "description": "No or an invalid token or access code"},
            403: {
                "model": Problem,
                "description": "A role that may not read the log, or the wrong access code",
            },
            429: {"model": Problem, "description": "Too many wrong access codes"},
        },
    )
    async def list_notifications(
        request: Request,
        tracking_id: Annotated[str | None, Query(max_length=20)] = None,
        status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        x_access_code: Annotated[str | None, Header(max_length=64)] = None,
    ) -> list[Notification]:
        if tracking_id is not None:
            try:
                tracking_id = normalize_tracking_id(tracking_id)
            except InvalidTrackingId as error:
                raise HTTPException(
                    422,
                    [{"loc": ["query", "tracking_id"], "field": "tracking_id", "msg": str(error)}],
                ) from error
        reporter_only = False
        principal = officer(request)
        if principal is not None:
            if principal.role not in READERS:
                raise HTTPException(
                    403, f"Authorization: role {principal.role.value} may not do this"
                )
        elif x_access_code and tracking_id:
            guard.reserve(request)  # before the await: the limit holds for parallel guesses
            if not await log.reporter_may_read(tracking_id, x_access_code):
                raise HTTPException(403, f"X-Access-Code: {both(ACCESS_CODE_WRONG)}")
            guard.release(request)
            reporter_only = True
        else:
            raise HTTPException(
                401,
                "Authorization: a Bearer token (admin, ombudsman), or X-Access-Code with"
                " tracking_id, is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await log.entries(
            tracking_id=tracking_id,
            status=status,
            limit=limit,
            reporter_only=reporter_only,
            region=principal.region if principal is not None else None,
        )

    return routes
