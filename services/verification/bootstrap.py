"""Verification: the administrators' desk. The composition root (DESIGN §5).

`api.py` answers the JSON API, `pages.py` the HTML console; both call the desk (`usecases.py`),
which reads the views (`views.py`) and appends to the report streams.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.verification import api, pages
from services.verification.usecases import Desk, categories
from services.verification.views import DEFERRED_INDEXES, SCHEMA, TABLES, VERSION, DeskViews
from shared.runtime.bus import Periodic, Service
from shared.runtime.directory import LiveDirectory, follow
from shared.runtime.projection import Projector
from shared.runtime.rules import Rules, load_rules
from shared.runtime.service import Context
from shared.runtime.service import create_app as create_service_app
from shared.settings import Settings

NAME = "verification"
QUEUE_DEPTH_EVERY_SECONDS = 15.0


def create_projector(settings: Settings, rules: Rules | None = None) -> Projector:
    rules = rules or load_rules()
    views = DeskViews(rules.calendar, rules.policy)
    return Projector(settings.view_db(NAME), NAME, SCHEMA, views, TABLES, VERSION, DEFERRED_INDEXES)


def create_projectors(settings: Settings) -> list[Projector]:
    """Every read model of this service (for `lapor rebuild`)."""
    return [create_projector(settings)]


def build(ctx: Context) -> Service:
    # One calendar and policy for the deadlines the view derives and the days the desk counts.
    rules = load_rules()
    projector = create_projector(ctx.settings, rules)
    directory = LiveDirectory(ctx.store)
    desk = Desk(
        ctx.reports, projector, ctx.clock, rules.calendar, ctx.caught_up, directory, rules.policy
    )
    return Service(
        routers=[api.router(ctx, desk), pages.router(ctx, desk, categories)],
        projectors=[projector],
        react=follow(directory),
        periodic=[
            Periodic("queue_depth", lambda: QUEUE_DEPTH_EVERY_SECONDS, desk.refresh_queue_depth)
        ],
        home="/console",
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
    api.install_errors(app)
    return app


__all__ = ["create_app", "create_projector", "create_projectors"]
