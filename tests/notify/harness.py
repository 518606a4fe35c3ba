"""What the notify tests need besides LAPOR itself: the other services' side of a report
(appending their decisions to the store), an SMTP server that keeps what it receives, a scripted
channel for the dispatcher tests, and reading what arrived on the real Kannel's handset."""

from __future__ import annotations

import asyncio
import re
import threading
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, Literal

import httpx
from aiosmtpd.controller import Controller

from services.notify.notices import Notice
from services.notify.outbox import Outbox
from shared.auth import hash_access_code
from shared.clock import SystemClock
from shared.crypto import ErasureIncomplete, KeyStore
from shared.events.base import Actor
from shared.notifications.events import NotificationChannel
from shared.reports.commands import Command, SubmitReport
from shared.reports.events import Classification, Location
from shared.reports.tracking import new_access_code, new_tracking_id
from shared.runtime.repository import Meta, ReportRepository
from shared.senders.base import Address, Message, SendError
from shared.store.port import EventStore, RecordedEvent
from shared.store.sqlite import SqliteEventStore
from shared.values import Channel
from tests.intake_channels.kannel import Handset, KannelGateway, Sms
from tests.support import free_port, wait_for

AGENCY = "DINKES-KOTA-KUPANG"
AGENCY_NAME = "Dinas Kesehatan Kota Kupang"
AGENCY_OFFICER = "dinkes-kota-kupang@penghubung.lapor.example"
ADMIN = Actor(kind="admin", id="admin-test")
OFFICER = Actor(kind="agency", id="officer-test")
SLA = Actor(kind="system", id="sla")
# Generous: a wait returns as soon as its condition holds; a loaded machine needs the slack.
WAIT = 60.0
PUBLIC = "https://lapor.example"  # LAPOR_PUBLIC_BASE_URL: the links in notices
FAST_RETRIES = {
    "LAPOR_NOTIFY_RETRY_BASE_SECONDS": "0.05",
    "LAPOR_NOTIFY_RETRY_MAX_SECONDS": "0.2",
    "LAPOR_NOTIFY_MAX_ATTEMPTS": "5",
}


@dataclass
class Submitted:
    tracking_id: str
    access_code: str
    correlation_id: str


class Hands:
    """The test's hands on the event store: it plays intake's channels, the admin desk, the
    agency and sla, appending what they would decide."""

    def __init__(self, store: EventStore, data_dir: Path, secret: str) -> None:
        self.secret = secret.encode()
        self.store = store
        self.keys = KeyStore(data_dir / "events.db", self.secret)  # the keys live in the store
        self.reports = ReportRepository(store, SystemClock())
        self._own_store = False

    @classmethod
    def on(cls, data_dir: Path, secret: str) -> Hands:
        """Hands with a store of their own (beside real processes)."""
        hands = cls(SqliteEventStore(data_dir / "events.db"), data_dir, secret)
        hands._own_store = True
        return hands

    async def close(self) -> None:
        self.keys.close()
        if self._own_store:
            await self.store.close()

    async def submit(
        self,
        channel: Channel,
        contact: dict[str, str] | None,
        *,
        language: Literal["id", "en"] = "id",
        title: str = "Jalan rusak di depan puskesmas",
        anonymous: bool = False,
    ) -> Submitted:
        """What intake does for a channel: encrypt the contact, append ReportSubmitted."""
        tracking_id, access_code = new_tracking_id(), new_access_code()
        blob = (
            self.keys.encrypt(tracking_id, contact | {"channel": channel.value})
            if contact
            else None
        )
        command = SubmitReport(
            tracking_id=tracking_id,
            classification=Classification.COMPLAINT,
            title=title,
            body="Jalan berlubang besar, sudah tiga minggu tidak diperbaiki.",
            category="kesehatan",
            location=Location(region_code="5371"),
            channel=channel,
            anonymous=anonymous,
            reporter=blob,
            access_code_hash=hash_access_code(self.secret, tracking_id, access_code),
            language=language,
        )
        cid = f"test-submit-{tracking_id}"
        await self.reports.execute(
            tracking_id,
            command,
            Meta(actor=Actor(kind="citizen", id="reporter"), correlation_id=cid),
        )
        return Submitted(tracking_id, access_code, cid)

    async def do(self, tracking_id: str, command: Command, actor: Actor = ADMIN) -> str:
        """Append what another service decided; returns the correlation id used."""
        cid = f"test-{type(command).__name__}-{uuid.uuid4().hex[:8]}"
        events = await self.reports.execute(
            tracking_id, command, Meta(actor=actor, correlation_id=cid)
        )
        assert events, f"{type(command).__name__} changed nothing"
        return cid

    async def outcomes(self, tracking_id: str | None = None) -> list[RecordedEvent]:
        """NotificationSent/Failed/Skipped events, from one report's stream or all of them."""
        streams = (
            [f"notifications-{tracking_id}"]
            if tracking_id
            else await self.store.stream_names("notifications-")
        )
        events: list[RecordedEvent] = []
        for stream in streams:
            events.extend(await self.store.read(stream))
        return events

    def erase(self, tracking_id: str) -> None:
        """Crypto-shred the reporter (retrying while another reader holds old pages)."""

        def done() -> bool:
            try:
                self.keys.erase(tracking_id)
            except ErasureIncomplete:
                return False
            return True

        wait_for(done, timeout=60, what="key erased")


