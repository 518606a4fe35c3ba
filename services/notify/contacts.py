"""Where a notice goes: the reporter's decrypted contact, or a liaison officer's work address.

Notify is the only service that decrypts reporter contact (intake encrypts it with the report's
data key: key_id = tracking_id, payload {name, phone, email, channel, …}). The plaintext lives in
memory for one send and is never stored, logged or put into an event; only a masked form is kept
for the delivery log. After the report's key was erased (crypto-shredding) the reporter cannot be
reached: that is an outcome, not a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from services.notify.notices import Officer
from services.notify.outbox import OutboxRow
from shared.crypto import KeyErased, KeyStore, keyed_hash
from shared.logs import get_logger
from shared.notifications.events import NotificationChannel, SkipReason
from shared.privacy import mask_email, mask_handle, mask_phone
from shared.reports.events import ReportSubmitted
from shared.reports.lifecycle import stream_name
from shared.senders.base import Address, PermanentSendError
from shared.store.port import EventStore

log = get_logger(__name__)

IDENTITY_ERASED_DETAIL = "cannot reach reporter (identity erased)"


class Unreachable(Exception):
    def __init__(self, reason: SkipReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class OfficerDirectory:
    """Liaison officers per agency, from the directory (e-mail only: notices go by e-mail).

    Officers are named in the outbox by `ref`, a keyed hash of their address, so the outbox holds
    no address and a reordered directory still finds the same officer.
    """

    def __init__(self, secret: bytes, directory: Any | None = None) -> None:
        self._secret = secret
        self._directory = directory if directory is not None else _load_directory()

    def officers(self, agency_code: str) -> Sequence[Officer]:
        if self._directory is None:
            return []
        institution = self._directory.find(agency_code)
        if institution is None:
            return []
        return [
            Officer(ref=self.ref(o.email), email=o.email)
            for o in institution.liaison_officers
            if getattr(o, "email", None)
        ]

    def ref(self, email: str) -> str:
        return keyed_hash(self._secret, "notify-officer", email.strip().lower())[:16]

    def find(self, agency_code: str, ref: str) -> Officer | None:
        return next((o for o in self.officers(agency_code) if o.ref == ref), None)


def _load_directory() -> Any | None:
    try:
        from shared.directory.model import default_directory
    except ImportError:  # the directory module is optional for notify
        log.warning("directory_unavailable")
        return None
    return default_directory()


class Contacts:
    def __init__(self, store: EventStore, keys: KeyStore, officers: OfficerDirectory) -> None:
        self._store = store
        self._keys = keys
        self._officers = officers

    async def address(self, row: OutboxRow) -> Address:
        channel = NotificationChannel(row.channel)
        if row.recipient_kind == "officer":
            officer = self._officers.find(row.agency_code or "", row.recipient_ref)
            if officer is None:
                raise Unreachable(
                    SkipReason.NO_CONTACT, "liaison officer no longer in the directory"
                )
            return Address(officer.email, mask_email(officer.email))
        contact = await self._reporter_contact(row.tracking_id)
        return _pick(channel, contact)

    async def _reporter_contact(self, tracking_id: str) -> dict[str, Any]:
        events = await self._store.read(stream_name(tracking_id))
        submitted = events[0].payload() if events else None
        if not isinstance(submitted, ReportSubmitted) or submitted.reporter is None:
            raise Unreachable(SkipReason.NO_CONTACT, "the reporter left no contact")
        try:
            return await asyncio.to_thread(self._keys.decrypt, submitted.reporter)
        except KeyErased:
            raise Unreachable(SkipReason.IDENTITY_ERASED, IDENTITY_ERASED_DETAIL) from None
        except Exception as error:  # a wrong master secret, a damaged blob: ops must look
            raise PermanentSendError(
                f"cannot decrypt the reporter's contact ({type(error).__name__})"
            ) from None


def _pick(channel: NotificationChannel, contact: dict[str, Any]) -> Address:
    def text(*keys: str) -> str | None:
        for key in keys:
            value = contact.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
        return None

    if channel in (NotificationChannel.SMS, NotificationChannel.WHATSAPP):
        phone = (
            text("whatsapp", "phone") if channel is NotificationChannel.WHATSAPP else text("phone")
        )
        if phone:
            return Address(phone, mask_phone(phone))
    elif channel is NotificationChannel.EMAIL:
        email = text("email")
        if email:
            return Address(email, mask_email(email))
    elif channel in (
        NotificationChannel.MESSENGER,
        NotificationChannel.INSTAGRAM,
        NotificationChannel.X,
    ):
        handle = text("social_id", "user_id", "handle")
        if handle:
            return Address(handle, mask_handle(handle))
    raise Unreachable(SkipReason.NO_CONTACT, f"no {channel.value} contact for the reporter")
