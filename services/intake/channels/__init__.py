"""Intake's channels besides the JSON API: SMS (Kannel), e-mail, social webhooks, Open311, offline.

Each channel module exposes a FastAPI router; `routers` wires them into the intake app. One more
router carries only a lifespan: it starts the inbound SMTP server (when `LAPOR_INTAKE_SMTP_PORT`
is set) once intake is up, and closes the send API client and the reply log when it stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

if TYPE_CHECKING:
    from services.intake.bootstrap import Intake
    from shared.runtime.service import Context


def routers(ctx: Context, intake: Intake) -> list[APIRouter]:
    from services.intake.channels import email, offline, open311, sms, social
    from services.intake.channels.common import ChannelDesk

    desk = ChannelDesk(ctx, intake)
    api = social.SendApi(desk.config)
    config = desk.config
    mail: email.MailServer | None = None
    if config.intake_smtp_port is not None:
        mail = email.MailServer(
            email.MailIntake(desk),
            config.intake_smtp_host,
            config.intake_smtp_port,
            config.intake_smtp_hostname,
            config.intake_smtp_max_bytes,
        )

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        if mail is not None:
            await mail.start()
        try:
            yield
        finally:
            if mail is not None:
                await mail.stop()
            await api.aclose()
            desk.close()

    return [
        sms.build(desk),
        social.build(desk, api),
        open311.build(ctx, intake),
        offline.build(ctx, intake),
        APIRouter(lifespan=lifespan),
    ]
