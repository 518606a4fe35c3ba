"""Intake, the citizen's side: the composition root. It wires the use cases (`usecases.Intake`) to
the JSON API (`api.py`), the pages (`pages.py`), the channels (`channels/`) and the polls part
(`polls`), keeps the views (`views.py`), and runs the views' retention pass on schedule.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.types import Scope

from services.intake import views, web_errors
from services.intake.api import api_router
from services.intake.channels import email, offline, open311, sms, social
from services.intake.channels.common import ChannelDesk
from services.intake.config import IntakeSettings, ViewRetention
from services.intake.pages import pages_router
from services.intake.polls import build as build_polls
from services.intake.polls import create_projector as polls_projector
from services.intake.site import error_html, error_page
from services.intake.usecases import NAME, Intake
from shared.http.limits import Answer, BodySizeLimit
from shared.logs import get_logger
from shared.runtime.bus import Periodic, Service
from shared.runtime.directory import follow
from shared.runtime.projection import Projector, open_view_db
from shared.runtime.service import Context
from shared.runtime.service import create_app as create_service_app
from shared.settings import Settings

log = get_logger(__name__)
RETENTION_JOB = "view-retention"


def create_projector(settings: Settings) -> Projector:
    upgrade_views(settings)
    report_views = views.ReportViews()
    return Projector(
        settings.view_db(NAME),
        NAME,
        views.SCHEMA,
        report_views,
        views.TABLES,
        views.VERSION,
        views.DEFERRED_INDEXES,
    )


def create_projectors(settings: Settings) -> list[Projector]:
    """Every read model of this service (for `lapor rebuild`): intake's and the polls' views."""
    return [create_projector(settings), polls_projector(settings.data_dir)]


def upgrade_views(settings: Settings) -> bool:
    """Drop a view file of an older schema; True when it must be rebuilt from the store."""
    path = settings.view_db(NAME)
    if not path.exists():
        return False
    conn = open_view_db(path)
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS checkpoint"
            " (name TEXT PRIMARY KEY, position INTEGER NOT NULL)"
        )
        return views.drop_stale(conn, NAME)
    finally:
        conn.close()


def channel_routers(ctx: Context, intake: Intake) -> list[APIRouter]:
    """SMS (Kannel), social webhooks, Open311, offline reports; and one router that carries only
    a lifespan: it starts the inbound SMTP server (when `LAPOR_INTAKE_SMTP_PORT` is set) once
    intake is up, and closes the send API client and the reply log when it stops."""
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


def retention_jobs(intake: Intake) -> list[Periodic]:
    """Security hook (issue 12, retention): with LAPOR_VIEW_RETENTION_DAYS set, finished reports'
    text leaves these views N days after their last change (the store keeps every event; see
    docs/security.md)."""
    retention = ViewRetention()
    days = retention.retention_days
    if days is None:
        return []

    async def drop_expired() -> int:
        return await intake.drop_expired_text(days)

    return [Periodic(RETENTION_JOB, lambda: retention.retention_check_seconds, drop_expired)]


def build(ctx: Context) -> Service:
    stale = upgrade_views(ctx.settings)
    projector = create_projector(ctx.settings)
    if stale:  # the runtime replays the store into it before the service starts
        projector.stale = True
    intake = Intake(ctx, projector)
    return Service(
        routers=[
            api_router(ctx, intake),
            pages_router(ctx, intake),
            *channel_routers(ctx, intake),
        ],
        projectors=[projector],
        react=follow(intake.directory),
        periodic=retention_jobs(intake),
        on_stop=[intake.close],
    ).including(build_polls(ctx, intake))


def create_app(settings: Settings | None = None, *, in_process: bool = False) -> FastAPI:
    app = create_service_app(
        NAME,
        build,
        settings,
        in_process=in_process,
        title="LAPOR intake",
        description="Citizens' reports from every channel, their tracking and public views.",
    )
    # The citizen's home page replaces the runtime's plain-text "/".
    app.router.routes = [
        route
        for route in app.router.routes
        if not (getattr(route, "path", None) == "/" and getattr(route, "name", "") == "root")
    ]
    # The citizen's pages answer errors with a page in their language, never raw JSON.
    web_errors.install(app, error_page)
    limits = IntakeSettings()
    page = web_errors.body_too_large_page(
        lambda language, status, key, values: error_html(language, status, key, values).encode()
    )

    def too_large(scope: Scope, status: int, limit: int) -> Answer | None:
        return open311.body_too_large(scope, status, limit) or page(scope, status, limit)

    app.add_middleware(
        BodySizeLimit,
        max_body=limits.max_body_bytes,
        max_multipart=limits.max_multipart_bytes,
        answer=too_large,
    )
    return app
