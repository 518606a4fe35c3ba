"""Who answers a poll: a citizen verified by a one-time code, known only as a keyed hash.

- On the web a citizen proves a phone number or an e-mail address with a 6-digit code sent to it
  (SMS through Kannel's sendsms, e-mail through SMTP, with the shared senders); by SMS the number
  the telco delivered is the identity.
- Only a keyed hash of the identity and the poll code (`voter_hash`) is stored in events. Codes
  are stored hashed (keyed), expire, allow a few tries and a few sends per code's life.
"""

from __future__ import annotations

import hmac
import secrets
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Literal

from email_validator import EmailNotValidError, validate_email
from fastapi import HTTPException

from services.intake.polls.config import PollSettings
from shared.crypto import derive_key, keyed_hash
from shared.i18n import N_, translator
from shared.logs import get_logger
from shared.privacy import mask_email, mask_phone
from shared.senders.base import Address, Message, SendError
from shared.senders.kannel import KannelSms
from shared.senders.settings import SenderSettings
from shared.senders.smtp import SmtpEmail
from shared.values import normalize_phone

log = get_logger(__name__)


@dataclass(frozen=True)
class Identity:
    """A verified phone (E.164) or e-mail address. Personal data: memory only, never logged."""

    kind: Literal["phone", "email"]
    value: str

    @property
    def masked(self) -> str:
        return mask_phone(self.value) if self.kind == "phone" else mask_email(self.value)

    def __repr__(self) -> str:
        return f"Identity({self.kind}, {self.masked})"


def parse_identity(raw: str, field: str = "identity") -> Identity:
    text = raw.strip()
    if "@" in text:
        try:
            email = validate_email(text, check_deliverability=False).normalized
        except EmailNotValidError:
            raise HTTPException(400, f"{field}: not a valid e-mail address") from None
        return Identity("email", email.lower())
    phone = normalize_phone(text)
    if phone is None:
        raise HTTPException(400, f"{field}: a phone number (+62…, 08…) or an e-mail address")
    return Identity("phone", phone)


def voter_hash(secret: bytes, code: str, identity: str) -> str:
    """One voter in one poll: not linkable across polls, not reversible without the secret."""
    return keyed_hash(secret, "poll-voter", f"{code}|{identity}")


def ballot_key(secret: bytes, code: str) -> bytes:
    """The poll's own key that seals its answers until it closes (then PollClosed releases it).
    Derived, so every intake replica has it and nothing is stored; releasing one poll's key
    tells nothing of another's nor of the master secret."""
    return derive_key(secret, f"poll-ballots:{code}")


CodeCheck = Literal["ok", "wrong", "expired", "locked"]


