"""The polls part of intake, put together: intake's composition root includes what `build`
returns (`Service.including`)."""

from __future__ import annotations

from services.intake.polls.api import router as api_router
from services.intake.polls.codes import CodeSender, VerificationCodes
from services.intake.polls.config import PollSettings
from services.intake.polls.pages import router as pages_router
from services.intake.polls.ports import IntakePart
from services.intake.polls.usecases import Polls
from services.intake.polls.views import create_projector
from shared.runtime.bus import Periodic, Service
from shared.runtime.service import Context


def build(ctx: Context, intake: IntakePart) -> Service:
    """The API (`/api/v1/polls…`) and pages (`/jajak-pendapat…`), the polls view (kept by
    intake's consumer) and the job that closes polls on schedule (`close-polls`)."""
    settings = PollSettings()
    data = ctx.settings.data_dir
    polls = Polls(
        ctx,
        intake,
        projector=create_projector(data),
        codes=VerificationCodes(data / "poll_codes.db", intake.secret, settings),
        sender=CodeSender(ctx.settings.sms_sendsms_url, ctx.settings.smtp_url),
    )
    return Service(
        routers=[api_router(ctx, intake, polls), pages_router(intake, polls)],
        projectors=[polls.projector],
        periodic=[
            Periodic("close-polls", lambda: settings.polls_tick_seconds, polls.close_on_schedule)
        ],
        on_stop=[polls.close_resources],
    )
