"""E-mail: an inbound SMTP server (aiosmtpd) that turns each mail into a report, and the reply.

Started with intake when `LAPOR_INTAKE_SMTP_PORT` is set. A mail becomes a report with channel
`email`: the subject is the title (a leading region keyword, as on SMS 1708, sets the region;
`[ANONIM]` and `[RAHASIA]` tags ask for anonymity and confidentiality), the text body is the
body, the attachments are checked and stored by content (sha256) with intake's limits. The
Message-ID is the idempotency key: the same mail delivered twice is one report and one reply.

SMTP answers tell the sending server what happened: 250 stored; 550 a mail that cannot be a
report (the sender's server bounces it with our reason); 451 a temporary problem (it retries).
Mail from the null sender and automatic mail (RFC 3834) is accepted and dropped: no mail loops.

The reply with the tracking ID and access code goes out through `LAPOR_SMTP_URL` (aiosmtplib, with
retries); without it the reply is skipped and logged. Nothing personal is ever logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from services.intake.channels.common import (
    BODY_MIN,
    CHANNEL_MESSAGES,
    CHANNEL_REPLIES,
    ChannelDesk,
    Sender,
    title_from,
)
from services.intake.channels.email_replies import (
    header,
    named_report,
    single_line,
    what_they_wrote,
    without_access_code,
)
from services.intake.channels.email_replies import (
    message_id as clean_message_id,
)
from services.intake.models import ReporterIn
from shared.directory.model import default_directory
from shared.i18n import Translator, translator
from shared.logs import get_logger
from shared.senders.mail_threads import reply_address, thread_message_id, thread_root
from shared.sms.grammar import SmsGrammar
from shared.store.port import StoreError
from shared.values import Attachment, Channel

log = get_logger(__name__)

BODY_MAX = 10_000
MAX_RECIPIENTS = 20
_ANONYMOUS = re.compile(r"\[\s*(ANONIM|ANONYMOUS)\s*\]", re.IGNORECASE)
_CONFIDENTIAL = re.compile(r"\[\s*(RAHASIA|CONFIDENTIAL)\s*\]", re.IGNORECASE)
_REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|bls|balas)\s*:\s*)+", re.IGNORECASE)
_AFTER_KEYWORD = re.compile(r"^[\s:;,\-–—/.]+")


# SMTP answers reach the sender as the bounce's reason: Bahasa Indonesia first, then English.
UNUSABLE_FROM = "550 5.1.7 Alamat pengirim (From) tidak dapat dipakai / From: not a usable address"
# A report's field -> the part of the mail it came from (Indonesian, English).
MAIL_PARTS = {"title": ("subjek", "subject"), "body": ("isi e-mail", "body of the mail")}


class Rejected(Exception):
    """A mail that cannot become a report: the SMTP answer says why."""

    def __init__(self, smtp_reply: str, outcome: str) -> None:
        super().__init__(smtp_reply)
        self.smtp_reply = smtp_reply
        self.outcome = outcome


@dataclass(frozen=True)
class Subject:
    title: str | None
    region_code: str | None
    anonymous: bool
    confidential: bool


def read_subject(raw: str, grammar: SmsGrammar) -> Subject:
    """Tags, a reply prefix and a leading region keyword out; what remains is the title."""
    anonymous = _ANONYMOUS.search(raw) is not None
    confidential = _CONFIDENTIAL.search(raw) is not None
    text = _CONFIDENTIAL.sub(" ", _ANONYMOUS.sub(" ", raw))
    text = " ".join(_REPLY_PREFIX.sub("", text).split())
    region = None
    found = grammar.match_keyword(text)
    if found is not None:
        keyword, end = found
        region = default_directory().region_for_keyword(keyword)
        text = _AFTER_KEYWORD.sub("", text[end:]).strip()
    return Subject(title_from(text, "") or None, region, anonymous, confidential)


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "li", "tr"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextOfHtml()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in html.unescape("".join(parser.parts)).split("\n"))
    return "\n".join(line for line in lines if line)


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeDecodeError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_type() == "text/html":
        content = html_to_text(content)
    return content.replace("\r\n", "\n").strip()


def is_automatic(message: EmailMessage, mail_from: str | None) -> bool:
    """Bounces and auto-replies (RFC 3834, RFC 2076 Precedence) must not get a report or reply."""
    if not mail_from or mail_from == "<>":
        return True
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (
        auto != "no"
        or precedence in ("bulk", "junk", "list", "auto_reply")
        or message.get("X-Autoreply") is not None
        or message.get("X-Autorespond") is not None
    )


@dataclass(frozen=True)
class SmtpTarget:
    hostname: str
    port: int
    use_tls: bool
    username: str | None
    password: str | None


def smtp_target(url: str) -> SmtpTarget:
    """`smtp://[user:pass@]host:port` (STARTTLS when offered) or `smtps://…` (implicit TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("LAPOR_SMTP_URL: expected smtp://host:port or smtps://host:port")
    tls = parts.scheme == "smtps"
    return SmtpTarget(
        hostname=parts.hostname,
        port=parts.port or (465 if tls else 25),
        use_tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


@dataclass
class MailIntake:
    """aiosmtpd's handler: mail in, report stored, reply scheduled."""

    desk: ChannelDesk
    grammar: SmsGrammar = field(init=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        self.grammar = SmsGrammar.from_directory(default_directory())
        self.attachments = self.desk.intake.attachments  # checked, cleaned, content-addressed
        self.max_attachments = self.desk.intake.limits.max_attachments

    # --- aiosmtpd hooks ---------------------------------------------------------------------
    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Terlalu banyak penerima / Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        if not isinstance(content, bytes):
            content = str(content).encode("utf-8", errors="replace")
        try:
            return await self.receive(content, envelope.mail_from, envelope.rcpt_tos)
        except Rejected as rejected:
            CHANNEL_MESSAGES.labels(Channel.EMAIL.value, rejected.outcome).inc()
            log.info("email_rejected", outcome=rejected.outcome)
            return rejected.smtp_reply
        except StoreError as error:
            CHANNEL_MESSAGES.labels(Channel.EMAIL.value, "error").inc()
            log.warning("email_store_unavailable", error_type=type(error).__name__)
            return (
                "451 4.3.0 Laporan belum tersimpan karena gangguan sementara; kirim ulang nanti"
                " / Temporary failure storing the report; please retry"
            )
        except Exception as error:
            CHANNEL_MESSAGES.labels(Channel.EMAIL.value, "error").inc()
            log.exception("email_failed", error_type=type(error).__name__)
            return (
                "451 4.3.0 Gangguan sementara; kirim ulang nanti / Temporary failure; please retry"
            )

    # --- the mail ---------------------------------------------------------------------------
    async def receive(
        self, content: bytes, mail_from: str | None, recipients: Sequence[str] = ()
    ) -> str:
        message = BytesParser(policy=policy.default).parsebytes(content)
        assert isinstance(message, EmailMessage)
        if is_automatic(message, mail_from):
            CHANNEL_MESSAGES.labels(Channel.EMAIL.value, "automatic").inc()
            log.info("email_automatic_dropped")
            return "250 2.0.0 OK (automatic mail: no report)"
        # Decoded headers that hold a line break are never used: a From like that is refused
        # for good (a 4xx would make the sending server retry it forever), a Message-ID ignored.
        from_header = header(message, "From")
        if from_header is None and "From" in message:
            raise Rejected(UNUSABLE_FROM, "invalid_from")
        name, address = parseaddr(from_header or "")
        address = address or (mail_from or "")
        if single_line(address) is None or "@" not in address:
            raise Rejected(UNUSABLE_FROM, "invalid_from")
        message_id = clean_message_id(message)
        key = "email:" + (message_id or hashlib.sha256(content).hexdigest())
        sender = Sender(Channel.EMAIL, address.strip().lower())
        if not self.desk.limits.allow(sender, key):
            raise Rejected(
                "451 4.7.1 Terlalu banyak laporan dari alamat ini; coba lagi nanti"
                " / Too many reports from this address; please try again later",
                "rate_limited",
            )
        answered = named_report(message, recipients)
        if answered is not None:
            # A reply to one of LAPOR's mails: the reporter's answer, never a new report.
            return await self._answer(answered, message, sender, key)
        subject = read_subject(header(message, "Subject") or "", self.grammar)
        body = body_text(message)
        if len(body) > BODY_MAX:
            raise Rejected(
                f"550 5.6.0 Teks terlalu panjang untuk laporan (paling banyak {BODY_MAX} karakter)"
                f" / The text is too long for a report (at most {BODY_MAX} characters)",
                "invalid_too_long",
            )
        if len(body) < BODY_MIN and subject.title and len(subject.title) >= BODY_MIN:
            body = subject.title if not body else f"{subject.title}\n\n{body}"
        if len(body) < BODY_MIN:
            raise Rejected(
                "550 5.6.0 Tulis laporan Anda di isi e-mail, paling sedikit 10 karakter"
                " / Describe the problem in the body of the mail, at least 10 characters",
                "invalid_too_short",
            )
        try:
            reporter = ReporterIn(email=address, name=(name.strip()[:200] or None))
        except ValidationError as error:
            raise Rejected(
                "550 5.1.7 Alamat e-mail pengirim tidak valid / From: not a valid e-mail address",
                "invalid_from",
            ) from error
        attachments, refused = await self._attachments(message)
        try:
            created = await self.desk.new_report(
                channel=Channel.EMAIL,
                text=body,
                title=subject.title or title_from(body),
                sender=None,
                reporter=reporter,
                idempotency_key=key,
                message_id=message_id,
                cid=str(uuid.uuid4()),  # a Message-ID may name the sender's host: not a cid
                region_code=subject.region_code,
                anonymous=subject.anonymous,
                confidential=subject.confidential,
                attachments=attachments,
            )
        except ValidationError as error:
            parts = {str(e["loc"][0]) for e in error.errors() if e.get("loc")}
            where = " dan ".join(MAIL_PARTS.get(p, (p, p))[0] for p in sorted(parts))
            where_en = " and ".join(MAIL_PARTS.get(p, (p, p))[1] for p in sorted(parts))
            raise Rejected(
                f"550 5.6.0 Laporan tidak dapat dibaca, periksa {where}"
                f" / Unusable report: check the {where_en}",
                "invalid_report",
            ) from error
        CHANNEL_MESSAGES.labels(Channel.EMAIL.value, "report").inc()
        log.info(
            "email_report",
            tracking_id=created.tracking_id,
            attachments=len(attachments),
            refused_attachments=len(refused),
        )
        receipt = Receipt(
            to=address,
            # Never the address the mail was sent to: that would let anyone pick our From.
            reply_from=self.desk.config.intake_email_from
            or f"lapor@{self.desk.config.intake_smtp_hostname}",
            subject=header(message, "Subject") or "",
            in_reply_to=message_id,
            tracking_id=created.tracking_id,
            access_code=created.access_code,
            refused=refused,
        )
        self._schedule_reply(key, receipt)
        return f"250 2.0.0 OK report {created.tracking_id}"

    async def _answer(
        self, tracking_id: str, message: EmailMessage, sender: Sender, key: str
    ) -> str:
        """The reporter answers by mail: quoted text and signature off, the access code never
        passed on; only from the reporter's own address (the same answer for anyone else as for
        a report that does not exist)."""
        refused = "550 5.7.1 Balasan hanya diterima dari alamat e-mail pelapor / Replies are"
        refused += " accepted only from the reporter's own address"
        state = await self.desk.state(tracking_id)
        if state is None or not sender.matches(self.desk.reporter_contact(state)):
            CHANNEL_MESSAGES.labels(Channel.EMAIL.value, "reply_not_reporter").inc()
            log.info("email_reply_refused", reason="not the reporter's address or no report")
            raise Rejected(refused, "reply_not_reporter")
        text = without_access_code(
            what_they_wrote(body_text(message)),
            self.desk.intake.secret,
            tracking_id,
            state.access_code_hash,
        )
        attachments, _ = await self._attachments(message)
        if not text and not attachments:
            raise Rejected(
                "550 5.6.0 Balasan kosong: tulis tanggapan Anda di atas kutipan / The reply is"
                " empty: write above the quoted text",
                "reply_empty",
            )
        outcome = await self.desk.reply(
            tracking_id,
            text or "(lampiran)",
            sender,
            key,
            str(uuid.uuid4()),
            attachments=attachments,
        )
        CHANNEL_MESSAGES.labels(Channel.EMAIL.value, f"reply_{outcome.kind}").inc()
        log.info("email_reply", tracking_id=tracking_id, outcome=outcome.kind)
        if outcome.kind in ("replied", "amended"):
            return f"250 2.0.0 OK reply recorded on report {tracking_id}"
        if outcome.kind == "closed":
            raise Rejected(
                f"550 5.7.1 Laporan {tracking_id} tidak sedang menunggu balasan / Report"
                f" {tracking_id} is not waiting for a reply",
                "reply_closed",
            )
        raise Rejected(refused, "reply_not_reporter")

    async def _attachments(
        self, message: EmailMessage
    ) -> tuple[tuple[Attachment, ...], list[RefusedFile]]:
        from services.intake.attachments import AttachmentRejected, display_name

        stored: list[Attachment] = []
        refused: list[RefusedFile] = []
        for part in message.iter_attachments():
            assert isinstance(part, EmailMessage)
            name = part.get_filename()
            payload = part.get_payload(decode=True)
            shown = display_name(name, part.get_content_type())
            if not isinstance(payload, bytes) or not payload:
                continue
            if len(stored) >= self.max_attachments:
                refused.append(
                    RefusedFile(shown, "error.attachment.count", {"max": self.max_attachments})
                )
                continue
            try:
                stored.append(
                    await asyncio.to_thread(
                        self.attachments.store, payload, name, part.get_content_type()
                    )
                )
            except AttachmentRejected as error:
                refused.append(RefusedFile(shown, error.key, {"field": shown, **error.values}))
        return tuple(stored), refused

    # --- the reply ------------------------------------------------------------------------
    def _schedule_reply(self, key: str, receipt: Receipt) -> None:
        task = asyncio.create_task(self._reply(key, receipt), name="email-reply")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reply(self, key: str, receipt: Receipt) -> None:
        tracking_id = receipt.tracking_id
        url = self.desk.ctx.settings.smtp_url
        if not url:
            # Not silent: the reporter never gets the access code this way. `lapor up` says so
            # at start when intake takes mail without a way to answer it.
            CHANNEL_REPLIES.labels(Channel.EMAIL.value, "skipped").inc()
            log.warning(
                "email_reply_not_sent", reason="LAPOR_SMTP_URL not set", tracking_id=tracking_id
            )
            return
        reply_key = self.desk.replies.key(Channel.EMAIL, key)
        if not await self.desk.replies.claim(reply_key):
            CHANNEL_REPLIES.labels(Channel.EMAIL.value, "duplicate").inc()
            return
        mail = reply_mail(receipt, self.desk.ctx.settings.public_base_url)
        target = smtp_target(url)
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.desk.config.channel_http_attempts),
                wait=wait_exponential(multiplier=0.2, max=5),
                retry=retry_if_exception_type((aiosmtplib.SMTPException, OSError)),
                reraise=True,
            ):
                with attempt:
                    await aiosmtplib.send(
                        mail,
                        hostname=target.hostname,
                        port=target.port,
                        username=target.username,
                        password=target.password,
                        use_tls=target.use_tls,
                        timeout=self.desk.config.channel_http_timeout,
                    )
        except (aiosmtplib.SMTPException, OSError) as error:
            await self.desk.replies.failed(reply_key)
            CHANNEL_REPLIES.labels(Channel.EMAIL.value, "failed").inc()
            log.warning(
                "email_reply_failed", tracking_id=tracking_id, error_type=type(error).__name__
            )
            return
        await self.desk.replies.sent(reply_key)
        CHANNEL_REPLIES.labels(Channel.EMAIL.value, "sent").inc()
        log.info("email_reply_sent", tracking_id=tracking_id)

    async def drain(self, timeout: float = 5.0) -> None:
        """Let replies in flight finish (bounded), then cancel the rest."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


@dataclass(frozen=True)
class Receipt:
    """The answer to a reporter's mail: where it goes, what it answers, the report it made."""

    to: str
    reply_from: str
    subject: str
    in_reply_to: str | None
    tracking_id: str
    access_code: str
    refused: list[RefusedFile]


@dataclass(frozen=True)
class RefusedFile:
    """An attachment not taken, and why: said in each language of the receipt."""

    name: str
    key: str
    values: dict[str, object]

    def said(self, t: Translator) -> str:
        text = t(self.key, **self.values)
        return text if self.name in text else f"{text} ({self.name})"


def reply_mail(receipt: Receipt, public_url: str) -> EmailMessage:
    reply_from, tracking_id = receipt.reply_from, receipt.tracking_id
    in_reply_to = receipt.in_reply_to
    mail = EmailMessage()
    mail["From"] = Address("LAPOR!", addr_spec=reply_from) if "@" in reply_from else reply_from
    mail["To"] = receipt.to
    t = translator("id")
    clean_subject = " ".join(receipt.subject.split())[:150]
    mail["Subject"] = f"[LAPOR! {tracking_id}] " + (
        f"Re: {clean_subject}" if clean_subject else t("mail.receipt.subject")
    )
    domain = reply_from.rpartition("@")[2] or "lapor.localhost"
    # The report in the Message-ID, a reply address with its ID: an answer lands on the report.
    mail["Message-ID"] = thread_message_id(tracking_id, uuid.uuid4().hex, domain)
    if "@" in reply_from:
        mail["Reply-To"] = Address("LAPOR!", addr_spec=reply_address(reply_from, tracking_id))
    mail["Auto-Submitted"] = "auto-replied"  # RFC 3834: never answer this automatically
    references = " ".join(x for x in (in_reply_to, thread_root(tracking_id, domain)) if x)
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
    mail["References"] = references
    link = f"{public_url.rstrip('/')}/laporan/{tracking_id}"
    lines: list[str] = []
    for language in ("id", "en"):  # Bahasa Indonesia first, then English
        t = translator(language)
        lines += [
            t("mail.receipt.thanks"),
            "",
            t("mail.receipt.tracking_id", tracking_id=tracking_id),
            t("mail.receipt.access_code", access_code=receipt.access_code),
            "",
            t("mail.receipt.track", url=link),
            t("mail.receipt.reply"),
            t("mail.receipt.sms", tracking_id=tracking_id),
        ]
        if receipt.refused:
            lines += ["", t("mail.receipt.refused")]
            lines += [f"- {item.said(t)}" for item in receipt.refused]
        lines += ["", "--", ""] if language == "id" else []
    mail.set_content("\n".join(lines) + "\n")
    return mail


class MailServer:
    """The SMTP listener, in intake's own event loop (no extra thread)."""

    def __init__(self, handler: MailIntake, host: str, port: int, hostname: str, max_bytes: int):
        self.handler = handler
        self.host = host
        self.port = port
        self.hostname = hostname
        self.max_bytes = max_bytes
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        # aiosmtpd logs addresses and command lines at INFO: keep personal data out of our logs.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        logging.getLogger("aiosmtplib").setLevel(logging.WARNING)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(
                self.handler,
                data_size_limit=self.max_bytes,
                hostname=self.hostname,
                ident="LAPOR intake",
                timeout=120,
                loop=loop,
            ),
            host=self.host,
            port=self.port,
        )
        log.info("smtp_listening", host=self.host, port=self.port)
        if not self.handler.desk.ctx.settings.smtp_url:
            log.warning(
                "smtp_replies_disabled",
                reason="LAPOR_SMTP_URL not set: mails become reports but nobody is answered",
            )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        await self.handler.drain()
