"""WhatsApp Cloud API, Messenger, Instagram and X direct messages: webhooks in, replies out.

Each platform's documented verification:
- Meta (WhatsApp, Messenger, Instagram): the subscription handshake `GET ?hub.mode=subscribe&
  hub.verify_token=…&hub.challenge=…` echoes the challenge when the token is ours; every delivery
  carries `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the app secret>`.
- X (Account Activity API): the CRC check `GET ?crc_token=…` answers
  `{"response_token": "sha256=<base64 HMAC-SHA256(consumer secret, crc_token)>"}`; every delivery
  carries `x-twitter-webhooks-signature: sha256=<base64 HMAC of the body>`.
A missing or forged signature is refused with 403 before the body is read as JSON.

A text message is read with the SMS 1708 grammar (region keyword, `CEK`, `BALAS`), stored before
the webhook answers 200 (so the platform retries when we could not store it), and answered through
the platform's send API after the response (httpx with timeouts, tenacity retries). The platform's
message id is the idempotency key: a redelivered message is one report, and it is answered once
(the reply log remembers what was answered).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, SecretStr
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from services.intake.attachments import AttachmentRejected
from services.intake.channels.common import CHANNEL_MESSAGES, CHANNEL_REPLIES, ChannelDesk, Sender
from services.intake.channels.config import ChannelSettings
from services.intake.channels.conversation import converse
from services.intake.models import ErrorOut
from shared.http.common import correlation_id
from shared.logs import get_logger
from shared.values import Attachment, Channel

log = get_logger(__name__)

MAX_WEBHOOK_BYTES = 1_000_000
MAX_REPLY_CHARS = 1000


# --- verification -----------------------------------------------------------------------------
def meta_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def x_signature(secret: str, data: bytes) -> str:
    digest = hmac.new(secret.encode(), data, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def signature_ok(expected: str, received: str | None) -> bool:
    return received is not None and hmac.compare_digest(expected.encode(), received.encode())


# --- incoming messages ------------------------------------------------------------------------
MEDIA_TYPES = ("image", "document")
MAX_MEDIA_BYTES = 20_000_000  # a photo as a phone sends it (stored scaled down)


@dataclass(frozen=True)
class Incoming:
    """One message from a citizen, and where to send the answer."""

    channel: Channel
    sender_id: str
    message_id: str
    text: str
    name: str | None = None
    account_id: str | None = None  # our side: phone_number_id, page id, IG account id
    media_id: str | None = None  # WhatsApp: a photo or document sent with the message


def _dicts(value: Any) -> Iterable[dict[str, Any]]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_whatsapp(payload: dict[str, Any]) -> list[Incoming]:
    """entry[].changes[].value.messages[] (from, id, type, text.body); statuses are skipped."""
    found: list[Incoming] = []
    for entry in _dicts(payload.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = _obj(change.get("value"))
            metadata = _obj(value.get("metadata"))
            names = {
                wa_id: _obj(c.get("profile")).get("name")
                for c in _dicts(value.get("contacts"))
                if (wa_id := _str(c.get("wa_id"))) is not None
            }
            for message in _dicts(value.get("messages")):
                sender, message_id = _str(message.get("from")), _str(message.get("id"))
                if sender is None or message_id is None:
                    continue
                kind = message.get("type", "text")
                media_id = None
                if kind == "text":
                    body = _str(_obj(message.get("text")).get("body"))
                elif kind in MEDIA_TYPES:
                    # A photo (or a PDF) with a caption is a report with its file.
                    media = _obj(message.get(kind))
                    body, media_id = _str(media.get("caption")), _str(media.get("id"))
                else:
                    body = None
                found.append(
                    Incoming(
                        Channel.WHATSAPP,
                        sender,
                        message_id,
                        body or "",
                        _str(names.get(sender)),
                        _str(metadata.get("phone_number_id")),
                        media_id,
                    )
                )
    return found


def parse_messaging(payload: dict[str, Any], channel: Channel) -> list[Incoming]:
    """Messenger / Instagram: entry[].messaging[] (sender.id, recipient.id, message.mid/text).

    Echoes of our own messages, reads, deliveries and postbacks are skipped.
    """
    found: list[Incoming] = []
    for entry in _dicts(payload.get("entry")):
        for event in _dicts(entry.get("messaging")):
            message = event.get("message")
            if not isinstance(message, dict) or message.get("is_echo"):
                continue
            sender = _str(_obj(event.get("sender")).get("id"))
            message_id = _str(message.get("mid"))
            if sender is None or message_id is None:
                continue
            recipient = _str(_obj(event.get("recipient")).get("id")) or _str(entry.get("id"))
            found.append(
                Incoming(
                    channel, sender, message_id, _str(message.get("text")) or "", None, recipient
                )
            )
    return found


def parse_x(payload: dict[str, Any]) -> list[Incoming]:
    """direct_message_events[] of type message_create, not sent by our own account."""
    ours = _str(payload.get("for_user_id"))
    found: list[Incoming] = []
    for event in _dicts(payload.get("direct_message_events")):
        if event.get("type") != "message_create":
            continue
        create = _obj(event.get("message_create"))
        sender, message_id = _str(create.get("sender_id")), _str(event.get("id"))
        if sender is None or message_id is None or sender == ours:
            continue
        data = _obj(create.get("message_data"))
        found.append(
            Incoming(Channel.TWITTER, sender, message_id, _str(data.get("text")) or "", None, ours)
        )
    return found


# --- outgoing replies -------------------------------------------------------------------------
class SendFailed(Exception):
    pass


def _retryable(error: BaseException) -> bool:
    if isinstance(error, httpx.TransportError):
        return True
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code == 429 or error.response.status_code >= 500
    return False


class SendApi:
    """The platforms' send APIs: one httpx client, timeouts, bounded retries."""

    def __init__(self, config: ChannelSettings, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        timeout = httpx.Timeout(
            config.channel_http_timeout, connect=min(5.0, config.channel_http_timeout)
        )
        self.client = client or httpx.AsyncClient(timeout=timeout)
        # httpx logs each request's URL at INFO; X's URL names the citizen's account.
        logging.getLogger("httpx").setLevel(logging.WARNING)

    def request(self, message: Incoming, text: str) -> tuple[str, dict[str, Any], SecretStr | None]:
        """URL, JSON body and token of the documented send call answering `message`."""
        c = self.config
        text = text[:MAX_REPLY_CHARS]
        if message.channel is Channel.WHATSAPP:
            return (
                f"{c.meta_graph_url.rstrip('/')}/{message.account_id}/messages",
                {
                    "messaging_product": "whatsapp",
                    "recipient_type": "individual",
                    "to": message.sender_id,
                    "type": "text",
                    "text": {"preview_url": False, "body": text},
                },
                c.whatsapp_access_token,
            )
        if message.channel is Channel.FACEBOOK:
            return (
                f"{c.meta_graph_url.rstrip('/')}/{message.account_id or 'me'}/messages",
                {
                    "recipient": {"id": message.sender_id},
                    "messaging_type": "RESPONSE",
                    "message": {"text": text},
                },
                c.messenger_access_token,
            )
        if message.channel is Channel.INSTAGRAM:
            return (
                f"{c.instagram_graph_url.rstrip('/')}/{message.account_id or 'me'}/messages",
                {"recipient": {"id": message.sender_id}, "message": {"text": text}},
                c.instagram_access_token,
            )
        return (
            f"{c.x_api_url.rstrip('/')}/2/dm_conversations/with/{message.sender_id}/messages",
            {"text": text},
            c.x_access_token,
        )

    def _retrying(self) -> AsyncRetrying:
        """Attempts of one call to a platform: transient errors again, with backoff."""
        return AsyncRetrying(
            stop=stop_after_attempt(self.config.channel_http_attempts),
            wait=wait_exponential(multiplier=0.2, max=5),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )

    async def send(self, message: Incoming, text: str) -> bool:
        """Send the answer. False when the channel has no token (skipped); raises SendFailed."""
        url, body, token = self.request(message, text)
        if token is None or (message.channel is Channel.WHATSAPP and not message.account_id):
            return False
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
        try:
            async for attempt in self._retrying():
                with attempt:
                    response = await self.client.post(url, json=body, headers=headers)
                    response.raise_for_status()
        except httpx.HTTPError as error:
            status = (
                error.response.status_code if isinstance(error, httpx.HTTPStatusError) else None
            )
            raise SendFailed(f"{type(error).__name__} {status or ''}".strip()) from error
        return True

    async def media(self, message: Incoming) -> bytes | None:
        """The file of a WhatsApp message (Cloud API: GET /{media-id} gives a short-lived URL,
        fetched with the same token), at most MAX_MEDIA_BYTES; None when it cannot be had."""
        token = self.config.whatsapp_access_token
        if message.media_id is None or token is None:
            return None
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
        base = self.config.meta_graph_url.rstrip("/")
        try:
            async for attempt in self._retrying():
                with attempt:
                    found = await self.client.get(f"{base}/{message.media_id}", headers=headers)
                    found.raise_for_status()
                    url = _str(_obj(found.json()).get("url"))
                    if url is None:
                        return None
                    data = bytearray()
                    async with self.client.stream("GET", url, headers=headers) as response:
                        response.raise_for_status()
                        async for chunk in response.aiter_bytes():
                            data += chunk
                            if len(data) > MAX_MEDIA_BYTES:
                                return None
                    return bytes(data)
        except (httpx.HTTPError, ValueError) as error:
            log.warning("whatsapp_media_unavailable", error_type=type(error).__name__)
        return None

    async def aclose(self) -> None:
        await self.client.aclose()


# --- the webhooks -----------------------------------------------------------------------------
class Webhooks:
    def __init__(self, desk: ChannelDesk, api: SendApi) -> None:
        self.desk = desk
        self.api = api
        self.config = desk.config

    async def handle(
        self, request: Request, messages: list[Incoming], background: BackgroundTasks
    ) -> None:
        cid = correlation_id(request)
        for message in messages:
            sender = Sender(message.channel, message.sender_id, message.name)
            files = await self.files(message)
            answer = await converse(
                self.desk, sender, message.text, message.message_id, cid, attachments=files
            )
            if answer.tracking_id:
                structlog.contextvars.bind_contextvars(tracking_id=answer.tracking_id)
            log.info("social_message", channel=message.channel.value, outcome=answer.outcome)
            background.add_task(self.answer, message, answer.text)

    async def files(self, message: Incoming) -> tuple[Attachment, ...]:
        """The photo or document sent with a message, checked and stored like any upload (a
        file we do not take is left out: the report keeps its text)."""
        if message.media_id is None:
            return ()
        data = await self.api.media(message)
        if data is None:
            return ()
        try:
            return await self.desk.intake.store_uploads([(data, None, None)])
        except AttachmentRejected as refused:
            log.info("whatsapp_media_refused", reason=refused.key)
            return ()

    async def answer(self, message: Incoming, text: str) -> None:
        channel = message.channel.value
        key = self.desk.replies.key(message.channel, message.message_id)
        if not await self.desk.replies.claim(key):
            CHANNEL_REPLIES.labels(channel, "duplicate").inc()
            return
        try:
            sent = await self.api.send(message, text)
        except SendFailed as error:
            await self.desk.replies.failed(key)
            CHANNEL_REPLIES.labels(channel, "failed").inc()
            log.warning("social_reply_failed", channel=channel, error=str(error))
            return
        except Exception as error:
            await self.desk.replies.failed(key)
            CHANNEL_REPLIES.labels(channel, "failed").inc()
            log.exception("social_reply_failed", channel=channel, error_type=type(error).__name__)
            return
        if not sent:
            await self.desk.replies.failed(key)
            CHANNEL_REPLIES.labels(channel, "skipped").inc()
            log.info("social_reply_skipped", channel=channel, reason="no access token")
            return
        await self.desk.replies.sent(key)
        CHANNEL_REPLIES.labels(channel, "sent").inc()


async def _body(request: Request) -> bytes | Response:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        return JSONResponse({"detail": "body: too large"}, status_code=413)
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        return JSONResponse({"detail": "body: too large"}, status_code=413)
    return body


def _json(body: bytes) -> dict[str, Any] | Response:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return JSONResponse({"detail": "body: not JSON"}, status_code=400)
    except RecursionError:  # nested deeper than the parser goes
        return JSONResponse({"detail": "body: nested too deep"}, status_code=400)
    if not isinstance(payload, dict):
        return JSONResponse({"detail": "body: a JSON object is expected"}, status_code=400)
    return payload


def _forbidden(what: str, channel: Channel) -> JSONResponse:
    CHANNEL_MESSAGES.labels(channel.value, "forged").inc()
    log.warning("webhook_refused", channel=channel.value, reason=what)
    return JSONResponse({"detail": f"{what}: missing or wrong signature"}, status_code=403)


def _unconfigured(setting: str) -> JSONResponse:
    return JSONResponse({"detail": f"channel not configured: set {setting}"}, status_code=503)


class DeliveryOut(BaseModel):
    """A webhook delivery was taken: `ok` with how many messages it carried (answered in the
    background), or `ignored` (another object than this webhook's; no `messages`)."""

    status: str
    messages: int | None = None


class CrcOut(BaseModel):
    """X's CRC check: `sha256=<base64 HMAC-SHA256(consumer secret, crc_token)>`."""

    response_token: str


WEBHOOK_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Not a JSON object"},
    403: {"model": ErrorOut, "description": "Missing or wrong signature"},
    413: {"model": ErrorOut, "description": "Body too large"},
    503: {"model": ErrorOut, "description": "Channel not configured"},
}
_JSON_ERROR = {"application/json": {"schema": ErrorOut.model_json_schema()}}
HANDSHAKE_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "hub.challenge, echoed as text/plain"},
    403: {"description": "Wrong hub.verify_token", "content": _JSON_ERROR},
    503: {"description": "Channel not configured", "content": _JSON_ERROR},
}


