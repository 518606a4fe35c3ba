"""What every channel shares: who sent a message, the per-sender limit, the reply log, and the
desk that turns a channel's message into intake commands (submit, status, reply).

Personal data (phone numbers, addresses, account ids, message text) never reaches a log line or a
metric label: the limiter and the reply log key on keyed hashes.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter

from services.intake.channels.config import ChannelSettings
from services.intake.models import LocationIn, ReporterIn, ReportIn, SubmitOut
from shared.crypto import KeyErased, keyed_hash
from shared.errors import DomainError
from shared.events.base import Actor
from shared.http.limits import RateLimiter
from shared.i18n.dates import local_day
from shared.logs import get_logger
from shared.reports.commands import AmendReport, ReplyAsReporter
from shared.reports.events import Status
from shared.reports.lifecycle import (
    OPEN_FOR_VERIFICATION,
    EscalationNotOpen,
    InvalidTransition,
    ReportNotFound,
    ReportState,
)
from shared.runtime.repository import Meta
from shared.store.port import WrongExpectedVersion
from shared.values import Attachment, Channel, normalize_phone, without_invisible

if TYPE_CHECKING:
    from services.intake.usecases import Intake
    from shared.runtime.service import Context

log = get_logger(__name__)

CHANNEL_MESSAGES = Counter(
    "lapor_channel_messages_total",
    "Messages received on intake's channels, by what became of them",
    ["channel", "outcome"],
)
CHANNEL_REPLIES = Counter(
    "lapor_channel_replies_total",
    "Replies intake sent back on a channel (e-mail, social send APIs)",
    ["channel", "outcome"],
)

PHONE_CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP})
TITLE_MAX = 80
BODY_MIN = 10
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Sender:
    """Who sent a message: a phone number (SMS, WhatsApp) or a platform's account id."""

    channel: Channel
    address: str
    name: str | None = None

    @property
    def phone(self) -> str | None:
        return normalize_phone(self.address) if self.channel in PHONE_CHANNELS else None

    def fingerprint(self, secret: bytes) -> str:
        """A pseudonymous key for limits and logs' correlation: never the address itself."""
        who = self.phone or f"{self.channel.value}:{self.address}"
        return keyed_hash(secret, "channel-sender", who)

    def reporter(self) -> ReporterIn | None:
        phone = self.phone
        if phone is None and self.name is None:
            return None
        return ReporterIn(phone=phone, name=self.name[:200] if self.name else None)

    def contact(self) -> dict[str, str]:
        """Contact details beyond ReporterIn's, for the encrypted reporter blob."""
        if self.phone is not None:
            return {}
        if self.channel in PHONE_CHANNELS:
            return {"sender": self.address[:64]}  # an alphanumeric sender id
        return {"user_id": self.address[:128]}

    def matches(self, contact: dict[str, Any] | None) -> bool:
        """Is this sender the reporter whose (decrypted) contact this is?"""
        if not contact:
            return False
        if self.channel is Channel.EMAIL:
            email = contact.get("email")
            return isinstance(email, str) and email.strip().lower() == self.address.strip().lower()
        if self.phone is not None:
            return normalize_phone(contact.get("phone")) == self.phone
        return contact.get("channel") == self.channel.value and (
            contact.get("user_id") == self.address or contact.get("sender") == self.address
        )


