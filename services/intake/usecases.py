"""What intake does for its routes, pages and channels: submit a report, check a reporter's access
code, act as the reporter, and read the views (a report, its timeline, lists, the map, stats).

The routes (`api.py`, `pages.py`) and the channels (`channels/`) only translate to and from these.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fastapi import HTTPException

from services.intake import views
from services.intake.attachments import AttachmentRejected, AttachmentStore
from services.intake.config import IntakeSettings
from services.intake.models import (
    AttachmentRef,
    FeatureCollectionOut,
    FeatureOut,
    FeaturePropertiesOut,
    FileOut,
    LocationOut,
    OfficerReadOut,
    PointOut,
    ReportIn,
    ReportOut,
    StatsOut,
    SubmitOut,
    TimelineEntryOut,
    UploadOut,
)
from shared.auth import Principal, Role, access_code_matches, hash_access_code
from shared.calendar import WIT
from shared.crypto import derive_key
from shared.errors import DomainError, KeyReused
from shared.events.base import Actor
from shared.http.common import (
    ACCESS_CODE_REQUIRED,
    ACCESS_CODE_WRONG,
    ATTACHMENT_NOT_FOUND,
    REPORT_NOT_FOUND,
)
from shared.http.limits import RateLimiter, too_many
from shared.i18n import both
from shared.keys import open_key_store
from shared.logs import get_logger
from shared.reports.commands import Command, SubmitReport
from shared.reports.deadlines import Stage
from shared.reports.deadlines import State as DeadlineState
from shared.reports.deadlines import Status as DeadlineStatus
from shared.reports.lifecycle import checked_event_date
from shared.reports.tracking import (
    ALPHABET,
    RANDOM_LENGTH,
    _check_symbol,
    new_access_code,
    new_tracking_id,
)
from shared.runtime.access_audit import access_log, record_confidential_read  # security hook
from shared.runtime.directory import LiveDirectory
from shared.runtime.escalation import Escalations
from shared.runtime.projection import Projector, ViewReader
from shared.runtime.repository import KEY_REUSED, Meta, same_request
from shared.runtime.rules import load_rules
from shared.runtime.service import Context
from shared.store.port import RecordedEvent
from shared.values import Attachment, Channel

NAME = "intake"
log = get_logger(__name__)


def derived_ids(secret: bytes, key: str) -> tuple[str, str]:
    """A retried submission (same idempotency key) gets the same tracking ID and access code."""
    seed = hmac.new(derive_key(secret, "idempotent-intake"), key.encode(), hashlib.sha256).digest()
    payload = "".join(ALPHABET[b % len(ALPHABET)] for b in seed[:RANDOM_LENGTH])
    code = "".join(ALPHABET[b % len(ALPHABET)] for b in seed[16:24])
    return payload + _check_symbol(payload), code


@dataclass(frozen=True)
class OpenDeadline:
    """A running deadline as the report page says it: whose (`stage`), the day, and whether that
    day has passed (the system keeps counting: a breach, an escalation, a closing follows)."""

    stage: str
    due: date
    passed: bool


# The deadline the report page tells of, by the report's status.
_PAGE_DEADLINES = {"forwarded": Stage.FOLLOW_UP, "completion_requested": Stage.COMPLETION_EXPIRY}


def known_categories() -> dict[str, tuple[str, str]]:
    """Category code -> (Indonesian name, English name)."""
    from shared.directory.model import load_categories

    return {c.code: (c.name, c.name_en) for c in load_categories()}


def category_known(code: str) -> bool:
    """Whether `code` is a category; without a readable category list every code passes."""
    try:
        return code in known_categories()
    except Exception:  # the list is shared data: a broken file must not refuse reports
        log.exception("categories_unreadable")
        return True


def officer_may_read(row: Any, officer: Principal | None) -> bool:
    """Officers who handle a report see all of it: its region's admins and Ombudsman office
    (a token without a region covers the country), and the institution it was forwarded to."""
    if officer is None:
        return False
    if officer.role in (Role.ADMIN, Role.OMBUDSMAN):
        return officer.covers_region(row["region_code"])
    return officer.role is Role.AGENCY and officer.agency == row["agency_code"]


@dataclass(frozen=True)
class Reader:
    """Who asks to read a report: its reporter (the access code) or an officer, and from where
    (the failed-lookup budget is per address)."""

    code: str | None
    officer: Principal | None
    address: str
    cid: str


class Intake:
    """What intake's routes (and the channels) share: the use cases and the citizen's checks."""

    def __init__(self, ctx: Context, projector: Projector) -> None:
        self.ctx = ctx
        self.secret = ctx.settings.master_secret
        self.keys = open_key_store(ctx.settings)
        self.projector = projector
        self.views = ViewReader(projector.path)
        self.limits = IntakeSettings()
        self.attachments = AttachmentStore(
            ctx.settings.data_dir / "attachments",
            max_bytes=self.limits.max_attachment_bytes,
            max_pixels=self.limits.max_image_pixels,
            max_photo_bytes=self.limits.max_photo_bytes,
            secret=self.secret,
        )
        self.submissions = RateLimiter(self.limits.submissions_per_minute)
        self.failed_codes = RateLimiter(self.limits.failed_access_codes_per_minute)
        # The reporter's escalation to the Ombudsman (the report page, SMS ESKALASI): the same
        # use case as sla's API, counted with the same calendar and policy.
        self.directory = LiveDirectory(ctx.store)
        self.escalations = Escalations(ctx.reports, self.directory, load_rules(), ctx.clock)

    async def close(self) -> None:
        self.keys.close()

    # --- submitting ----------------------------------------------------------------------------
    async def submit(
        self,
        report: ReportIn,
        channel: Channel,
        cid: str,
        idempotency_key: str | None,
        channel_message_id: str | None = None,
        *,
        attachments: tuple[Attachment, ...] = (),
        contact: dict[str, str] | None = None,
        one_report_per_key: bool = False,
    ) -> SubmitOut:
        """`contact`: more of the reporter's contact for the encrypted blob (a channel's user id).

        `attachments`: files stored already (`store_uploads`); `report.attachments` may name
        more by sha256 (uploaded before through the API).

        `one_report_per_key`: the key is an integrator's own (`Idempotency-Key`, an offline
        reference): sent again with another body it is refused (`KeyReused`), not a new report.
        """
        files = (*attachments, *self.resolve(report.attachments))
        self._at_most(len(files), "per report")
        if report.category is not None and not category_known(report.category):
            raise DomainError("category: unknown category")
        checked_event_date(report.event_date, self.ctx.clock.now().astimezone(WIT).date())
        body_digest = ""
        if idempotency_key:
            body_digest = hashlib.sha256(report.model_dump_json().encode()).hexdigest()
            # An integrator's own key (`one_report_per_key`) names one report whatever it
            # carries: its ids come from the key alone, so the key reused for another body is
            # found and refused below. Elsewhere a key guards against a double delivery only: a
            # web form sent again after the back button with other words, or a gateway reusing
            # a message id for another text, is another report, never a refused one.
            tracking_id, access_code = derived_ids(
                self.secret,
                idempotency_key if one_report_per_key else f"{idempotency_key}|{body_digest}",
            )
        else:
            tracking_id, access_code = new_tracking_id(), new_access_code()
        reporter = None
        details: dict[str, str] = dict(contact or {})
        if report.reporter is not None and not report.reporter.is_empty():
            details |= report.reporter.model_dump(mode="json", exclude_none=True)
        if details:
            reporter = await self.keys.encrypt_async(
                tracking_id, details | {"channel": channel.value}
            )
        command = SubmitReport(
            tracking_id=tracking_id,
            classification=report.classification,
            title=report.title,
            body=report.body,
            category=report.category,
            location=report.location,
            event_date=report.event_date,
            channel=channel,
            channel_message_id=channel_message_id,
            anonymous=report.anonymous,
            confidential=report.confidential,
            reporter=reporter,
            attachments=files,
            access_code_hash=hash_access_code(self.secret, tracking_id, access_code),
            language=report.language,
        )
        meta = Meta(
            actor=Actor(kind="citizen", id="anonymous" if report.anonymous else "reporter"),
            correlation_id=cid,
            idempotency_key=idempotency_key
            and (
                f"submit|{idempotency_key}|{body_digest}"
                if one_report_per_key
                else f"submit|{idempotency_key}"
            ),
        )
        # A tracking id made at random names no stream yet: nothing to read before appending.
        stored = await self.ctx.reports.execute(
            tracking_id, command, meta, new_stream=idempotency_key is None
        )
        if one_report_per_key and not stored:  # the key's report holds another body
            raise KeyReused(
                "Idempotency-Key: sudah dipakai untuk laporan dengan isi lain; kirim kunci baru"
                " untuk laporan baru / already used for a report with other content; send a new"
                " key for a new report"
            )
        log.info("report_submitted", tracking_id=tracking_id, channel=channel.value)
        await self.caught_up(stored)
        return SubmitOut(tracking_id=tracking_id, access_code=access_code, status="submitted")

    def resolve(self, refs: Sequence[AttachmentRef]) -> tuple[Attachment, ...]:
        return tuple(
            self.attachments.resolve(ref.sha256, ref.name, ref.upload_token) for ref in refs
        )

    def limited(self, files: tuple[Attachment, ...]) -> tuple[Attachment, ...]:
        """At most `max_attachments` files with one action."""
        self._at_most(len(files), "at once")
        return files

    def _at_most(self, count: int, per: str) -> None:
        if count > self.limits.max_attachments:
            raise AttachmentRejected(
                f"attachments: at most {self.limits.max_attachments} files {per}"
            )

    async def store_uploads(
        self, files: Sequence[tuple[bytes, str | None, str | None]]
    ) -> tuple[Attachment, ...]:
        """Store uploaded files (data, name, declared type) off the event loop."""
        self._at_most(len(files), "at once")
        stored = []
        for data, name, media_type in files:
            stored.append(await asyncio.to_thread(self.attachments.store, data, name, media_type))
        return tuple(stored)

    async def upload(self, data: bytes, name: str | None, media_type: str | None) -> UploadOut:
        """One file through the API, counted on the address's submission budget by the caller;
        the answer's upload_token is what attaches it. A photo may come larger than the limit
        per file (it is scaled down); what is stored must fit it (413 otherwise)."""
        if len(data) > self.attachments.max_photo_bytes:
            raise HTTPException(
                413, f"file: at most {self.limits.max_attachment_bytes} bytes per file"
            )
        try:
            (stored,) = await self.store_uploads([(data, name, media_type)])
        except AttachmentRejected as refused:
            if refused.key == "error.attachment.too_large":
                raise HTTPException(413, f"file: {str(refused).partition(': ')[2]}") from None
            raise
        return UploadOut.model_validate(
            stored.model_dump(mode="json")
            | {"upload_token": self.attachments.upload_token(stored.sha256)}
        )

    # --- the reporter ----------------------------------------------------------------------------
    async def expected_code_hash(self, tracking_id: str) -> str | None:
        """The report's access-code hash, from the view or (if it lags) the store."""
        row = await self.report_row(tracking_id)
        if row is not None:
            return str(row["access_code_hash"])
        state, _ = await self.ctx.reports.load(tracking_id)
        return state.access_code_hash if state is not None else None

    def reserve_lookup(self, address: str, field: str) -> None:
        """Take one try from the address's failed-lookup budget before looking anything up (429
        when it is spent); `lookup_succeeded` gives it back. Reserving before the first await
        is what keeps the budget when hundreds of tries arrive at once."""
        wait = self.failed_codes.hit(address)
        if wait > 0:
            raise too_many(wait, field)

    def lookup_succeeded(self, address: str) -> None:
        self.failed_codes.refund(address)

    async def code_matches(self, tracking_id: str, code: str) -> bool:
        expected = await self.expected_code_hash(tracking_id)
        return expected is not None and access_code_matches(
            self.secret, tracking_id, code[:64], expected
        )

    async def code_is_right(
        self, tracking_id: str, code: str | None, address: str, field: str = "X-Access-Code"
    ) -> bool:
        """Check an access code, counting wrong ones per address (429 past the limit)."""
        if not code:
            return False
        self.reserve_lookup(address, field)
        if await self.code_matches(tracking_id, code):
            self.lookup_succeeded(address)
            return True
        return False

    async def require_reporter(
        self, tracking_id: str, code: str | None, address: str, field: str = "X-Access-Code"
    ) -> None:
        if not code:
            raise HTTPException(401, f"{field}: {both(ACCESS_CODE_REQUIRED)}")
        if not await self.code_is_right(tracking_id, code, address, field):
            if await self.expected_code_hash(tracking_id) is None:
                raise HTTPException(404, both(REPORT_NOT_FOUND))
            raise HTTPException(403, f"{field}: {both(ACCESS_CODE_WRONG)}")

    async def act(
        self,
        tracking_id: str,
        command: Command,
        cid: str,
        key: str | None,
        *,
        client_key: bool = False,
    ) -> list[RecordedEvent]:
        """`client_key`: `key` is the client's own `Idempotency-Key`; found with events that
        say something else than `command` (another text, other files), it is refused."""
        meta = Meta(
            actor=Actor(kind="citizen", id="reporter"), correlation_id=cid, idempotency_key=key
        )
        done = await self.ctx.reports.run(tracking_id, command, meta)
        found = done.events and not done.appended
        if client_key and found and not same_request(command, done.events[0].payload()):
            raise KeyReused(KEY_REUSED)
        await self.caught_up(done.events)
        return done.events

    async def caught_up(self, events: Sequence[RecordedEvent]) -> None:
        """Read your own writes: the caller's next read (the report page, its timeline, Open311's
        GET) already shows what was just appended. Bounded: waits for intake's own views only."""
        if events:
            await self.ctx.caught_up(max(e.position for e in events), appended=events)

    async def act_as_reporter(
        self,
        tracking_id: str,
        code: str | None,
        address: str,
        command: Callable[[], Command],
        cid: str,
        key: str | None,
    ) -> list[str]:
        """The reporter (checked by the access code first) acts on their report: the types of
        the events it appended. `command` is made after the check (it resolves files)."""
        await self.require_reporter(tracking_id, code, address)
        events = await self.act(tracking_id, command(), cid, key, client_key=True)
        return [e.event_type for e in events]

    # --- reading -------------------------------------------------------------------------------
    async def report_row(self, tracking_id: str) -> Any:
        return await self.views.fetchone(
            "SELECT * FROM reports WHERE tracking_id = ?", (tracking_id,)
        )

    async def open_deadline(self, tracking_id: str, status: str) -> OpenDeadline | None:
        """The deadline the report page tells of, as the system keeps it (the one calculator,
        `shared.reports.deadlines`, on the report's events): the institution's first follow-up
        while it holds the report (a new one after a reopening), the reporter's completion while
        an administrator waits for it. None when none is running."""
        stage = _PAGE_DEADLINES.get(status)
        if stage is None:
            return None
        _, events = await self.escalations.load(tracking_id)
        running = [
            d
            for d in self.escalations.deadlines(tracking_id, events).of_stage(stage)
            if d.status is DeadlineStatus.OPEN and d.due is not None and d.current_scope
        ]
        if not running:
            return None
        last = running[-1]
        assert last.due is not None
        passed = last.state(self.ctx.clock.now()) is DeadlineState.OVERDUE
        return OpenDeadline(stage.value, last.due, passed)

    async def readable(
        self, tracking_id: str, reader: Reader, what: str = "report"
    ) -> tuple[Any, bool]:
        """The row, and whether the caller may see the reporter's part (files)."""
        code, officer, address, cid = reader.code, reader.officer, reader.address, reader.cid
        # Security hook (issue 12, enumeration): unknown or hidden tracking IDs and wrong codes
        # draw on the address's failed-lookup budget; once it is used up, every lookup from
        # there gets 429, hit or miss alike, so 429 reveals nothing either. One try is reserved
        # before anything is awaited and given back when the lookup finds what it may see.
        self.reserve_lookup(address, "tracking_id")
        row = await self.report_row(tracking_id)
        if row is None:
            if await self.expected_code_hash(tracking_id) is not None:  # only a lagging view
                self.lookup_succeeded(address)
            raise HTTPException(404, both(REPORT_NOT_FOUND))
        right_code = code is not None and await self.code_matches(tracking_id, code)
        privileged = officer_may_read(row, officer) or right_code
        if row["confidential"] and not privileged:
            raise HTTPException(404, both(REPORT_NOT_FOUND))
        if code is None or right_code:  # a wrong code stays counted, whatever the report
            self.lookup_succeeded(address)
        # Security hook (issue 12, access audit): an officer's read of a confidential report is
        # recorded on access-<tracking_id> before anything is returned (fail closed).
        if row["confidential"] and officer is not None and officer_may_read(row, officer):
            await record_confidential_read(
                self.ctx.store,
                officer,
                tracking_id,
                service=NAME,
                what=what,
                at=self.ctx.clock.now(),
                correlation_id=cid,
            )
        return row, privileged

    async def report(self, tracking_id: str, reader: Reader) -> ReportOut:
        """One report as the caller may see it."""
        row, privileged = await self.readable(tracking_id, reader)
        officer = reader.officer
        view = public_view(row, reporter=privileged)
        # Security hooks (issue 12): erasure shows in the view; the reporter (access code, no
        # officer token) sees who read their confidential report.
        more: dict[str, Any] = {
            "reporter_identity_erased": await asyncio.to_thread(self.keys.is_erased, tracking_id)
        }
        if privileged and officer is None and row["confidential"]:
            reads = await access_log(self.ctx.store, tracking_id)
            more["officer_reads"] = [OfficerReadOut.model_validate(r) for r in reads]
        return view.model_copy(update=more)

    async def timeline(
        self, tracking_id: str, *, full: bool = True, redacted: bool = False
    ) -> list[TimelineEntryOut]:
        """A report's events in order. `full=False` (an unpublished report, for anyone but its
        reporter and officers): what happened and when only. `redacted` (a public text was set,
        read by the public): the reporter's amendments, part of the report, are left out too."""
        rows = await self.views.fetchall(
            "SELECT event_type, occurred_at, actor_kind, details FROM timeline"
            " WHERE tracking_id = ? ORDER BY position",
            (tracking_id,),
        )
        entries = []
        for r in rows:
            details = json.loads(r["details"])
            if not full or (redacted and r["event_type"] == "ReportAmended"):
                details = {}
            entries.append(
                TimelineEntryOut.model_validate(
                    {
                        "event_type": r["event_type"],
                        "occurred_at": r["occurred_at"],
                        "actor": r["actor_kind"],
                        **details,
                    }
                )
            )
        return entries

    async def timeline_for(self, row: Any, privileged: bool) -> list[TimelineEntryOut]:
        """The timeline as this caller may read it (see `timeline`)."""
        if privileged:
            return await self.timeline(row["tracking_id"])
        return await self.timeline(
            row["tracking_id"],
            full=bool(row["published"]),
            redacted=row["public_title"] is not None,
        )

    async def file_of(self, row: Any, sha256: str) -> tuple[Path, FileOut]:
        """A file of this report (by its sha256) and where it is stored; 404 when it is not one
        of the report's files."""
        files = {a["sha256"]: a for a in json.loads(row["attachments"] or "[]")}
        meta = files.get(sha256)
        path = self.attachments.path_of(sha256)
        if meta is None or not path.is_file():
            raise HTTPException(404, both(ATTACHMENT_NOT_FOUND))
        return path, FileOut.model_validate(meta)

    async def page(
        self, f: views.ReportFilter, limit: int, cursor: int | None, offset: int = 0
    ) -> views.Page:
        query = views.list_query(f, limit + 1, cursor, offset)
        if query is None:
            return views.Page()
        rows = await self.views.fetchall(*query)
        more = len(rows) > limit
        rows = rows[:limit]
        return views.Page(rows=rows, next_cursor=int(rows[-1]["seq"]) if more and rows else None)

    async def map_rows(
        self, f: views.ReportFilter, limit: int, bbox: tuple[float, float, float, float] | None
    ) -> list[Any]:
        sql, params = views.map_query(f, limit, bbox)
        return await self.views.fetchall(sql, params)

    async def map_agencies(self, limit: int = 300) -> list[tuple[str, str]]:
        """The institutions that have public reports on the map (code, name), most first: the
        map's institution filter (not the whole directory: a page light on 3G)."""
        rows = await self.views.fetchall(
            "SELECT agency_code, MAX(agency_name) AS name, COUNT(*) AS n FROM reports"
            " WHERE confidential = 0 AND agency_code IS NOT NULL AND lat IS NOT NULL"
            " GROUP BY agency_code ORDER BY n DESC, agency_code LIMIT ?",
            (limit,),
        )
        return [(row["agency_code"], row["name"] or row["agency_code"]) for row in rows]

    async def map(
        self, f: views.ReportFilter, limit: int, bbox: tuple[float, float, float, float] | None
    ) -> FeatureCollectionOut:
        return FeatureCollectionOut(
            features=[feature(r) for r in await self.map_rows(f, limit, bbox)]
        )

    async def stats(self) -> StatsOut:
        rows = await self.views.fetchall("SELECT dimension, key, n FROM stats_counts")
        return StatsOut.model_validate(views.stats_from_counts([(r[0], r[1], r[2]) for r in rows]))

    # --- keeping the views ---------------------------------------------------------------------
    async def drop_expired_text(self, retention_days: float) -> int:
        """Security hook (issue 12, retention): blank finished reports' text older than the
        retention period in the views (the store keeps every event; see docs/security.md)."""
        cutoff = self.ctx.clock.now() - timedelta(days=retention_days)
        try:
            dropped = await asyncio.to_thread(views.drop_expired_text, self.projector, cutoff)
        except sqlite3.Error as error:
            log.warning("view_retention_failed", error_type=type(error).__name__)
            return 0
        if dropped:
            log.info("view_retention_dropped", reports=dropped)
        return dropped