def due_in(days: int) -> date:
    return date.today() + timedelta(days=days)


def outcomes_settled(
    hands: Hands, tracking_id: str, count: int
) -> Callable[[], Awaitable[list[RecordedEvent] | None]]:
    async def settled() -> list[RecordedEvent] | None:
        events = await hands.outcomes(tracking_id)
        return events if len(events) >= count else None

    return settled


def metric(text: str, channel: str, outcome: str) -> float:
    """`lapor_notifications_total{channel, outcome}` in a /metrics text (0 when absent)."""
    pattern = (
        r'^lapor_notifications_total\{channel="'
        + channel
        + r'",outcome="'
        + outcome
        + r'"\} (\S+)$'
    )
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


# --- SMS on the real Kannel's handset ------------------------------------------------------
_PART = re.compile(r"^%05%00%03%([0-9A-F]{2})%([0-9A-F]{2})%([0-9A-F]{2}) data (.*)$")


def whole(received: list[Sms]) -> list[Sms]:
    """fakesmsc prints each part of a concatenated SMS (UDH + data): join them again."""
    out: list[Sms] = []
    pending: dict[tuple[str, str, str], dict[int, str]] = {}
    for sms in received:
        part = _PART.match(sms.text)
        if part is None:
            out.append(sms)
            continue
        ref, total, index, data = part.groups()
        parts = pending.setdefault((sms.sender, sms.to, ref), {})
        parts[int(index, 16)] = urllib.parse.unquote_plus(data)
        if len(parts) == int(total, 16):
            out.append(Sms(sms.sender, sms.to, "".join(parts[i] for i in sorted(parts))))
            del pending[(sms.sender, sms.to, ref)]
    return out


def sms_to(phone: str, *words: str) -> Callable[[Sms], bool]:
    return lambda m: m.to == phone and all(w in m.text for w in words)


def arrived(handset: Handset, phone: str, *words: str) -> Sms:
    """Wait for a whole SMS (all its parts) to `phone` that says all `words`."""
    match = sms_to(phone, *words)
    handset.wait_for(lambda _: any(match(m) for m in whole(handset.received)), timeout=WAIT)
    return next(m for m in whole(handset.received) if match(m))


def sentinel(kannel: KannelGateway, phone: Handset) -> list[Sms]:
    """Everything the handset got before a marker SMS sent last (Kannel keeps the order)."""
    marker = f"SENTINEL-{uuid.uuid4().hex[:8]}"
    # httpx replaces a URL's query with `params`: keep the credentials in.
    query = urllib.parse.urlencode({"to": "+620000", "text": marker})
    response = httpx.get(f"{kannel.sendsms_url}&{query}")
    assert response.status_code == 202, response.text
    phone.wait_for(lambda m: marker in m.text, timeout=WAIT)
    return [m for m in whole(phone.received) if marker not in m.text]


# --- SMTP ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mail:
    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        # A subject that fits one line on its own is folded right after "Subject:", and the
        # stdlib parser keeps the blank of that fold (mail clients do not show it).
        return str(self.message["Subject"]).strip()

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        return str(body.get_content())


def mail_to(address: str, *words: str) -> Callable[[Mail], bool]:
    return lambda m: (
        address in m.recipients and all(w in m.subject + m.part("plain") for w in words)
    )


class SmtpSink:
    """A real SMTP server on loopback (aiosmtpd) that keeps every mail it accepts."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mails: list[Mail] = []
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.mails.append(Mail(envelope.mail_from, tuple(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def received(self, match: Callable[[Mail], bool] = lambda m: True) -> list[Mail]:
        with self._lock:
            return [m for m in self.mails if match(m)]

    def wait_for(
        self, match: Callable[[Mail], bool], timeout: float = 20.0, what: str = ""
    ) -> Mail:
        return wait_for(
            lambda: next(iter(self.received(match)), None), timeout, what=what or "a mail"
        )


# --- a channel the dispatcher tests script -------------------------------------------------
@dataclass
class ScriptedSender:
    """Fails with the scripted errors first, then succeeds; can hold a send open."""

    channel: NotificationChannel = NotificationChannel.SMS
    failures: list[SendError] = field(default_factory=list)
    hold: asyncio.Event | None = None
    sent: list[tuple[str, str, uuid.UUID]] = field(default_factory=list)
    tries: int = 0
    entered: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, to: Address, message: Message, notification_id: uuid.UUID) -> None:
        self.tries += 1
        self.entered.set()
        if self.hold is not None:
            await self.hold.wait()
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((to.value, message.sms, notification_id))

    async def close(self) -> None:
        return None


def web_notice(number: int) -> Notice:
    """A receipt on the report page for report number `number` (the outbox's simplest row)."""
    return Notice(
        notification_id=uuid.uuid4(),
        tracking_id=f"TRK{number:05d}",
        cause_event_id=uuid.uuid4(),
        cause_event_type="ReportSubmitted",
        cause_position=number + 1,
        correlation_id=f"c-{number}",
        recipient_kind="reporter",
        recipient_ref="reporter",
        agency_code=None,
        channel=NotificationChannel.WEB,
        template="received",
        language="id",
    )


def commits_of(outbox: Outbox) -> list[str]:
    """The COMMITs the outbox's connection runs from now on, as they happen."""
    commits: list[str] = []
    outbox._conn.set_trace_callback(
        lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None
    )
    return commits
