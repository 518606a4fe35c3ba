"""Notify: tells reporters and liaison officers what happened, on their own channel, once.

Composition root and HTTP surface. Event consumer -> `Reactions` plan notices into the outbox ->
`Dispatcher` sends them (Kannel SMS, SMTP e-mail, social send APIs, or the web report page) and
records NotificationSent / NotificationFailed / NotificationSkipped in `notifications-<id>`.

No `from __future__ import annotations` here: FastAPI must resolve the route signatures that
refer to dependencies defined inside `build`.
"""

import asyncio
import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials

from services.notify import views
from services.notify.contacts import Contacts, OfficerDirectory
from services.notify.dispatcher import Dispatcher
from services.notify.notices import Links
from services.notify.outbox import Outbox, OutboxRow
from services.notify.reactions import Reactions
from services.notify.rendering import Renderer
from services.notify.settings import NotifySettings
from shared.auth import Principal, Role, access_code_matches
from shared.crypto import KeyStore
from shared.http.limits import AccessCodeGuard
from shared.notifications.events import NotificationChannel
from shared.reports.events import ReportSubmitted
from shared.reports.lifecycle import stream_name
from shared.reports.tracking import InvalidTrackingId, normalize_tracking_id
from shared.runtime.bus import Service
from shared.runtime.projection import Projector, ViewReader
from shared.runtime.service import Context
from shared.runtime.service import create_app as create_service_app
from shared.senders.base import Sender
from shared.senders.kannel import KannelSms
from shared.senders.smtp import SmtpEmail
from shared.senders.social import MetaSendApi, WhatsAppCloud, XDirectMessage
from shared.settings import Settings

NAME = "notify"
STATUSES = ("pending", "sending", "retrying", "sent", "failed", "unreachable")
_OUTBOX_STATUS = {"skipped": "unreachable"}


def create_projector(settings: Settings) -> Projector:
    return Projector(settings.view_db(NAME), NAME, views.SCHEMA, views.apply, views.TABLES)


def create_projectors(settings: Settings) -> list[Projector]:
    """Every read model of this service (for `lapor rebuild`)."""
    return [create_projector(settings)]


def outbox_path(settings: Settings) -> Any:
    return settings.data_dir / "notify_outbox.db"


def build_senders(
    settings: Settings, notify: NotifySettings
) -> tuple[dict[str, Sender], dict[str, str]]:
    """The configured channels, and for each missing one the setting that would enable it."""
    timeout = notify.notify_send_timeout_seconds
    senders: dict[str, Sender] = {}
    missing: dict[str, str] = {}
    if settings.sms_sendsms_url:
        senders["sms"] = KannelSms(settings.sms_sendsms_url, notify.sms_sender, timeout)
    else:
        missing["sms"] = "SMS is not configured (LAPOR_SMS_SENDSMS_URL is not set)"
    if settings.smtp_url:
        senders["email"] = SmtpEmail(settings.smtp_url, notify.smtp_from, timeout)
    else:
        missing["email"] = "e-mail is not configured (LAPOR_SMTP_URL is not set)"
    if notify.whatsapp_api_url and notify.whatsapp_token and notify.whatsapp_phone_number_id:
        senders["whatsapp"] = WhatsAppCloud(
            notify.whatsapp_api_url,
            notify.whatsapp_token.get_secret_value(),
            notify.whatsapp_phone_number_id,
            timeout,
        )
    else:
        missing["whatsapp"] = (
            "WhatsApp is not configured (LAPOR_WHATSAPP_API_URL, LAPOR_WHATSAPP_TOKEN,"
            " LAPOR_WHATSAPP_PHONE_NUMBER_ID)"
        )
    for channel, url, token in (
        (NotificationChannel.MESSENGER, notify.messenger_api_url, notify.messenger_token),
        (NotificationChannel.INSTAGRAM, notify.instagram_api_url, notify.instagram_token),
    ):
        if url and token:
            senders[channel.value] = MetaSendApi(channel, url, token.get_secret_value(), timeout)
        else:
            env = channel.value.upper()
            missing[channel.value] = (
                f"{channel.value} is not configured (LAPOR_{env}_API_URL, LAPOR_{env}_TOKEN)"
            )
    if notify.x_api_url and notify.x_token:
        senders["x"] = XDirectMessage(notify.x_api_url, notify.x_token.get_secret_value(), timeout)
    else:
        missing["x"] = "X is not configured (LAPOR_X_API_URL, LAPOR_X_TOKEN)"
    return senders, missing


