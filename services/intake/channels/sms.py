"""SMS 1708 through Kannel: `/channels/sms` answers Kannel's get-url and post-url calls.

Kannel calls with `from`, `to`, `text`, `id` (get-url `...?from=%p&to=%P&text=%b&id=%I`; post-url
sends the text as the body with `X-Kannel-From`/`X-Kannel-To` when `send-sender = true`) and sends
our text/plain answer back to the citizen as the reply SMS. So every answer is a 200 with text
that fits one SMS (GSM-7, 160): a non-2xx would make Kannel send "Could not fetch content".

The same Kannel message id twice gives the same report and the same answer (the id is the
idempotency key, from which intake derives the same tracking ID and access code).
"""

from __future__ import annotations

import hmac
import urllib.parse
from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from services.intake.channels.common import CHANNEL_MESSAGES, ChannelDesk, Sender
from services.intake.channels.config import sms_webhook_token
from services.intake.channels.conversation import BUSY, converse
from shared.http.common import correlation_id
from shared.logs import get_logger
from shared.sms.grammar import HELP_TEXT
from shared.sms.gsm7 import SINGLE_GSM7
from shared.values import Channel

log = get_logger(__name__)

MAX_SMS_BYTES = 40_000  # a concatenated SMS is at most 255 parts of 153 characters
_PARAMETERS: list[dict[str, Any]] = [
    {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": d}
    for name, d in (
        ("from", "Sender's number (Kannel %p)"),
        ("to", "Number the SMS was sent to, 1708 (%P)"),
        ("text", "The message text (%b keeps it exactly; %a collapses spaces)"),
        ("id", "Kannel's message id (%I): the idempotency key"),
        ("coding", "Optional: Kannel's coding (%c): 2 = UCS-2"),
        ("charset", "Optional: the text's charset (%C)"),
        ("token", "Required: the gateway's token (LAPOR_SMS_WEBHOOK_TOKEN)"),
    )
]

# 200 for everything Kannel relays (it sends a non-2xx as "Could not fetch content"): the reply
# SMS itself. Only a caller that is not the gateway gets anything else.
PLAIN_TEXT = {"text/plain": {"schema": {"type": "string"}}}
ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The reply SMS (GSM-7, at most 160 characters), errors too",
        "content": PLAIN_TEXT,
    },
    403: {
        "description": "token: wrong or missing webhook token (not the gateway)",
        "content": PLAIN_TEXT,
    },
    503: {
        "description": "The webhook token is not configured: every call is refused",
        "content": PLAIN_TEXT,
    },
}


def parse_query(raw: bytes) -> dict[str, bytes]:
    """Query or form fields as raw bytes: the text's encoding is decided afterwards."""
    fields: dict[str, bytes] = {}
    for pair in raw.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        key = urllib.parse.unquote_to_bytes(name.replace(b"+", b" ")).decode("latin-1")
        fields.setdefault(key, urllib.parse.unquote_to_bytes(value.replace(b"+", b" ")))
    return fields


def decode_text(data: bytes, coding: str | None = None, charset: str | None = None) -> str:
    """Kannel's text: UCS-2 (a phone sending emoji or non-Latin script) as UTF-16BE, a declared
    charset, else UTF-8 when it is valid UTF-8 and Latin-1 (Kannel's 7-bit text) when not."""
    if coding == "2" or (b"\x00" in data and len(data) % 2 == 0):
        # UCS-2: a get-url without %c still gives it away, 7-bit and 8-bit text has no NUL.
        return data.decode("utf-16-be", errors="replace")
    if charset:
        try:
            return data.decode(charset.strip().strip('"').lower())
        except (LookupError, ValueError):  # unknown, undecodable, or not a name (a NUL in it)
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset":
            return value.strip().strip('"') or None
    return None


def _field(fields: Mapping[str, bytes], name: str) -> str | None:
    value = fields.get(name)
    return value.decode("utf-8", errors="replace").strip() if value is not None else None