def public_view(row: Any, reporter: bool = False) -> ReportOut:
    """A report as the public sees it (`reporter=True`: as its reporter or an officer does).

    Unpublished (not yet forwarded, or rejected): the public sees its status and dates only.
    Published with a public text: the public reads that text; the reporter and officers read the
    reporter's own words (and the public text beside them)."""
    if not reporter and not row["published"]:
        return ReportOut(
            tracking_id=row["tracking_id"],
            status=row["status"],
            published=False,
            submitted_at=row["submitted_at"],
            updated_at=row["updated_at"],
        )
    files = json.loads(row["attachments"] or "[]")
    redacted = row["public_title"] is not None
    title, body = row["title"], row["body"]
    if redacted and not reporter:
        title, body = row["public_title"], row["public_body"]
    view: dict[str, Any] = {
        "tracking_id": row["tracking_id"],
        "status": row["status"],
        "published": bool(row["published"]),
        "classification": row["classification"],
        "title": title,
        "body": body,
        "category": row["category"],
        "location": LocationOut(
            lat=row["lat"], lon=row["lon"], region_code=row["region_code"], address=row["address"]
        ),
        "channel": row["channel"],
        "anonymous": bool(row["anonymous"]),
        "confidential": bool(row["confidential"]),
        "agency_code": row["agency_code"],
        "agency_name": row["agency_name"],
        "follow_up_due": views.follow_up_due_kept(row),
        "event_date": row["event_date"],
        "rating": row["rating"],
        "attachment_count": len(files),
        "submitted_at": row["submitted_at"],
        "updated_at": row["updated_at"],
    }
    if reporter:
        view["attachments"] = [FileOut.model_validate(f) for f in files]
        if redacted:
            view["public_title"] = row["public_title"]
            view["public_body"] = row["public_body"]
    return ReportOut.model_validate(view)


def feature(row: Any) -> FeatureOut:
    return FeatureOut(
        geometry=PointOut(coordinates=[row["lon"], row["lat"]]),
        properties=FeaturePropertiesOut(
            tracking_id=row["tracking_id"],
            status=row["status"],
            category=row["category"],
            classification=row["classification"],
            title=row["public_title"] or row["title"],
            submitted_at=row["submitted_at"],
            agency_code=row["agency_code"],
        ),
    )
