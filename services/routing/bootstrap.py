"""Routing: the institution directory, forwarding, returns, transfers and the agency desk.

The composition root: wires the views, the live directory, the use cases, the JSON API
(`api.py`), the HTML desk (`pages.py`) and the reactions (`reactions.py`) into one service.
"""

from __future__ import annotations

from functools import partial

from services.routing import views
from services.routing.api import api_router
from services.routing.integration import asyncapi_router
from services.routing.pages import pages_router
from services.routing.reactions import make_react
from services.routing.usecases import DirectoryDesk, RoutingDesk
from shared.runtime.bus import Service
from shared.runtime.directory import DirectoryRepository, LiveDirectory
from shared.runtime.projection import Projector, ViewReader
from shared.runtime.rules import Rules, load_rules
from shared.runtime.service import Context
from shared.runtime.service import create_app as create_service_app
from shared.settings import Settings

NAME = "routing"


def create_projector(settings: Settings, rules: Rules | None = None) -> Projector:
    rules = rules or load_rules()  # a reopening's due date is counted with them
    report_views = views.ReportViews(rules.calendar, rules.policy)
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
    """Every read model of this service (for `lapor rebuild`)."""
    return [create_projector(settings)]


def build(ctx: Context) -> Service:
    rules = load_rules()  # the calendar and policy the sla service counts deadlines with
    projector = create_projector(ctx.settings, rules)
    calendar = rules.calendar
    live = LiveDirectory(ctx.store)
    desk = RoutingDesk(
        ctx.reports,
        ViewReader(projector.path),
        live,
        calendar,
        ctx.clock.now,
        ctx.caught_up,
        rules.policy,
    )
    directory = DirectoryDesk(live, DirectoryRepository(ctx.store, ctx.clock, live.base))
    return Service(
        routers=[
            api_router(ctx.auth, desk, directory),
            pages_router(ctx, desk),
            asyncapi_router(ctx.settings),
        ],
        projectors=[projector],
        react=make_react(ctx.reports, live, calendar, rules.policy),
        home="/desk",
    )


# The service's app: `create_app(settings=None, *, in_process=False)` (the runtime's shell).
create_app = partial(
    create_service_app,
    NAME,
    build,
    title="LAPOR routing",
    description=(
        "The institution directory and routing rules, forwarding of verified reports, and the"
        " agency desk: inbox, follow-ups, returns and transfers (JSON API and HTML at /desk)."
    ),
)


__all__ = ["create_app", "create_projector", "create_projectors"]