META_PATHS: dict[str, tuple[Channel, str]] = {
    "whatsapp": (Channel.WHATSAPP, "whatsapp_business_account"),
    "messenger": (Channel.FACEBOOK, "page"),
    "instagram": (Channel.INSTAGRAM, "instagram"),
}


def build(desk: ChannelDesk, api: SendApi) -> APIRouter:
    router = APIRouter(prefix="/channels", tags=["channels"])
    hooks = Webhooks(desk, api)
    config = desk.config

    def meta_handshake(request: Request) -> Response:
        token = config.meta_verify_token
        if token is None:
            return _unconfigured("LAPOR_META_VERIFY_TOKEN")
        params = request.query_params
        given = params.get("hub.verify_token", "")
        if params.get("hub.mode") != "subscribe" or not hmac.compare_digest(
            given.encode(), token.get_secret_value().encode()
        ):
            return JSONResponse({"detail": "hub.verify_token: wrong token"}, status_code=403)
        return PlainTextResponse(params.get("hub.challenge", ""))

    async def meta_delivery(
        request: Request, background: BackgroundTasks, path: str
    ) -> Response | DeliveryOut:
        channel, expected_object = META_PATHS[path]
        if config.meta_app_secret is None:
            return _unconfigured("LAPOR_META_APP_SECRET")
        body = await _body(request)
        if isinstance(body, Response):
            return body
        expected = meta_signature(config.meta_app_secret.get_secret_value(), body)
        if not signature_ok(expected, request.headers.get("x-hub-signature-256")):
            return _forbidden("X-Hub-Signature-256", channel)
        payload = _json(body)
        if isinstance(payload, Response):
            return payload
        if payload.get("object") != expected_object:
            return DeliveryOut(status="ignored")
        messages = (
            parse_whatsapp(payload)
            if channel is Channel.WHATSAPP
            else parse_messaging(payload, channel)
        )
        await hooks.handle(request, messages, background)
        return DeliveryOut(status="ok", messages=len(messages))

    def routes_for(path: str) -> None:
        async def get_handshake(request: Request) -> Response:
            return meta_handshake(request)

        async def post_delivery(
            request: Request, background: BackgroundTasks
        ) -> Response | DeliveryOut:
            return await meta_delivery(request, background, path)

        router.add_api_route(
            f"/{path}",
            get_handshake,
            methods=["GET"],
            summary=f"{path}: webhook subscription handshake (hub.challenge)",
            response_class=PlainTextResponse,
            responses=HANDSHAKE_ANSWERS,
        )
        router.add_api_route(
            f"/{path}",
            post_delivery,
            methods=["POST"],
            summary=f"{path}: webhook delivery (X-Hub-Signature-256)",
            response_model=DeliveryOut,
            response_model_exclude_unset=True,
            responses=WEBHOOK_ERRORS,
        )

    for path in META_PATHS:
        routes_for(path)

    @router.get(
        "/x",
        summary="X: CRC check (crc_token)",
        response_model=CrcOut,
        responses={400: WEBHOOK_ERRORS[400], 503: WEBHOOK_ERRORS[503]},
    )
    async def x_crc(request: Request) -> Response | CrcOut:
        secret = config.x_consumer_secret
        if secret is None:
            return _unconfigured("LAPOR_X_CONSUMER_SECRET")
        crc_token = request.query_params.get("crc_token")
        if not crc_token:
            return JSONResponse({"detail": "crc_token: required"}, status_code=400)
        token = x_signature(secret.get_secret_value(), crc_token.encode())
        return CrcOut(response_token=token)

    @router.post(
        "/x",
        summary="X: Account Activity delivery (x-twitter-webhooks-signature)",
        response_model=DeliveryOut,
        response_model_exclude_unset=True,
        responses=WEBHOOK_ERRORS,
    )
    async def x_delivery(request: Request, background: BackgroundTasks) -> Response | DeliveryOut:
        secret = config.x_consumer_secret
        if secret is None:
            return _unconfigured("LAPOR_X_CONSUMER_SECRET")
        body = await _body(request)
        if isinstance(body, Response):
            return body
        expected = x_signature(secret.get_secret_value(), body)
        if not signature_ok(expected, request.headers.get("x-twitter-webhooks-signature")):
            return _forbidden("x-twitter-webhooks-signature", Channel.TWITTER)
        payload = _json(body)
        if isinstance(payload, Response):
            return payload
        messages = parse_x(payload)
        await hooks.handle(request, messages, background)
        return DeliveryOut(status="ok", messages=len(messages))

    return router
