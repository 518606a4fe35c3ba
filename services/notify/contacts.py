"""Where a notice goes: the reporter's decrypted contact, or a liaison officer's work address.

Notify is the only service that decrypts reporter contact (intake encrypts it with the report's
data key: key_id = tracking_id, payload {name, phone, email, channel, …}). The plaintext lives in
memory for one send and is never stored, logged or put into an event; only a masked form is kept
for the delivery log. After the report's key was erased (crypto-shredding) the reporter cannot be
reached: that is an outcome, not a failure.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from services.notify.notices import Officer, StaffGroup
from services.notify.outbox import OutboxRow
from services.notify.trips import OneTrip, each
from shared.crypto import KeyErased, KeyStore, keyed_hash
from shared.directory.model import Directory, Institution, load_categories
from shared.events.base import DomainEvent
from shared.logs import get_logger
from shared.notifications.events import NotificationChannel, SkipReason
from shared.privacy import mask_email, mask_handle, mask_phone
from shared.reports.events import ReportSubmitted
from shared.reports.lifecycle import stream_name
from shared.runtime.directory import LiveDirectory
from shared.senders.base import Address, PermanentSendError
from shared.store.port import EventStore, RecordedEvent

log = get_logger(__name__)

IDENTITY_ERASED_DETAIL = "cannot reach reporter (identity erased)"


class Unreachable(Exception):
    def __init__(self, reason: SkipReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class StaffDirectory:
    """Who gets staff notices, from the live directory (the `directory` stream's events, so an
    officer added or removed through routing's API is heard at once): the liaison officers of an
    institution; the administrators of a region (the officers of its own government, the region's
    LAPOR desk, else the national desk); the Ombudsman office of its province.

    Staff are e-mailed only, and named in the outbox by `ref`, a keyed hash of their address, so
    the outbox holds no address and a reordered directory still finds the same person.
    """

    def __init__(self, secret: bytes, live: LiveDirectory) -> None:
        self._secret = secret
        self.live = live

    async def ready(self) -> None:
        """Read the directory stream once (later changes arrive as events)."""
        await self.live.get()

    def _directory(self) -> Directory:
        return self.live.current

    def _group(self, institution: Institution | None) -> StaffGroup | None:
        if institution is None:
            return None
        members = tuple(
            Officer(ref=self.ref(o.email), email=o.email)
            for o in institution.liaison_officers
            if o.email
        )
        return StaffGroup(institution.code, institution.name, members)

    def officers(self, agency_code: str) -> StaffGroup | None:
        return self._group(self._directory().find(agency_code))

    def administrators(self, region_code: str | None) -> StaffGroup | None:
        directory = self._directory()
        try:
            desk = directory.government_for(region_code)
        except ValueError:  # a malformed region code: the national desk
            desk = None
        return self._group(desk or directory.national_desk)

    def ombudsman(self, region_code: str | None) -> StaffGroup | None:
        try:
            office = self._directory().ombudsman_office_for(region_code)
        except ValueError:
            office = self._directory().ombudsman
        return self._group(office)

    def name_of(self, agency_code: str) -> str | None:
        found = self._directory().find(agency_code)
        return found.name if found is not None else None

    def category_name(self, code: str | None) -> str | None:
        if not code:
            return None
        return _category_names().get(code)

    def ref(self, email: str) -> str:
        return keyed_hash(self._secret, "notify-officer", email.strip().lower())[:16]

    def find(self, agency_code: str, ref: str) -> Officer | None:
        group = self.officers(agency_code)
        if group is None:
            return None
        return next((o for o in group.members if o.ref == ref), None)


@lru_cache(maxsize=1)
def _category_names() -> dict[str, str]:
    try:
        return {c.code: c.name for c in load_categories()}
    except Exception:  # the names only decorate a notice
        log.warning("categories_unreadable")
        return {}


class Contacts:
    def __init__(self, store: EventStore, keys: KeyStore, officers: StaffDirectory) -> None:
        self._store = store
        self._keys = keys
        self._officers = officers
        # Contacts decrypted at the same time (a batch's reactions, a run's deliveries) share a
        # trip to a worker thread; the plaintext goes back to its own caller only.
        self._decrypt = OneTrip(each(keys.decrypt))

    async def address(self, row: OutboxRow) -> Address:
        channel = NotificationChannel(row.channel)
        if row.recipient_kind == "officer":
            await self._officers.ready()
            officer = self._officers.find(row.agency_code or "", row.recipient_ref)
            if officer is None:
                raise Unreachable(
                    SkipReason.NO_CONTACT, "liaison officer no longer in the directory"
                )
            return Address(officer.email, mask_email(officer.email))
        contact = await self._reporter_contact(row.tracking_id)
        return _pick(channel, contact)

    async def reporter_contact(
        self,
        tracking_id: str,
        first: RecordedEvent | None = None,
        first_payload: DomainEvent | None = None,
    ) -> dict[str, Any]:
        """The reporter's decrypted contact (Unreachable when there is none, or it is erased).
        `first`: the report's first event when the caller holds it already (not read again),
        `first_payload` its payload when parsed already."""
        return await self._reporter_contact(tracking_id, first, first_payload)

    async def _reporter_contact(
        self,
        tracking_id: str,
        first: RecordedEvent | None = None,
        first_payload: DomainEvent | None = None,
    ) -> dict[str, Any]:
        if first is None or first.stream != stream_name(tracking_id) or first.stream_version != 1:
            events = await self._store.read(stream_name(tracking_id))
            first, first_payload = (events[0] if events else None), None
        submitted = (
            first_payload
            if first_payload is not None
            else (first.payload() if first is not None else None)
        )
        if not isinstance(submitted, ReportSubmitted) or submitted.reporter is None:
            raise Unreachable(SkipReason.NO_CONTACT, "the reporter left no contact")
        try:
            return await self._decrypt(submitted.reporter)
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


def reporter_channel(
    wrote_on: NotificationChannel, contact: dict[str, Any] | None
) -> NotificationChannel:
    """Where the reporter hears from LAPOR: the channel they wrote on when it can answer them
    (SMS, e-mail, chat); otherwise (web, app, Open311, walk-in) e-mail when they left an address,
    SMS when they left only a phone number, else only the report page."""
    if wrote_on is not NotificationChannel.WEB or not contact:
        return wrote_on
    for key, channel in (("email", NotificationChannel.EMAIL), ("phone", NotificationChannel.SMS)):
        value = contact.get(key)
        if isinstance(value, str) and value.strip():
            return channel
    return NotificationChannel.WEB
