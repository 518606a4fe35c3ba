"""Local stand-ins for the platforms intake talks to, speaking their documented formats:

- `FakePlatforms`: the Graph API send endpoints (WhatsApp Cloud API `/{phone-number-id}/messages`,
  Messenger `/{page-id}/messages`), Instagram's (`/{ig-id}/messages`) and X's
  (`/2/dm_conversations/with/{participant_id}/messages`), on loopback, recording every call.
- `Mailbox`: an SMTP server (aiosmtpd) that keeps what it is sent: intake's outbound mail.
"""

from __future__ import annotations

import email
import email.policy
import threading
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.support import free_port, wait_for


@dataclass(frozen=True)
class Call:
    platform: str  # graph | instagram | x
    account: str  # the path's id: phone-number-id, page id, IG id, or X participant
    json: dict[str, Any]
    authorization: str | None


@dataclass
class FakePlatforms:
    port: int = field(default_factory=free_port)
    calls: list[Call] = field(default_factory=list)
    failures_to_serve: int = 0
    media: dict[str, bytes] = field(default_factory=dict)  # WhatsApp media id -> the file
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, count: int) -> None:
        """The next `count` send calls get a 500 (the client is expected to retry)."""
        with self._lock:
            self.failures_to_serve = count

    def calls_to(self, platform: str, account: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.platform == platform and account in (None, c.account)]

    def _record(self, platform: str, account: str, body: dict[str, Any], request: Request) -> bool:
        """Record a call; False when this one must fail."""
        with self._lock:
            self.calls.append(Call(platform, account, body, request.headers.get("authorization")))
            if self.failures_to_serve > 0:
                self.failures_to_serve -= 1
                return False
        return True

    def app(self) -> FastAPI:
        app = FastAPI()

        def unauthorized() -> JSONResponse:
            # The Graph API's documented error shape for a missing or bad token.
            return JSONResponse(
                {
                    "error": {
                        "message": "Invalid OAuth access token.",
                        "type": "OAuthException",
                        "code": 190,
                    }
                },
                status_code=401,
            )

        def failed() -> JSONResponse:
            return JSONResponse(
                {"error": {"message": "An unexpected error has occurred.", "code": 2}},
                status_code=500,
            )

        @app.post("/graph/{version}/{account}/messages")
        async def graph(version: str, account: str, request: Request) -> JSONResponse:
            body = await request.json()
            if not self._record("graph", account, body, request):
                return failed()
            if not (request.headers.get("authorization") or "").startswith("Bearer "):
                return unauthorized()
            if body.get("messaging_product") == "whatsapp":
                to = body["to"]
                return JSONResponse(
                    {
                        "messaging_product": "whatsapp",
                        "contacts": [{"input": to, "wa_id": to}],
                        "messages": [{"id": f"wamid.{uuid.uuid4().hex}"}],
                    }
                )
            return JSONResponse(
                {"recipient_id": body["recipient"]["id"], "message_id": f"m_{uuid.uuid4().hex}"}
            )

        @app.get("/graph/{version}/{media_id}")
        async def media_url(version: str, media_id: str, request: Request) -> JSONResponse:
            # Cloud API: GET /{media-id} -> a short-lived URL (fetched with the same token).
            if not (request.headers.get("authorization") or "").startswith("Bearer "):
                return unauthorized()
            if media_id not in self.media:
                return JSONResponse({"error": {"message": "Unknown media", "code": 100}}, 400)
            return JSONResponse(
                {
                    "url": f"{self.url}/media-download/{media_id}",
                    "mime_type": "image/jpeg",
                    "file_size": len(self.media[media_id]),
                    "id": media_id,
                    "messaging_product": "whatsapp",
                }
            )

        @app.get("/media-download/{media_id}")
        async def media_download(media_id: str, request: Request) -> Response:
            if not (request.headers.get("authorization") or "").startswith("Bearer "):
                return unauthorized()
            return Response(self.media.get(media_id, b""), media_type="image/jpeg")

        @app.post("/instagram/{version}/{account}/messages")
        async def instagram(version: str, account: str, request: Request) -> JSONResponse:
            body = await request.json()
            if not self._record("instagram", account, body, request):
                return failed()
            if not (request.headers.get("authorization") or "").startswith("Bearer "):
                return unauthorized()
            return JSONResponse(
                {"recipient_id": body["recipient"]["id"], "message_id": f"m_{uuid.uuid4().hex}"}
            )

        @app.post("/x/2/dm_conversations/with/{participant}/messages")
        async def x_dm(participant: str, request: Request) -> JSONResponse:
            body = await request.json()
            if not self._record("x", participant, body, request):
                return JSONResponse({"title": "Service Unavailable", "status": 503}, 503)
            if not (request.headers.get("authorization") or "").startswith("Bearer "):
                return JSONResponse({"title": "Unauthorized", "status": 401}, status_code=401)
            return JSONResponse(
                {
                    "data": {
                        "dm_conversation_id": f"{participant}-1",
                        "dm_event_id": uuid.uuid4().hex[:19],
                    }
                },
                status_code=201,
            )

        return app

    def start(self) -> None:
        config = uvicorn.Config(
            self.app(), host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_for(lambda: self._server is not None and self._server.started, what="fake platforms")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)


@dataclass(frozen=True)
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class _Keep:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.box.lock:
            self.box.mails.append(Mail(str(envelope.mail_from), list(envelope.rcpt_tos), message))
        return "250 OK"


@dataclass
class Mailbox:
    """An SMTP sink on loopback: LAPOR_SMTP_URL points here."""

    port: int = field(default_factory=free_port)
    mails: list[Mail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller = Controller(_Keep(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    def to(self, address: str) -> list[Mail]:
        with self.lock:
            return [m for m in self.mails if address in m.rcpt_tos]