class VerificationCodes:
    """One-time codes per (poll, identity) in a small SQLite file; only keyed hashes are kept."""

    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS codes (key TEXT PRIMARY KEY, code_hash TEXT NOT NULL,"
        " expires_at REAL NOT NULL, attempts INTEGER NOT NULL, sends INTEGER NOT NULL,"
        " window_start REAL NOT NULL)"
    )

    def __init__(self, path: Path, secret: bytes, settings: PollSettings) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._secret = secret
        self._ttl = float(settings.poll_code_ttl_seconds)
        self._attempts = settings.poll_code_attempts
        self._sends = settings.poll_code_sends
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.execute(self._SCHEMA)

    @property
    def ttl(self) -> float:
        return self._ttl

    def _key(self, code: str, identity: Identity) -> str:
        return keyed_hash(self._secret, "poll-code-key", f"{code}|{identity.value}")

    def _hash(self, key: str, otp: str) -> str:
        return keyed_hash(self._secret, "poll-code", f"{key}|{otp}")

    def issue(self, code: str, identity: Identity, now: float) -> str | float:
        """A new 6-digit code (replacing an earlier one), or the seconds to wait first."""
        key = self._key(code, identity)
        with self._lock:
            self._conn.execute("DELETE FROM codes WHERE window_start < ?", (now - 4 * self._ttl,))
            row = self._conn.execute(
                "SELECT sends, window_start FROM codes WHERE key = ?", (key,)
            ).fetchone()
            sends, window = (0, now) if row is None else (int(row[0]), float(row[1]))
            if now - window >= self._ttl:
                sends, window = 0, now
            if sends >= self._sends:
                return max(1.0, window + self._ttl - now)
            otp = f"{secrets.randbelow(1_000_000):06d}"
            self._conn.execute(
                "INSERT INTO codes (key, code_hash, expires_at, attempts, sends, window_start)"
                " VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (key) DO UPDATE SET"
                " code_hash = excluded.code_hash, expires_at = excluded.expires_at, attempts = 0,"
                " sends = excluded.sends, window_start = excluded.window_start",
                (key, self._hash(key, otp), now + self._ttl, sends + 1, window),
            )
            return otp

    def check(self, code: str, identity: Identity, otp: str, now: float) -> CodeCheck:
        key = self._key(code, identity)
        with self._lock:
            row = self._conn.execute(
                "SELECT code_hash, expires_at, attempts FROM codes WHERE key = ?", (key,)
            ).fetchone()
            if row is None or not row[0] or float(row[1]) <= now:
                return "expired"
            if int(row[2]) >= self._attempts:
                return "locked"
            if hmac.compare_digest(str(row[0]), self._hash(key, otp.strip())):
                return "ok"
            self._conn.execute("UPDATE codes SET attempts = attempts + 1 WHERE key = ?", (key,))
            return "wrong"

    def consume(self, code: str, identity: Identity) -> None:
        """The code did its job: it cannot be used again (the send count stays)."""
        with self._lock:
            self._conn.execute(
                "UPDATE codes SET code_hash = '', expires_at = 0 WHERE key = ?",
                (self._key(code, identity),),
            )

    def forget(self, code: str, identity: Identity) -> None:
        """A code that never left (the send failed) does not count."""
        with self._lock:
            self._conn.execute(
                "UPDATE codes SET code_hash = '', expires_at = 0, sends = MAX(sends - 1, 0)"
                " WHERE key = ?",
                (self._key(code, identity),),
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class CodeSender:
    """The one-time code by SMS (Kannel sendsms) or e-mail (SMTP), with the shared senders."""

    def __init__(self, sendsms_url: str | None, smtp_url: str | None) -> None:
        senders = SenderSettings()
        timeout = senders.notify_send_timeout_seconds
        self.sms = KannelSms(sendsms_url, senders.sms_sender, timeout) if sendsms_url else None
        self.email = SmtpEmail(smtp_url, senders.smtp_from, timeout) if smtp_url else None

    async def send(
        self, identity: Identity, code: str, title: str, otp: str, minutes: int, field: str
    ) -> None:
        sender = self.sms if identity.kind == "phone" else self.email
        if sender is None:
            setting = "LAPOR_SMS_SENDSMS_URL" if identity.kind == "phone" else "LAPOR_SMTP_URL"
            raise HTTPException(
                503, f"{field}: codes by {identity.kind} are not set up ({setting})"
            )
        # An SMS holds one language (Bahasa Indonesia); an e-mail says it in both, as the
        # poll's pages do.
        said = {
            language: translator(language)(
                N_("poll.code.text"), code=code, otp=otp, minutes=str(minutes)
            )
            for language in ("id", "en")
        }
        subject = " / ".join(translator(lang)(N_("poll.code.subject"), code=code) for lang in said)
        message = Message(
            subject=subject,
            text=f"{said['id']}\n\n{title}\n\n{said['en']}\n",
            html=(
                f"<p>{escape(said['id'])}</p><p>{escape(title)}</p>"
                f'<p lang="en">{escape(said["en"])}</p>'
            ),
            sms=said["id"],
            language="id",
        )
        try:
            await sender.send(Address(identity.value, identity.masked), message, uuid.uuid4())
        except SendError as error:
            log.warning("poll_code_not_sent", channel=identity.kind, error=str(error))
            raise HTTPException(
                502, f"{field}: the code could not be sent just now; please try again"
            ) from None

    async def close(self) -> None:
        if self.sms is not None:
            await self.sms.close()
        if self.email is not None:
            await self.email.close()
