"""Notify: tells reporters and liaison officers what happened, on their own channel, once.

The composition root. Event consumer -> `Reactions` plan notices into the outbox -> the periodic
job "dispatch" (`Dispatcher`) sends them (Kannel SMS, SMTP e-mail, social send APIs, or the web
report page) and records NotificationSent / NotificationFailed / NotificationSkipped in
`notifications-<id>`; `GET /api/v1/notifications` (`api`) reads the delivery log (`usecases`).
"""

from __future__ import annotations

from functools import partial
from urllib.parse import urlsplit

from services.notify import api, views
from services.notify.contacts import Contacts, StaffDirectory
from services.notify.dispatcher import POLL_SECONDS, Dispatcher
from services.notify.notices import Links
from services.notify.outbox import FILE_NAME, Outbox
from services.notify.reactions import Reactions
from services.notify.rendering import Renderer
from services.notify.senders import build_senders
from services.notify.settings import NotifySettings
from services.notify.usecases import DeliveryLog
from shared.calendar import WorkingDayCalendar
from shared.http.limits import AccessCodeGuard
from shared.keys import open_key_store
from shared.reports.policy import load_policy
from shared.runtime.bus import Periodic, Service
from shared.runtime.directory import LiveDirectory
from shared.runtime.projection import Projector, ViewReader
from shared.runtime.service import Context
from shared.runtime.service import create_app as create_service_app
from shared.settings import Settings

NAME = "notify"


def create_projector(settings: Settings) -> Projector:
    return Projector(settings.view_db(NAME), NAME, views.SCHEMA, views.apply, views.TABLES)


def create_projectors(settings: Settings) -> list[Projector]:
    """Every read model of this service (for `lapor rebuild`)."""
    return [create_projector(settings)]


def build(ctx: Context) -> Service:
    notify_settings = NotifySettings()
    settings = ctx.settings
    projector = create_projector(settings)
    outbox = Outbox(settings.data_dir / FILE_NAME)
    keys = open_key_store(settings)
    staff = StaffDirectory(settings.master_secret, LiveDirectory(ctx.store))
    contacts = Contacts(ctx.store, keys, staff)
    senders, missing = build_senders(settings, notify_settings)
    dispatcher = Dispatcher(
        outbox=outbox,
        store=ctx.store,
        clock=ctx.clock,
        renderer=Renderer(reply_address=notify_settings.intake_email_from),
        contacts=contacts,
        senders=senders,
        unconfigured=missing,
        settings=notify_settings,
    )
    calendar = (
        WorkingDayCalendar.from_file(notify_settings.sla_calendar_file)
        if notify_settings.sla_calendar_file is not None
        else WorkingDayCalendar.default()
    )
    reactions = Reactions(
        store=ctx.store,
        outbox=outbox,
        clock=ctx.clock,
        staff=staff,
        contacts=contacts,
        links=links(settings, notify_settings),
        calendar=calendar,
        policy=load_policy(notify_settings.sla_policy_file),
    )
    delivery_log = DeliveryLog(
        outbox=outbox,
        view=ViewReader(projector.path),
        keys=keys,
        store=ctx.store,
        master_secret=settings.master_secret,
    )
    guard = AccessCodeGuard(settings.failed_access_codes_per_minute)

    async def close() -> None:
        for sender in senders.values():
            await sender.close()
        outbox.close()
        keys.close()

    return Service(
        routers=[api.router(delivery_log, ctx.auth, guard)],
        projectors=[projector],
        react=reactions,
        periodic=[Periodic("dispatch", lambda: POLL_SECONDS, dispatcher.dispatch)],
        on_stop=[close],
    )


def links(settings: Settings, notify: NotifySettings) -> Links:
    """Where notices point: the public site (LAPOR_PUBLIC_BASE_URL), and for staff their own
    desk, console or evidence pages (their own settings, else the public host on that service's
    port, which is what `lapor up` serves)."""
    public = urlsplit(settings.public_base_url)

    def on_public_host(service: str) -> str:
        host = public.hostname or settings.host
        return f"{public.scheme or 'http'}://{host}:{settings.port_of(service)}"

    return Links(
        public_base_url=settings.public_base_url,
        desk_base_url=notify.desk_base_url or on_public_host("routing"),
        console_base_url=notify.console_base_url or on_public_host("verification"),
        evidence_base_url=notify.evidence_base_url or on_public_host("sla"),
    )


# The service's app: `create_app(settings=None, *, in_process=False)` (the runtime's shell).
create_app = partial(
    create_service_app,
    NAME,
    build,
    title="LAPOR notify",
    description="Notices to reporters and liaison officers on their own channel, exactly"
    " once per event and recipient, with a delivery log for ops.",
)


__all__ = ["create_app", "create_projector", "create_projectors"]
