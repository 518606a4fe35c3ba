"""What the polls part uses of the rest of intake, as protocols.

Intake's composition root hands its own objects in (`build(ctx, intake)`), and the SMS channel its
desk and sender (`answer_by_sms(desk, sender, …)`); nothing here imports them, so the polls package
depends on no other part of intake but the region list, and no import cycle runs through it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from shared.http.limits import RateLimiter
from shared.runtime.service import Context
from shared.values import Attachment, Channel


class Limits(Protocol):
    """Intake's settings that the polls' pages and routes honour too."""

    @property
    def trust_forwarded_for(self) -> bool: ...

    @property
    def secure_cookies(self) -> bool: ...


class Attachments(Protocol):
    """Intake's attachment store: a poll's document is uploaded like a report's photo."""

    def resolve(self, sha256: str, name: str | None, upload_token: str) -> Attachment:
        """A file the caller uploaded earlier (its upload_token proves it); a DomainError
        (naming `attachments`) when there is none, or the token is not its."""
        ...

    def path_of(self, sha256: str) -> Path: ...


class IntakePart(Protocol):
    """What polls use of intake: the master secret, the limits, the attachments."""

    @property
    def secret(self) -> bytes: ...

    @property
    def limits(self) -> Limits: ...

    @property
    def submissions(self) -> RateLimiter:
        """Citizens' writes per address (a code request counts as one)."""
        ...

    @property
    def failed_codes(self) -> RateLimiter:
        """Wrong codes per address (access codes and one-time codes alike)."""
        ...

    @property
    def attachments(self) -> Attachments: ...


class Desk(Protocol):
    """The SMS channel's desk, as `answer_by_sms` sees it."""

    @property
    def ctx(self) -> Context: ...

    @property
    def intake(self) -> IntakePart: ...


class MessageSender(Protocol):
    """Who sent an SMS answer: the channel, and the number the telco delivered (if any)."""

    @property
    def channel(self) -> Channel: ...

    @property
    def phone(self) -> str | None: ...
