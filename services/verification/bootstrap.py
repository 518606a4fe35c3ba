"""Verification: the administrators' desk. Composition root and JSON API (DESIGN §5).

No `from __future__ import annotations` here: FastAPI must resolve the route signatures that
refer to dependencies defined inside `build`.
"""

import asyncio
import contextlib
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from services.verification import console
from services.verification.desk import Conflict, Desk, Forbidden, Invalid
from services.verification.inputs import (
    REGION_PATTERN,
    BulkVerifyIn,
    NotOurAuthorityIn,
    PostponeIn,
    ProtectionIn,
    RejectIn,
    RequestCompletionIn,
    TrackingId,
    VerifyIn,
    categories,
    normalized,
    protection_command,
    reject_command,
    verify_command,
)
from services.verification.views import SCHEMA, TABLES, DeskViews, QueueFilter, VerificationClock
from shared.auth import Principal, Role
from shared.http.common import correlation_id
from shared.reports.commands import Command, PostponeReport, ReferReport, RequestCompletion
from shared.reports.events import Classification, Status
from shared.runtime.bus import Service
from shared.runtime.projection import Projector
from shared.runtime.service import Context
from shared.runtime.service import create_app as create_service_app
from shared.settings import Settings
from shared.values import Channel

NAME = "verification"
QUEUE_DEPTH_EVERY_SECONDS = 15.0

IdempotencyKey = Annotated[str | None, Header(max_length=200)]


def install_errors(app: FastAPI) -> None:
    @app.exception_handler(Forbidden)
    async def _forbidden(_: Request, error: Forbidden) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=403)

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, error: Conflict) -> JSONResponse:
        return JSONResponse({"detail": error.detail()}, status_code=409)

    @app.exception_handler(Invalid)
    async def _invalid(_: Request, error: Invalid) -> JSONResponse:
        return JSONResponse({"detail": error.detail()}, status_code=422)


# --- composition root --------------------------------------------------------------------------
def create_projector(settings: Settings) -> Projector:
    return Projector(
        settings.view_db(NAME), NAME, SCHEMA, DeskViews(VerificationClock.default()).apply, TABLES
    )


def create_projectors(settings: Settings) -> list[Projector]:
    """Every read model of this service (for `lapor rebuild`)."""
    return [create_projector(settings)]