def build(desk: ChannelDesk) -> APIRouter:
    router = APIRouter(prefix="/channels", tags=["channels"])
    token = sms_webhook_token(desk.config, desk.ctx.settings.data_dir)

    def text_reply(text: str, status: int = 200) -> PlainTextResponse:
        return PlainTextResponse(text, status_code=status)

    def refusal(fields: Mapping[str, bytes]) -> Response | None:
        """Only the gateway may speak for a phone number: without the token nothing is read.
        Checked before anything else of the call is decoded."""
        if token is None:
            return JSONResponse(
                {"detail": "channel not configured: set LAPOR_SMS_WEBHOOK_TOKEN"}, status_code=503
            )
        given = fields.get("token") or b""
        if not hmac.compare_digest(given, token.get_secret_value().encode()):
            return text_reply("token: wrong or missing webhook token", 403)
        return None

    async def answer(
        request: Request,
        fields: Mapping[str, bytes],
        text: str | None,
        sender_header: str | None = None,
    ) -> Response:
        sender = _field(fields, "from") or sender_header
        message_id = _field(fields, "id") or None
        if not sender:
            CHANNEL_MESSAGES.labels(Channel.SMS.value, "invalid_no_sender").inc()
            return text_reply(HELP_TEXT)
        try:
            result = await converse(
                desk,
                Sender(Channel.SMS, sender[:64]),
                text or "",
                message_id[:100] if message_id else None,
                correlation_id(request),
                limit=SINGLE_GSM7,
            )
        except Exception as error:
            # Nothing was stored (a command either appends or raises); tell the citizen to resend.
            log.exception("sms_failed", error_type=type(error).__name__)
            CHANNEL_MESSAGES.labels(Channel.SMS.value, "error").inc()
            return text_reply(BUSY)
        if result.tracking_id:
            structlog.contextvars.bind_contextvars(tracking_id=result.tracking_id)
        log.info("sms_answered", outcome=result.outcome)
        return text_reply(result.text)

    @router.get(
        "/sms",
        response_class=PlainTextResponse,
        summary="SMS 1708: Kannel get-url",
        openapi_extra={"parameters": _PARAMETERS},
        responses=ANSWER,
    )
    async def sms_get(request: Request) -> Response:
        fields = parse_query(request.scope.get("query_string", b""))
        if (refused := refusal(fields)) is not None:
            return refused
        raw = fields.get("text")
        coding, charset = _field(fields, "coding"), _field(fields, "charset")
        text = None if raw is None else decode_text(raw, coding, charset)
        return await answer(request, fields, text)

    @router.post(
        "/sms",
        response_class=PlainTextResponse,
        summary="SMS 1708: Kannel post-url (text as the body) or a form post",
        openapi_extra={"parameters": _PARAMETERS},
        responses=ANSWER,
    )
    async def sms_post(request: Request) -> Response:
        fields = parse_query(request.scope.get("query_string", b""))
        if (refused := refusal(fields)) is not None:
            # A form post carries the token in its body: read it (capped) to check it.
            body = await request.body()
            content_type = request.headers.get("content-type", "").lower()
            if len(body) > MAX_SMS_BYTES or not content_type.startswith(
                "application/x-www-form-urlencoded"
            ):
                return refused
            fields = {**fields, **parse_query(body)}
            if (refused := refusal(fields)) is not None:
                return refused
        body = await request.body()
        if len(body) > MAX_SMS_BYTES:
            return text_reply("Pesan terlalu panjang. " + HELP_TEXT)
        content_type = request.headers.get("content-type", "")
        if content_type.lower().startswith("application/x-www-form-urlencoded"):
            fields = {**fields, **parse_query(body)}
            raw = fields.get("text")
            text = None if raw is None else decode_text(raw, _field(fields, "coding"))
        else:
            coding = request.headers.get("x-kannel-coding") or _field(fields, "coding")
            text = decode_text(body, coding, _charset(content_type))
        return await answer(request, fields, text, request.headers.get("x-kannel-from"))

    return router
