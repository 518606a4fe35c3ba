"""The polls' JSON API (`/api/v1/polls…`): parse, call a use case, answer a model.

No `from __future__ import annotations`: FastAPI resolves the route signatures that refer to the
dependencies defined inside `router`.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from services.intake.polls.models import (
    AnswerIn,
    AnswerOut,
    ClosedOut,
    CodeSentOut,
    OwnerResultsOut,
    PollIn,
    PollOut,
    RespondedOut,
    ResponseIn,
    ResultsOut,
    VerificationIn,
    normalize_code,
    problems,
)
from services.intake.polls.ports import IntakePart
from services.intake.polls.usecases import Polls
from shared.auth import Principal, Role
from shared.http.common import correlation_id
from shared.http.limits import client_address
from shared.polls.events import AGENCY_PATTERN, REGION_PATTERN
from shared.runtime.service import Context


def router(ctx: Context, intake: IntakePart, polls: Polls) -> APIRouter:
    api = APIRouter(prefix="/api/v1", tags=["polls"])
    Institution = Annotated[Principal, Depends(ctx.auth.require(Role.AGENCY, Role.ADMIN))]
    Officer = Annotated[Principal | None, Depends(ctx.auth.optional())]
    Code = Annotated[str, Depends(normalize_code)]

    def address(request: Request) -> str:
        return client_address(request)

    @api.get("/polls")
    async def list_polls(
        status: Annotated[str | None, Query(pattern=r"^(upcoming|open|closed)$")] = None,
        region: Annotated[str | None, Query(pattern=REGION_PATTERN)] = None,
        agency: Annotated[str | None, Query(pattern=AGENCY_PATTERN)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> list[PollOut]:
        """Polls, newest first: upcoming, open and closed (with `results_published`)."""
        return await polls.listing(status, region, agency, limit)

    @api.post("/polls", status_code=201, responses=problems(400, 401, 403, 409))
    async def open_poll(body: PollIn, request: Request, officer: Institution) -> PollOut:
        """Open a consultation (agency or admin token). Answer it by SMS: `POLL <code> <choice>`."""
        return await polls.open_poll(body, officer, correlation_id(request))

    @api.get("/polls/{code}", responses=problems(404))
    async def get_poll(code: Code) -> PollOut:
        return await polls.one(code)

    @api.post("/polls/{code}/verification", status_code=202, responses=problems(400, 404, 409, 429))
    async def verification(code: Code, body: VerificationIn, request: Request) -> CodeSentOut:
        """Send a 6-digit one-time code to a phone (SMS) or e-mail address, to answer with."""
        field, raw = body.raw()
        return await polls.request_code(code, raw, field, address(request))

    @api.post(
        "/polls/{code}/answers",
        status_code=201,
        responses={
            200: {"model": AnswerOut, "description": "Changed or unchanged"},
            **problems(400, 403, 404, 409, 429),
        },
    )
    async def answer(code: Code, body: AnswerIn, request: Request, response: Response) -> AnswerOut:
        """Answer (or change your answer) with the code sent to `identity`. One answer per
        phone/e-mail; `outcome` is submitted (201), changed or unchanged (200)."""
        result = await polls.answer(code, body, address(request), correlation_id(request))
        if result.outcome != "submitted":
            response.status_code = 200
        return result

    @api.get("/polls/{code}/results", responses=problems(404, 409))
    async def results(
        code: Code, request: Request, officer: Officer
    ) -> ResultsOut | OwnerResultsOut:
        """Tallies and the breakdown by region, once the poll has closed. Before: 409 for
        everyone, administrators included. The poll's institution and administrators also get
        the comments."""
        return await polls.results(code, officer, correlation_id(request))

    @api.post("/polls/{code}/close", responses=problems(401, 403, 404, 409))
    async def close(code: Code, request: Request, officer: Institution) -> ClosedOut:
        """Close now (the poll's institution or an admin); results are published at once."""
        return await polls.close(code, officer, correlation_id(request))

    @api.post(
        "/polls/{code}/response", status_code=201, responses=problems(400, 401, 403, 404, 409)
    )
    async def respond(
        code: Code, body: ResponseIn, request: Request, officer: Institution
    ) -> RespondedOut:
        """The institution's response to the consultation, after it closed."""
        return await polls.respond(code, body, officer, correlation_id(request))

    return api