def api_router(ctx: Context, desk: Desk) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["verification"])
    admin = ctx.auth.require(Role.ADMIN)
    Admin = Annotated[Principal, Depends(admin)]

    async def run(
        request: Request, principal: Principal, tracking_id: str, command: Command, key: str | None
    ) -> dict[str, Any]:
        outcome = await desk.act(tracking_id, command, principal, correlation_id(request), key)
        await desk.wait_projected(outcome.position)
        return outcome.as_json()

    @router.get("/queue")
    async def queue(
        principal: Admin,
        response: Response,
        status: Status | None = None,
        category: Annotated[str | None, Query(max_length=64)] = None,
        region: Annotated[str | None, Query(pattern=REGION_PATTERN)] = None,
        channel: Channel | None = None,
        classification: Classification | None = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        postponed: Literal["hide", "only", "include"] = "hide",
        overdue: bool | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[dict[str, Any]]:
        """Reports waiting for an administrator, oldest first, each with its time left.

        Without `status`: submitted reports that are not postponed beyond today. A regional
        admin sees only their region. The total is in the `X-Total-Count` header.
        """
        rows, total = await desk.queue(
            principal,
            QueueFilter(
                status=status.value if status else None,
                category=category,
                region=region,
                channel=channel.value if channel else None,
                classification=classification.value if classification else None,
                q=q.strip() if q and q.strip() else None,
                postponed=postponed,
                overdue=overdue,
                limit=limit,
                offset=offset,
            ),
        )
        response.headers["X-Total-Count"] = str(total)
        return rows

    @router.get("/reports/{tracking_id}")
    async def report(tracking_id: TrackingId, principal: Admin) -> dict[str, Any]:
        """The admin's view of one report: content, time left, history and duplicate links."""
        return await desk.detail(principal, tracking_id)

    @router.get("/reports/{tracking_id}/duplicates")
    async def duplicates(
        tracking_id: TrackingId,
        principal: Admin,
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> list[dict[str, Any]]:
        """Likely duplicates (similar text, within ~500 m, within 30 days), best first."""
        return await desk.duplicates(principal, tracking_id, limit)

    @router.post("/reports/{tracking_id}/verify")
    async def verify(
        tracking_id: TrackingId,
        principal: Admin,
        request: Request,
        body: Annotated[VerifyIn | None, Body()] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        command = verify_command(body or VerifyIn())
        return await run(request, principal, tracking_id, command, idempotency_key)

    @router.post("/reports/{tracking_id}/request-completion")
    async def request_completion(
        tracking_id: TrackingId,
        principal: Admin,
        request: Request,
        body: RequestCompletionIn,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        command = RequestCompletion(note=body.note)
        return await run(request, principal, tracking_id, command, idempotency_key)

    @router.post("/reports/{tracking_id}/reject")
    async def reject(
        tracking_id: TrackingId,
        principal: Admin,
        request: Request,
        body: RejectIn,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        await desk.load_for(principal, tracking_id)
        command = await reject_command(desk, tracking_id, body)
        return await run(request, principal, tracking_id, command, idempotency_key)

    @router.post("/reports/{tracking_id}/postpone")
    async def postpone(
        tracking_id: TrackingId,
        principal: Admin,
        request: Request,
        body: PostponeIn,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        await desk.load_for(principal, tracking_id)
        desk.check_postpone(body.until)
        command = PostponeReport(until=body.until, note=body.note)
        return await run(request, principal, tracking_id, command, idempotency_key)

    @router.post("/reports/{tracking_id}/not-our-authority")
    async def not_our_authority(
        tracking_id: TrackingId,
        principal: Admin,
        request: Request,
        body: Annotated[NotOurAuthorityIn | None, Body()] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        body = body or NotOurAuthorityIn()
        command = ReferReport(to_region=body.to_region, note=body.note)
        return await run(request, principal, tracking_id, command, idempotency_key)

    @router.post("/reports/{tracking_id}/protection")
    async def protection(
        tracking_id: TrackingId,
        principal: Admin,
        request: Request,
        body: ProtectionIn,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Set or lift anonymous and confidential (to protect a reporter who forgot)."""
        command = protection_command(body)
        return await run(request, principal, tracking_id, command, idempotency_key)

    @router.post("/bulk-verify")
    async def bulk_verify(
        principal: Admin,
        request: Request,
        body: BulkVerifyIn,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Verify several reports as submitted. Refused as a whole (403) if any is outside the
        admin's region; otherwise one result per report (verified, unchanged, conflict,
        not_found)."""
        ids = [normalized(raw, f"tracking_ids.{i}") for i, raw in enumerate(body.tracking_ids)]
        results = await desk.bulk_verify(ids, principal, correlation_id(request), idempotency_key)
        positions = [r["position"] for r in results if r.get("position") is not None]
        await desk.wait_projected(max(positions) if positions else None)
        for result in results:
            result.pop("position", None)
        return {
            "results": results,
            "verified": sum(1 for r in results if r["outcome"] == "verified"),
        }

    return router


def build(ctx: Context) -> Service:
    projector = create_projector(ctx.settings)
    desk = Desk(ctx.reports, projector, ctx.clock, VerificationClock.default(), ctx.caught_up)

    async def queue_depth() -> None:
        while True:
            with contextlib.suppress(Exception):
                await desk.refresh_queue_depth()
            await asyncio.sleep(QUEUE_DEPTH_EVERY_SECONDS)

    return Service(
        routers=[api_router(ctx, desk), console.router(ctx, desk, categories)],
        projectors=[projector],
        background=[queue_depth],
    )


def create_app(settings: Settings | None = None, *, in_process: bool = False) -> FastAPI:
    app = create_service_app(
        NAME,
        build,
        settings,
        in_process=in_process,
        title="LAPOR verification",
        description="The administrators' desk: check every report within 3 working days.",
    )
    install_errors(app)
    return app


__all__ = ["create_app", "create_projector"]
