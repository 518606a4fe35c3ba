"""The desk's JSON API (DESIGN §5): parse the request, call the desk, answer a model.

No `from __future__ import annotations` here: FastAPI must resolve the route signatures that
refer to dependencies defined inside `router`.
"""

from typing import Annotated, Any, Literal

from fastapi import (
    APIRouter,
    Body,
    Depends,
    FastAPI,
    Header,
    HTTPException,
    Query,
    Request,
    Response,
)
from fastapi.responses import JSONResponse

from services.verification.actions import ActionIn, command_for
from services.verification.models import (
    REGION_PATTERN,
    ActionOutcome,
    AdminReplyIn,
    BulkVerifyIn,
    BulkVerifyOut,
    ConflictOut,
    DuplicateSuggestion,
    ForwardIn,
    InvalidOut,
    NotOurAuthorityIn,
    PostponeIn,
    Problem,
    ProtectionIn,
    PublicTextIn,
    QueueRow,
    RejectIn,
    ReportDetail,
    RequestCompletionIn,
    VerifyIn,
)
from services.verification.usecases import (
    Conflict,
    Desk,
    Forbidden,
    Invalid,
)
from services.verification.views import QueueFilter
from shared.auth import Principal, Role
from shared.http.common import correlation_id
from shared.i18n.refusals import in_both_languages
from shared.reports.events import Classification, Status
from shared.reports.tracking import InvalidTrackingId, normalize_tracking_id
from shared.runtime.service import Context
from shared.values import Channel

IdempotencyKey = Annotated[
    str | None,
    Header(max_length=200, description="A retry with the same key returns the first answer"),
]

READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No valid bearer token"},
    403: {"model": Problem, "description": "Not an admin, or outside the admin's region"},
    404: {"model": Problem, "description": "No such report"},
}
ACTION_ERRORS: dict[int | str, dict[str, Any]] = READ_ERRORS | {
    409: {
        "model": ConflictOut,
        "description": "Another admin decided first, or the status does not allow the action",
    },
    422: {"model": InvalidOut, "description": "Bad input, naming the field"},
}


def install_errors(app: FastAPI) -> None:
    """The desk's own errors, as the JSON API answers them."""

    @app.exception_handler(Forbidden)
    async def _forbidden(_: Request, error: Forbidden) -> JSONResponse:
        return JSONResponse({"detail": in_both_languages(str(error))}, status_code=403)

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, error: Conflict) -> JSONResponse:
        detail = error.detail().model_dump(mode="json")
        detail["msg"] = in_both_languages(detail["msg"])
        return JSONResponse({"detail": detail}, status_code=409)

    @app.exception_handler(Invalid)
    async def _invalid(_: Request, error: Invalid) -> JSONResponse:
        detail = [{**d, "msg": in_both_languages(str(d["msg"]))} for d in error.detail()]
        return JSONResponse({"detail": detail}, status_code=422)


def normalized(raw: str, field: str, where: str = "body") -> str:
    try:
        return normalize_tracking_id(raw)
    except InvalidTrackingId as error:
        raise HTTPException(
            422, [{"loc": [where, field], "field": field, "msg": str(error)}]
        ) from error


def tracking_id_param(tracking_id: str) -> str:
    return normalized(tracking_id, "tracking_id", "path")


TrackingId = Annotated[str, Depends(tracking_id_param)]


