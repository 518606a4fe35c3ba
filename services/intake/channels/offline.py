"""Walk-in, letters and the suggestion box: staff record a report that came on paper or in person.

`POST /api/v1/offline-reports` (admin token) takes the report as the JSON API does, plus where it
came from (`source`) and the paper's reference (a letter number, a form number): the reference is
the idempotency key, so recording the same letter twice gives one report. The report's channel is
`offline`; the tracking ID and access code in the answer go to the citizen (on the receipt slip).
(The same reference with the same content, that is: a corrected letter is a new report.)

No `from __future__ import annotations`: FastAPI resolves the route's local names.
"""

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from services.intake.channels.common import CHANNEL_MESSAGES
from services.intake.models import ErrorOut, ReportIn, SubmitOut
from shared.auth import Principal, Role
from shared.http.common import correlation_id
from shared.logs import get_logger
from shared.store.port import WrongExpectedVersion
from shared.values import Channel

if TYPE_CHECKING:
    from services.intake.usecases import Intake
    from shared.runtime.service import Context

log = get_logger(__name__)


class OfflineSource(StrEnum):
    WALK_IN = "walk_in"
    LETTER = "letter"
    SUGGESTION_BOX = "suggestion_box"
    PHONE_CALL = "phone_call"


class OfflineReportIn(ReportIn):
    source: OfflineSource = Field(description="How the report reached the desk")
    reference: str | None = Field(
        default=None,
        max_length=100,
        pattern=r"^[\w./\-: ]+$",
        description="The letter's or form's number; recording it twice gives one report",
    )


def build(ctx: "Context", intake: "Intake") -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["reports"])
    admin = ctx.auth.require(Role.ADMIN)

    @router.post(
        "/offline-reports",
        status_code=201,
        response_model=SubmitOut,
        summary="Record a walk-in, letter or suggestion-box report (admin)",
        responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}},
    )
    async def record(
        body: OfflineReportIn,
        request: Request,
        officer: Annotated[Principal, Depends(admin)],
    ) -> SubmitOut:
        report = ReportIn.model_validate(body.model_dump(exclude={"source", "reference"}))
        key = f"offline:{body.source.value}:{body.reference}" if body.reference else None
        message_id = (
            f"{body.source.value}:{body.reference}" if body.reference else body.source.value
        )
        cid = correlation_id(request)
        try:
            created = await intake.submit(
                report, Channel.OFFLINE, cid, key, message_id, one_report_per_key=True
            )
        except WrongExpectedVersion:
            if key is None:
                raise
            created = await intake.submit(
                report, Channel.OFFLINE, cid, key, message_id, one_report_per_key=True
            )
        CHANNEL_MESSAGES.labels(Channel.OFFLINE.value, "report").inc()
        log.info(
            "offline_report",
            tracking_id=created.tracking_id,
            source=body.source.value,
            officer=officer.subject,
        )
        return created

    return router
