"""sla: working-day calendar, deadlines, breaches, auto-close and escalation to the Ombudsman.

The composition root (DESIGN §5, port 8003): wires the parts and is imported by nothing. The
deadlines are a view derived from events (``views``, counted by ``shared.reports.deadlines``); the
ticker (``ticker``, the periodic job "tick") acts on those that pass; the routes (``api``) answer
the calendar, the deadlines and compliance, and let the reporter escalate with a signed evidence
pack (``usecases``, ``evidence``).
"""

from __future__ import annotations

from functools import partial

from services.sla import api, views
from services.sla.config import Rules, SlaSettings, load_rules
from services.sla.ticker import Ticker
from services.sla.usecases import Sla
from shared.runtime.bus import Service
from shared.runtime.directory import LiveDirectory, follow
from shared.runtime.escalation import Escalations
from shared.runtime.projection import Projector, ViewReader
from shared.runtime.service import Context
from shared.runtime.service import create_app as create_service_app
from shared.settings import Settings
from shared.signing import Signer

NAME = "sla"


def create_projector(settings: Settings, rules: Rules | None = None) -> Projector:
    rules = rules or load_rules()
    return views.new_projector(settings.view_db(NAME), rules)


def create_projectors(settings: Settings) -> list[Projector]:
    """Every read model of this service (for `lapor rebuild`)."""
    return [create_projector(settings)]


def build(ctx: Context) -> Service:
    rules = load_rules(SlaSettings())
    projector = create_projector(ctx.settings, rules)
    directory = LiveDirectory(ctx.store)
    sla = Sla(
        ctx,
        rules,
        ViewReader(projector.path),
        Signer(ctx.settings.data_dir / "keys"),
        Escalations(ctx.reports, directory, rules, ctx.clock),
    )
    ticker = Ticker(projector, ctx.reports, ctx.clock, rules, ctx.settings.sla_tick_seconds)

    async def close_ticker() -> None:
        ticker.close()

    return Service(
        routers=api.routers(ctx, sla),
        projectors=[projector],
        react=follow(directory),
        periodic=[ticker.job()],
        on_stop=[close_ticker],
    )


# The service's app: `create_app(settings=None, *, in_process=False)` (the runtime's shell).
create_app = partial(
    create_service_app,
    NAME,
    build,
    title="LAPOR sla",
    description="Working-day calendar, deadlines, breaches, auto-close and escalation to the"
    " Ombudsman.",
)


__all__ = ["create_app", "create_projector", "create_projectors"]