def router(ctx: Context, desk: Desk) -> APIRouter:
    r = APIRouter(prefix="/api/v1", tags=["verification"])
    Admin = Annotated[Principal, Depends(ctx.auth.require(Role.ADMIN))]

    async def act(
        request: Request, principal: Principal, tracking_id: str, body: ActionIn, key: str | None
    ) -> ActionOutcome:
        command = await command_for(desk, principal, tracking_id, body)
        outcome = await desk.act(
            tracking_id, command, principal, correlation_id(request), key, client_key=True
        )
        return outcome.answer()

    @r.get(
        "/queue",
        responses={
            200: {"headers": {"X-Total-Count": {"description": "All matching reports"}}},
            401: READ_ERRORS[401],
            403: READ_ERRORS[403],
        },
    )
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
    ) -> list[QueueRow]:
        """Reports waiting for an administrator, oldest first, each with its time left.

        Without `status`: everything that needs an administrator: new reports (and those the
        reporter completed after a request, `amended_after_request`) not postponed beyond today,
        and reports an institution returned (`returned`, with their 3-working-day re-forward
        deadline in `time_left`). A regional admin sees only their region. The total is in the
        `X-Total-Count` header.
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

    @r.get("/reports/{tracking_id}", responses=READ_ERRORS)
    async def report(tracking_id: TrackingId, principal: Admin) -> ReportDetail:
        """The admin's view of one report: content, time left, history and duplicate links."""
        return await desk.detail(principal, tracking_id)

    @r.get("/reports/{tracking_id}/duplicates", responses=READ_ERRORS)
    async def duplicates(
        tracking_id: TrackingId,
        principal: Admin,
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
    ) -> list[DuplicateSuggestion]:
        """Likely duplicates (similar text, within ~500 m, within 30 days), best first."""
        return await desk.duplicates(principal, tracking_id, limit)

    @r.post("/reports/{tracking_id}/verify", responses=ACTION_ERRORS)
    async def verify(
        tracking_id: TrackingId,
        principal: Admin,
        request: Request,
        body: Annotated[VerifyIn | None, Body()] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> ActionOutcome:
        """Verify the report, as submitted (`{}` or no body) or with corrections."""
        return await act(request, principal, tracking_id, body or VerifyIn(), idempotency_key)

    @r.post("/reports/{tracking_id}/request-completion", responses=ACTION_ERRORS)
    async def request_completion(
        tracking_id: TrackingId,
        principal: Admin,
        request: Request,
        body: RequestCompletionIn,
        idempotency_key: IdempotencyKey = None,
    ) -> ActionOutcome:
        """Ask the reporter to complete the report; the deadline pauses until they do. The
        request says (in the text the reporter receives) that the report closes as incomplete
        10 working days later without an answer; the reporter is reminded after 5."""
        await desk.load_for(principal, tracking_id)  # 403 and 404 first
        return await act(request, principal, tracking_id, body, idempotency_key)

    @r.post("/reports/{tracking_id}/reject", responses=ACTION_ERRORS)
    async def reject(
        tracking_id: TrackingId,
        principal: Admin,
        request: Request,
        body: RejectIn,
        idempotency_key: IdempotencyKey = None,
    ) -> ActionOutcome:
        """Reject the report with a reason; as a duplicate it names the original."""
        await desk.load_for(principal, tracking_id)  # 403 and 404 before judging the body
        duplicate_of = normalized(body.duplicate_of, "duplicate_of") if body.duplicate_of else None
        body = body.model_copy(update={"duplicate_of": duplicate_of})
        return await act(request, principal, tracking_id, body, idempotency_key)

    @r.post("/reports/{tracking_id}/postpone", responses=ACTION_ERRORS)
    async def postpone(
        tracking_id: TrackingId,
        principal: Admin,
        request: Request,
        body: PostponeIn,
        idempotency_key: IdempotencyKey = None,
    ) -> ActionOutcome:
        """Hide the report from the queue until a later day, at the latest its due date: the
        deadline never moves (422 naming `until` beyond it)."""
        await desk.load_for(principal, tracking_id)  # 403 and 404 before judging the body
        return await act(request, principal, tracking_id, body, idempotency_key)

    @r.post("/reports/{tracking_id}/not-our-authority", responses=ACTION_ERRORS)
    async def not_our_authority(
        tracking_id: TrackingId,
        principal: Admin,
        request: Request,
        body: Annotated[NotOurAuthorityIn | None, Body()] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> ActionOutcome:
        """Not our authority: a regional desk sends the report up to the national desk; the
        national desk may refer it to a region's admins (`to_region`). Also for a report an
        institution returned."""
        asked = body or NotOurAuthorityIn()
        return await act(request, principal, tracking_id, asked, idempotency_key)

    @r.post("/reports/{tracking_id}/forward", responses=ACTION_ERRORS)
    async def forward(
        tracking_id: TrackingId,
        principal: Admin,
        request: Request,
        body: ForwardIn,
        idempotency_key: IdempotencyKey = None,
    ) -> ActionOutcome:
        """Forward a report an institution returned (or a verified one) to an institution of
        the directory; its first follow-up is due under that institution's limit from now."""
        await desk.load_for(principal, tracking_id)
        return await act(request, principal, tracking_id, body, idempotency_key)

    @r.post("/reports/{tracking_id}/reply", responses=ACTION_ERRORS)
    async def reply(
        tracking_id: TrackingId,
        principal: Admin,
        request: Request,
        body: AdminReplyIn,
        idempotency_key: IdempotencyKey = None,
    ) -> ActionOutcome:
        """An administrator answers on a followed-up report's page (AdministratorReplied): the
        reporter sees it, and it restarts the 10 working days to closing after a final answer."""
        return await act(request, principal, tracking_id, body, idempotency_key)

    @r.post("/reports/{tracking_id}/public-text", responses=ACTION_ERRORS)
    async def public_text(
        tracking_id: TrackingId,
        principal: Admin,
        request: Request,
        body: PublicTextIn,
        idempotency_key: IdempotencyKey = None,
    ) -> ActionOutcome:
        """Set what the public reads of the report (PublicTextSet), e.g. without a phone number
        or a name; the reporter and the institution keep the original."""
        return await act(request, principal, tracking_id, body, idempotency_key)

    @r.post("/reports/{tracking_id}/protection", responses=ACTION_ERRORS)
    async def protection(
        tracking_id: TrackingId,
        principal: Admin,
        request: Request,
        body: ProtectionIn,
        idempotency_key: IdempotencyKey = None,
    ) -> ActionOutcome:
        """Set or lift anonymous and confidential (to protect a reporter who forgot)."""
        return await act(request, principal, tracking_id, body, idempotency_key)

    @r.post(
        "/bulk-verify",
        responses={
            401: READ_ERRORS[401],
            403: READ_ERRORS[403],
            422: ACTION_ERRORS[422],
        },
    )
    async def bulk_verify(
        principal: Admin,
        request: Request,
        body: BulkVerifyIn,
        idempotency_key: IdempotencyKey = None,
    ) -> BulkVerifyOut:
        """Verify several reports as submitted. Refused as a whole (403) if any is outside the
        admin's region; otherwise one result per report (verified, unchanged, conflict,
        not_found)."""
        ids = [normalized(raw, f"tracking_ids.{i}") for i, raw in enumerate(body.tracking_ids)]
        return await desk.bulk_verify(ids, principal, correlation_id(request), idempotency_key)

    return r
