"""Channel senders: each takes one rendered notice to one address, or raises a SendError.

A SendError's message is safe to store and show: it never contains the address, the message
text or a gateway password. `TransientSendError` is worth retrying; `PermanentSendError` is not.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from shared.notifications.events import NotificationChannel


class SendError(Exception):
    """A send that did not go through. `str(error)` is safe to record."""


class TransientSendError(SendError):
    """Worth another try: the gateway is down, busy, or refused us for now."""


class PermanentSendError(SendError):
    """Retrying will not help: the address is invalid or was refused for good."""


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    html: str
    sms: str
    language: str
    # E-mail only: the report the mail is about (its Message-ID and thread name it), and where a
    # reply goes when LAPOR reads replies (intake's address with the ID).
    tracking_id: str | None = None
    reply_to: str | None = None


@dataclass(frozen=True)
class Address:
    """Where a notice goes. `value` is personal data: keep it in memory only."""

    value: str
    masked: str

    def __repr__(self) -> str:  # never print the address, even in a traceback's locals
        return f"Address(masked={self.masked!r})"


class Sender(Protocol):
    channel: NotificationChannel

    async def send(self, to: Address, message: Message, notification_id: uuid.UUID) -> None: ...

    async def close(self) -> None: ...