def _iso_epoch(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat() if epoch is not None else None


def _from_outbox(row: OutboxRow, erased: bool) -> dict[str, Any]:
    return {
        "notification_id": str(row.notification_id),
        "tracking_id": row.tracking_id,
        "event_type": row.cause_event_type,
        "cause_event_id": str(row.cause_event_id),
        "recipient": row.recipient_kind,
        "agency_code": row.agency_code,
        "recipient_masked": None
        if erased and row.recipient_kind == "reporter"
        else (row.recipient_masked),
        "channel": row.channel,
        "template": row.template,
        "language": row.language,
        "status": _OUTBOX_STATUS.get(row.state, row.state),
        "attempts": row.attempts,
        "detail": row.detail,
        "possible_duplicate": row.possible_duplicate,
        "recorded": row.recorded,
        "correlation_id": row.correlation_id,
        "created_at": row.created_at,
        "first_attempt_at": row.first_attempt_at,
        "last_attempt_at": row.last_attempt_at,
        "next_attempt_at": _iso_epoch(row.next_attempt_epoch),
        "completed_at": row.completed_at,
    }


def _from_view(row: Any) -> dict[str, Any]:
    return {
        "notification_id": row["notification_id"],
        "tracking_id": row["tracking_id"],
        "event_type": row["cause_event_type"],
        "cause_event_id": row["cause_event_id"],
        "recipient": row["recipient_kind"],
        "agency_code": row["agency_code"],
        "recipient_masked": None,
        "channel": row["channel"],
        "template": row["template"],
        "language": row["language"],
        "status": row["status"],
        "attempts": row["attempts"],
        "detail": row["detail"],
        "possible_duplicate": bool(row["possible_duplicate"]),
        "recorded": True,
        "correlation_id": row["correlation_id"],
        "created_at": None,
        "first_attempt_at": None,
        "last_attempt_at": None,
        "next_attempt_at": None,
        "completed_at": row["completed_at"],
    }


def quiet_http_client_logs() -> None:
    """httpx logs every request URL at INFO: for sendsms that is the receiver's number, the text
    and the gateway password. Notify's own log lines say what matters."""
    for name in ("httpx", "httpcore", "aiosmtplib"):
        logging.getLogger(name).setLevel(logging.WARNING)


def build(ctx: Context) -> Service:
    quiet_http_client_logs()
    notify_settings = NotifySettings()
    settings = ctx.settings
    projector = create_projector(settings)
    view = ViewReader(projector.path)
    outbox = Outbox(outbox_path(settings))
    keys = KeyStore(settings.data_dir / "keys.db", settings.master_secret)
    officers = OfficerDirectory(settings.master_secret)
    senders, missing = build_senders(settings, notify_settings)
    dispatcher = Dispatcher(
        outbox=outbox,
        store=ctx.store,
        clock=ctx.clock,
        renderer=Renderer(),
        contacts=Contacts(ctx.store, keys, officers),
        senders=senders,
        unconfigured=missing,
        settings=notify_settings,
    )
    reactions = Reactions(
        store=ctx.store,
        outbox=outbox,
        clock=ctx.clock,
        officers=officers.officers,
        links=Links(settings.public_base_url),
        wake=dispatcher.wake,
    )
    router = APIRouter(prefix="/api/v1", tags=["notifications"])

    guard = AccessCodeGuard(ctx.settings.failed_access_codes_per_minute)

    async def reporter_may_read(tracking_id: str, access_code: str) -> bool:
        events = await ctx.store.read(stream_name(tracking_id))
        submitted = events[0].payload() if events else None
        return isinstance(submitted, ReportSubmitted) and access_code_matches(
            settings.master_secret, tracking_id, access_code, submitted.access_code_hash
        )

    @router.get(
        "/notifications",
        summary="The delivery log: which notice went where, and how it ended",
        description="Officers (admin, ombudsman) see every notice; a reporter (X-Access-Code with"
        " tracking_id) sees the notices to them. Contact details appear masked at most.",
    )
    async def list_notifications(
        request: Request,
        tracking_id: Annotated[str | None, Query(max_length=20)] = None,
        status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        x_access_code: Annotated[str | None, Header(max_length=64)] = None,
    ) -> list[dict[str, Any]]:
        if tracking_id is not None:
            try:
                tracking_id = normalize_tracking_id(tracking_id)
            except InvalidTrackingId as error:
                raise HTTPException(
                    422,
                    [{"loc": ["query", "tracking_id"], "field": "tracking_id", "msg": str(error)}],
                ) from error
        reporter_only = False
        header = request.headers.get("authorization")
        if header:
            scheme, _, token = header.partition(" ")
            principal: Principal = ctx.auth.principal(
                HTTPAuthorizationCredentials(scheme=scheme, credentials=token)
            )
            if principal.role not in (Role.ADMIN, Role.OMBUDSMAN):
                raise HTTPException(
                    403, f"Authorization: role {principal.role.value} may not do this"
                )
        elif x_access_code and tracking_id:
            guard.check(request)
            if not await reporter_may_read(tracking_id, x_access_code):
                guard.failed(request)
                raise HTTPException(403, "X-Access-Code: wrong access code for this report")
            reporter_only = True
        else:
            raise HTTPException(
                401,
                "Authorization: a Bearer token (admin, ombudsman), or X-Access-Code with"
                " tracking_id, is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        outbox_state = {"unreachable": "skipped"}.get(status or "", status)
        rows = await asyncio.to_thread(outbox.rows_for, tracking_id, outbox_state, limit)
        erased = {
            tid: await asyncio.to_thread(keys.is_erased, tid)
            for tid in {r.tracking_id for r in rows}
        }
        merged: dict[str, dict[str, Any]] = {
            str(r.notification_id): _from_outbox(r, erased[r.tracking_id]) for r in rows
        }
        where, params = [], []
        if tracking_id is not None:
            where.append("tracking_id = ?")
            params.append(tracking_id)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        sql = "SELECT * FROM notifications"
        if where:
            sql += " WHERE " + " AND ".join(where)
        for row in await view.fetchall(sql + " ORDER BY position LIMIT ?", [*params, limit]):
            merged.setdefault(row["notification_id"], _from_view(row))
        items = list(merged.values())
        if reporter_only:
            items = [i for i in items if i["recipient"] == "reporter"]
        return items[:limit]

    async def close() -> None:
        for sender in senders.values():
            await sender.close()
        outbox.close()
        keys.close()

    return Service(
        routers=[router],
        projectors=[projector],
        react=reactions,
        background=[dispatcher.run],
        on_stop=[close],
    )


def create_app(settings: Settings | None = None, *, in_process: bool = False) -> FastAPI:
    return create_service_app(
        NAME,
        build,
        settings,
        in_process=in_process,
        title="LAPOR notify",
        description="Notices to reporters and liaison officers on their own channel, exactly"
        " once per event and recipient, with a delivery log for ops.",
    )


__all__ = ["create_app", "create_projector"]
