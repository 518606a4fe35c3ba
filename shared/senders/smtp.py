"""E-mail through SMTP (aiosmtplib): a text part and an HTML part, one message per recipient.

`LAPOR_SMTP_URL`: `smtp://host:port` (plain, STARTTLS when the server offers it),
`smtp+starttls://host:port` (STARTTLS required) or `smtps://host:port` (TLS from the start);
`user:password@` before the host logs in. The Message-ID is derived from the notification id, so
a mail that had to be sent again after a crash can be recognised as the same message, and names
the report (shared/senders/mail_threads.py), so a reply to it lands on the report.
"""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, parseaddr
from urllib.parse import unquote, urlsplit

import aiosmtplib

from shared.notifications.events import NotificationChannel
from shared.senders.base import Address, Message, PermanentSendError, SendError, TransientSendError
from shared.senders.mail_threads import thread_message_id, thread_root

# 7-bit on the wire (quoted-printable bodies, RFC 2047 headers): any relay takes it, with or
# without 8BITMIME / SMTPUTF8.
_POLICY = SMTP.clone(cte_type="7bit")


class SmtpEmail:
    channel = NotificationChannel.EMAIL

    def __init__(self, smtp_url: str, sender: str, timeout: float = 15.0) -> None:
        parts = urlsplit(smtp_url)
        if parts.scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
            raise ValueError("LAPOR_SMTP_URL must look like smtp://host:port")
        self._hostname = parts.hostname
        self._port = parts.port or (465 if parts.scheme == "smtps" else 25)
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._use_tls = parts.scheme == "smtps"
        # None lets aiosmtplib upgrade when the server offers STARTTLS; True insists on it.
        self._start_tls: bool | None = True if parts.scheme == "smtp+starttls" else None
        if self._use_tls:
            self._start_tls = False
        self._sender = sender
        self._sender_address = parseaddr(sender)[1] or "noreply@lapor.example"
        self._domain = self._sender_address.rpartition("@")[2] or "lapor.example"
        self._timeout = timeout

    def build(self, to: Address, message: Message, notification_id: uuid.UUID) -> EmailMessage:
        mail = EmailMessage(policy=_POLICY)
        mail["From"] = self._sender
        mail["To"] = to.value
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(usegmt=True)
        if message.tracking_id:
            # The report in the Message-ID and one thread per report: a reply finds the report.
            tid = message.tracking_id
            mail["Message-ID"] = thread_message_id(tid, str(notification_id), self._domain)
            mail["References"] = thread_root(tid, self._domain)
        else:
            mail["Message-ID"] = f"<{notification_id}@{self._domain}>"
        if message.reply_to:
            mail["Reply-To"] = message.reply_to
        mail["Content-Language"] = message.language
        mail["Auto-Submitted"] = "auto-generated"
        mail["X-LAPOR-Notification-ID"] = str(notification_id)
        mail.set_content(message.text)
        mail.add_alternative(message.html, subtype="html")
        return mail

    async def send(self, to: Address, message: Message, notification_id: uuid.UUID) -> None:
        mail = self.build(to, message, notification_id)
        try:
            await aiosmtplib.send(
                mail.as_bytes(),  # flattened with our policy, not aiosmtplib's 8-bit one
                sender=self._sender_address,
                recipients=[to.value],
                hostname=self._hostname,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._use_tls,
                start_tls=self._start_tls,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = sorted({r.code for r in error.recipients})
            raise _by_code(codes[0] if codes else 550, "recipient refused") from None
        except aiosmtplib.SMTPResponseException as error:
            raise _by_code(error.code, type(error).__name__) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            raise TransientSendError(f"SMTP server unreachable ({type(error).__name__})") from None

    async def close(self) -> None:
        return None


def _by_code(code: int, what: str) -> SendError:
    # 5xx is a final answer (bad mailbox, policy); 4xx asks us to try again later.
    if 500 <= code < 600:
        return PermanentSendError(f"SMTP {code}: {what}")
    return TransientSendError(f"SMTP {code}: {what}")