def title_from(text: str, fallback: str = "Laporan") -> str:
    """A title from a message: its first line, whitespace collapsed, cut at a word."""
    first = _SPACES.sub(" ", text.strip().split("\n", 1)[0]).strip()
    if len(first) > TITLE_MAX:
        cut = first[: TITLE_MAX - 3]
        space = cut.rfind(" ")
        first = (cut[:space] if space >= TITLE_MAX // 2 else cut).rstrip(" ,.;:-") + "..."
    return first if len(first) >= 3 else fallback


class SenderLimits:
    """At most N messages an hour per sender (token bucket), in memory.

    A message seen before (same channel message id: a gateway's retry) is not counted again.
    """

    def __init__(self, per_hour: float, secret: bytes, remember: int = 20_000) -> None:
        self._limiter = RateLimiter(per_minute=per_hour / 60.0, burst=per_hour)
        self._secret = secret
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self._lock = threading.Lock()

    def allow(self, sender: Sender, message_key: str | None = None) -> bool:
        if message_key is not None:
            with self._lock:
                if message_key in self._seen:
                    self._seen.move_to_end(message_key)
                    return True
        if self._limiter.hit(sender.fingerprint(self._secret)) > 0:
            return False
        if message_key is not None:
            with self._lock:
                self._seen[message_key] = None
                while len(self._seen) > self._remember:
                    self._seen.popitem(last=False)
        return True


class ReplyLog:
    """Which channel messages were answered already, so a redelivered webhook or mail is not
    answered twice. A small SQLite file beside the views; keys are keyed hashes."""

    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS replies ("
        " key TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at TEXT NOT NULL)"
    )
    RETRY_SENDING_AFTER = 300.0  # a claim this old was lost (a crash mid-send): try again

    def __init__(self, path: Path, secret: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._secret = secret
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.execute(self._SCHEMA)

    def key(self, channel: Channel, message_id: str) -> str:
        return keyed_hash(self._secret, "channel-reply", f"{channel.value}:{message_id}")

    def _claim(self, key: str) -> bool:
        now = time.time()
        with self._lock:
            row = self._conn.execute(
                "SELECT state, updated_at FROM replies WHERE key = ?", (key,)
            ).fetchone()
            if row is not None:
                state, updated = row[0], float(row[1])
                if state == "sent" or (
                    state == "sending" and now - updated < self.RETRY_SENDING_AFTER
                ):
                    return False
            self._conn.execute(
                "INSERT INTO replies (key, state, updated_at) VALUES (?, 'sending', ?)"
                " ON CONFLICT (key) DO UPDATE"
                " SET state = 'sending', updated_at = excluded.updated_at",
                (key, str(now)),
            )
            return True

    def _mark(self, key: str, state: str) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE replies SET state = ?, updated_at = ? WHERE key = ?",
                (state, str(time.time()), key),
            )

    async def claim(self, key: str) -> bool:
        """True when this message is ours to answer (first delivery, or an earlier try failed)."""
        return await asyncio.to_thread(self._claim, key)

    async def sent(self, key: str) -> None:
        await asyncio.to_thread(self._mark, key, "sent")

    async def failed(self, key: str) -> None:
        await asyncio.to_thread(self._mark, key, "failed")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


@dataclass(frozen=True)
class StatusInfo:
    tracking_id: str
    status: Status
    agency_name: str | None
    last_follow_up: str | None
    confidential: bool
    changed_on: date | None = None  # the day the status last changed, in the report's zone


@dataclass(frozen=True)
class ReplyOutcome:
    """What became of a reporter's reply: `kind` is replied|amended|not_found|closed."""

    kind: str
    status: Status | None = None


@dataclass(frozen=True)
class EscalationOutcome:
    """What became of an `ESKALASI <ID>`: `kind` is escalated|already|not_open|not_possible|
    finished|not_found; `opens_on` when escalation opens later."""

    kind: str
    office_name: str | None = None
    opens_on: date | None = None


class ChannelDesk:
    """The channels' use of intake: submit a report, read its status, answer as the reporter."""

    def __init__(self, ctx: Context, intake: Intake, config: ChannelSettings | None = None) -> None:
        self.ctx = ctx
        self.intake = intake
        self.config = config or ChannelSettings()
        self.limits = SenderLimits(self.config.channel_messages_per_hour, intake.secret)
        # Per tracking ID, whoever asks: a phone probing IDs meets this as well as its own limit.
        per_hour = self.config.channel_lookups_per_report_per_hour
        self.lookups = RateLimiter(per_minute=per_hour / 60.0, burst=per_hour)
        self.replies = ReplyLog(ctx.settings.data_dir / "channel_replies.db", intake.secret)

    async def new_report(
        self,
        *,
        channel: Channel,
        text: str,
        sender: Sender | None,
        idempotency_key: str | None,
        message_id: str | None,
        cid: str,
        title: str | None = None,
        region_code: str | None = None,
        anonymous: bool = False,
        confidential: bool = False,
        attachments: tuple[Attachment, ...] = (),
        reporter: ReporterIn | None = None,
    ) -> SubmitOut:
        """Submit a report from a channel. Raises pydantic's ValidationError for unusable text."""
        report = ReportIn(
            title=title or title_from(text),
            body=text,
            location=LocationIn(region_code=region_code),
            anonymous=anonymous,
            confidential=confidential,
            reporter=reporter or (sender.reporter() if sender else None),
        )
        contact = sender.contact() if sender else None
        for attempt in (1, 2):
            try:
                return await self.intake.submit(
                    report,
                    channel,
                    cid,
                    idempotency_key,
                    channel_message_id=message_id,
                    attachments=attachments,
                    contact=contact,
                )
            except WrongExpectedVersion:
                # The same message delivered twice at once: the other delivery stored it first;
                # the retry finds those events by their fixed ids and appends nothing.
                if attempt == 2 or idempotency_key is None:
                    raise
        raise AssertionError("unreachable")

    async def state(self, tracking_id: str) -> ReportState | None:
        state, _ = await self.ctx.reports.load(tracking_id)
        return state

    def reporter_contact(self, state: ReportState) -> dict[str, Any] | None:
        if state.reporter is None:
            return None
        try:
            return self.intake.keys.decrypt(state.reporter)
        except KeyErased:
            return None

    async def status(self, tracking_id: str, sender: Sender | None) -> StatusInfo | None:
        """The report's status for a CEK, for its reporter's own phone or account only; None
        otherwise, exactly as for a report that does not exist: a message names no access
        code, so the sender is the only proof, and an answer must neither confirm that an ID
        exists nor that a number is (or is not) its reporter."""
        state = await self.state(tracking_id)
        if state is None or sender is None or not sender.matches(self.reporter_contact(state)):
            return None
        confidential = state.confidential
        row = await self.intake.report_row(tracking_id)  # the view may not have caught up yet
        if row is not None:
            follow_up = await self.intake.views.fetchone(
                "SELECT details FROM timeline WHERE tracking_id = ? AND event_type ="
                " 'FollowUpPosted' ORDER BY position DESC LIMIT 1",
                (tracking_id,),
            )
            text = None
            if follow_up is not None:
                text = json.loads(follow_up["details"]).get("text")
            return StatusInfo(
                tracking_id,
                Status(row["status"]),
                row["agency_name"],
                text,
                confidential,
                local_day(row["updated_at"], row["region_code"]),
            )
        assert state is not None
        return StatusInfo(
            tracking_id,
            state.status,
            None,
            None,
            confidential,
            local_day(state.submitted_at, state.location.region_code),
        )

    async def reply(
        self,
        tracking_id: str,
        text: str,
        sender: Sender,
        idempotency_key: str | None,
        cid: str,
        attachments: tuple[Attachment, ...] = (),
    ) -> ReplyOutcome:
        """The reporter answers: a follow-up (ReporterReplied) or a completion request
        (ReportAmended). Only from the phone or account the report came from; anyone else is
        answered as for a report that does not exist."""
        state = await self.state(tracking_id)
        if state is None or not sender.matches(self.reporter_contact(state)):
            return ReplyOutcome("not_found")
        command: AmendReport | ReplyAsReporter
        text = without_invisible(text)
        if state.status in OPEN_FOR_VERIFICATION:
            command, kind = AmendReport(text=text, attachments=attachments), "amended"
        else:
            command, kind = ReplyAsReporter(text=text, attachments=attachments), "replied"
        actor = Actor(kind="citizen", id="anonymous" if state.anonymous else "reporter")
        meta = Meta(actor=actor, correlation_id=cid, idempotency_key=idempotency_key)
        try:
            events = await self.ctx.reports.execute(tracking_id, command, meta)
        except (InvalidTransition, DomainError):
            return ReplyOutcome("closed", state.status)
        await self.intake.caught_up(events)
        return ReplyOutcome(kind, state.status)

    async def escalate(self, tracking_id: str, sender: Sender, cid: str) -> EscalationOutcome:
        """The reporter takes the report to the Ombudsman RI (the use case of the report page
        and sla's API). Only from the phone or account the report came from: anyone else is
        told what they would be told of a report that does not exist."""
        escalations = self.intake.escalations
        try:
            state, events = await escalations.load(tracking_id)
        except ReportNotFound:
            return EscalationOutcome("not_found")
        if not sender.matches(self.reporter_contact(state)):
            return EscalationOutcome("not_found")
        if state.status in (Status.CLOSED, Status.REJECTED) and not state.escalated:
            return EscalationOutcome("finished")
        try:
            done = await escalations.escalate(state, events, cid)
        except EscalationNotOpen as refused:
            status = await escalations.status(state, events)
            kind = "not_open" if refused.opens_on else "not_possible"
            return EscalationOutcome(kind, status.office_name, refused.opens_on)
        except InvalidTransition:
            return EscalationOutcome("finished")
        return EscalationOutcome("escalated" if done.new else "already", done.ombudsman_office_name)

    def close(self) -> None:
        self.replies.close()
