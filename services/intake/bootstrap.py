"""Intake: the citizen's side. Composition root and HTTP surface (JSON API; pages in `web.py`).

No `from __future__ import annotations` here: FastAPI must resolve the route signatures that
refer to dependencies defined inside `build`.
"""

import asyncio
import hashlib
import hmac
import json
import sqlite3
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    FastAPI,
    File,
    Header,
    HTTPException,
    Query,
    Request,
    Response,
    UploadFile,
)
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.intake import regions, views
from services.intake.attachments import AttachmentRejected, AttachmentStore
from services.intake.config import IntakeSettings
from services.intake.limits import BodySizeLimit, RateLimiter, client_address, enforce, too_many
from shared.auth import Principal, Role, access_code_matches, hash_access_code
from shared.crypto import KeyStore, derive_key
from shared.errors import DomainError
from shared.events.base import Actor
from shared.http.common import correlation_id
from shared.logs import get_logger
from shared.reports.commands import (
    AmendReport,
    CloseReport,
    Command,
    RateReport,
    ReplyAsReporter,
    SubmitReport,
)
from shared.reports.events import Classification, CloseReason, Location, Status
from shared.reports.lifecycle import ReportNotFound
from shared.reports.tracking import (
    ALPHABET,
    RANDOM_LENGTH,
    InvalidTrackingId,
    _check_symbol,
    new_access_code,
    new_tracking_id,
    normalize_tracking_id,
)
from shared.runtime.access_audit import access_log, record_confidential_read  # security hook
from shared.runtime.bus import Service
from shared.runtime.projection import Projector, ViewReader, open_view_db
from shared.runtime.repository import Meta
from shared.runtime.service import Context
from shared.runtime.service import create_app as create_service_app
from shared.settings import Settings
from shared.store.port import RecordedEvent
from shared.values import Attachment, Channel

NAME = "intake"
log = get_logger(__name__)


class ReporterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 \-]{6,20}$")
    email: EmailStr | None = None


class AttachmentRef(BaseModel):
    """A file uploaded before (POST /api/v1/attachments), named by its sha256."""

    model_config = ConfigDict(extra="forbid")

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    name: str | None = Field(default=None, max_length=255)


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    classification: Classification = Classification.COMPLAINT
    title: str = Field(min_length=3, max_length=200)
    body: str = Field(min_length=10, max_length=10_000)
    category: str | None = Field(default=None, max_length=64)
    location: Location = Location()
    event_date: date | None = None
    anonymous: bool = False
    confidential: bool = False
    reporter: ReporterIn | None = None
    language: str = Field(default="id", pattern=r"^(id|en)$")
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=20)


class SubmitOut(BaseModel):
    tracking_id: str
    access_code: str
    status: str


class TextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=10_000)
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=20)


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=2000)


def create_projector(settings: Settings) -> Projector:
    upgrade_views(settings)
    return Projector(settings.view_db(NAME), NAME, views.SCHEMA, views.apply, views.TABLES)


def create_projectors(settings: Settings) -> list[Projector]:
    """Every read model of this service (for `lapor rebuild`): intake's and the polls' views."""
    from services.intake.polls import create_projector as polls_projector

    return [create_projector(settings), polls_projector(settings.data_dir)]


def upgrade_views(settings: Settings) -> bool:
    """Drop a view file of an older schema; True when it must be rebuilt from the store."""
    path = settings.view_db(NAME)
    if not path.exists():
        return False
    conn = open_view_db(path)
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS checkpoint"
            " (name TEXT PRIMARY KEY, position INTEGER NOT NULL)"
        )
        return views.drop_stale(conn, NAME)
    finally:
        conn.close()


def _rebuild_now(settings: Settings, projector: Projector) -> None:
    """Replay the store into fresh views before the service consumes (after a schema upgrade)."""
    from shared.store import open_store

    async def replay() -> int:
        store = open_store(settings.event_store_url)
        try:
            return await projector.rebuild(store)
        finally:
            await store.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        count = asyncio.run(replay())
        log.warning("views_rebuilt_after_upgrade", events=count)
        return
    log.error("views_need_rebuild", hint="run: lapor rebuild intake")


def _derived_ids(secret: bytes, key: str) -> tuple[str, str]:
    """A retried submission (same idempotency key) gets the same tracking ID and access code."""
    seed = hmac.new(derive_key(secret, "idempotent-intake"), key.encode(), hashlib.sha256).digest()
    payload = "".join(ALPHABET[b % len(ALPHABET)] for b in seed[:RANDOM_LENGTH])
    code = "".join(ALPHABET[b % len(ALPHABET)] for b in seed[16:24])
    return payload + _check_symbol(payload), code


def known_categories() -> dict[str, tuple[str, str]]:
    """Category code -> (Indonesian name, English name)."""
    from shared.directory.model import load_categories

    return {c.code: (c.name, c.name_en) for c in load_categories()}


class Intake:
    """What intake's routes (and the channels) share: the use cases and the citizen's checks."""

    def __init__(self, ctx: Context, projector: Projector) -> None:
        self.ctx = ctx
        self.secret = ctx.settings.master_secret
        self.keys = KeyStore(ctx.settings.data_dir / "keys.db", self.secret)
        self.views = ViewReader(projector.path)
        self.limits = IntakeSettings()
        self.attachments = AttachmentStore(
            ctx.settings.data_dir / "attachments",
            max_bytes=self.limits.max_attachment_bytes,
            max_pixels=self.limits.max_image_pixels,
        )
        self.submissions = RateLimiter(self.limits.submissions_per_minute)
        self.failed_codes = RateLimiter(self.limits.failed_access_codes_per_minute)

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
    ) -> SubmitOut:
        """`contact`: more of the reporter's contact for the encrypted blob (a channel's user id).

        `attachments`: files stored already (`store_attachment`); `report.attachments` may name
        more by sha256 (uploaded before through the API).
        """
        files = (*attachments, *self.resolve(report.attachments))
        if len(files) > self.limits.max_attachments:
            raise AttachmentRejected(
                f"attachments: at most {self.limits.max_attachments} files per report"
            )
        if report.category is not None and not category_known(report.category):
            raise DomainError("category: unknown category")
        if idempotency_key:
            body_digest = hashlib.sha256(report.model_dump_json().encode()).hexdigest()
            tracking_id, access_code = _derived_ids(self.secret, f"{idempotency_key}|{body_digest}")
        else:
            tracking_id, access_code = new_tracking_id(), new_access_code()
        reporter = None
        details: dict[str, str] = dict(contact or {})
        if report.reporter is not None and not _empty(report.reporter):
            details |= report.reporter.model_dump(mode="json", exclude_none=True)
        if details:
            reporter = self.keys.encrypt(tracking_id, details | {"channel": channel.value})
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
            idempotency_key=idempotency_key and f"submit|{idempotency_key}",
        )
        await self.ctx.reports.execute(tracking_id, command, meta)
        log.info("report_submitted", tracking_id=tracking_id, channel=channel.value)
        return SubmitOut(tracking_id=tracking_id, access_code=access_code, status="submitted")

    def resolve(self, refs: Sequence[AttachmentRef]) -> tuple[Attachment, ...]:
        return tuple(self.attachments.resolve(ref.sha256, ref.name) for ref in refs)

    async def store_uploads(
        self, files: Sequence[tuple[bytes, str | None, str | None]]
    ) -> tuple[Attachment, ...]:
        """Store uploaded files (data, name, declared type) off the event loop."""
        if len(files) > self.limits.max_attachments:
            raise AttachmentRejected(
                f"attachments: at most {self.limits.max_attachments} files at once"
            )
        stored = []
        for data, name, media_type in files:
            stored.append(await asyncio.to_thread(self.attachments.store, data, name, media_type))
        return tuple(stored)

    # --- reading -------------------------------------------------------------------------------
    async def report_row(self, tracking_id: str) -> Any:
        return await self.views.fetchone(
            "SELECT * FROM reports WHERE tracking_id = ?", (tracking_id,)
        )

    async def expected_code_hash(self, tracking_id: str) -> str | None:
        """The report's access-code hash, from the view or (if it lags) the store."""
        row = await self.report_row(tracking_id)
        if row is not None:
            return str(row["access_code_hash"])
        state, _ = await self.ctx.reports.load(tracking_id)
        return state.access_code_hash if state is not None else None

    async def code_is_right(
        self, tracking_id: str, code: str | None, address: str, field: str = "X-Access-Code"
    ) -> bool:
        """Check an access code, counting wrong ones per address (429 past the limit)."""
        if not code:
            return False
        wait = self.failed_codes.retry_after(address)
        if wait > 0:
            raise too_many(wait, field)
        expected = await self.expected_code_hash(tracking_id)
        if expected is not None and access_code_matches(
            self.secret, tracking_id, code[:64], expected
        ):
            return True
        self.failed_codes.hit(address)
        return False

    async def require_reporter(
        self, tracking_id: str, code: str | None, address: str, field: str = "X-Access-Code"
    ) -> None:
        if not code:
            raise HTTPException(401, f"{field}: the report's access code is required")
        if not await self.code_is_right(tracking_id, code, address, field):
            if await self.expected_code_hash(tracking_id) is None:
                raise HTTPException(404, "report not found")
            raise HTTPException(403, f"{field}: wrong access code for this report")

    async def act(
        self, tracking_id: str, command: Command, cid: str, key: str | None
    ) -> list[RecordedEvent]:
        meta = Meta(
            actor=Actor(kind="citizen", id="reporter"), correlation_id=cid, idempotency_key=key
        )
        return await self.ctx.reports.execute(tracking_id, command, meta)

    async def timeline(self, tracking_id: str) -> list[dict[str, Any]]:
        rows = await self.views.fetchall(
            "SELECT event_type, occurred_at, actor_kind, details FROM timeline"
            " WHERE tracking_id = ? ORDER BY position",
            (tracking_id,),
        )
        return [
            {
                "event_type": r["event_type"],
                "occurred_at": r["occurred_at"],
                "actor": r["actor_kind"],
                **json.loads(r["details"]),
            }
            for r in rows
        ]

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

    async def stats(self) -> dict[str, Any]:
        rows = await self.views.fetchall("SELECT dimension, key, n FROM stats_counts")
        return views.stats_from_counts([(r[0], r[1], r[2]) for r in rows])


def category_known(code: str) -> bool:
    """Whether `code` is a category; without a readable category list every code passes."""
    try:
        return code in known_categories()
    except Exception:  # the list is shared data: a broken file must not refuse reports
        log.exception("categories_unreadable")
        return True


def _empty(reporter: ReporterIn) -> bool:
    return not (reporter.name or reporter.phone or reporter.email)


def public_view(row: Any, reporter: bool = False) -> dict[str, Any]:
    """A report as the public sees it (`reporter=True`: as its reporter or an officer does)."""
    files = json.loads(row["attachments"] or "[]")
    view = {
        "tracking_id": row["tracking_id"],
        "status": row["status"],
        "classification": row["classification"],
        "title": row["title"],
        "body": row["body"],
        "category": row["category"],
        "location": {
            "lat": row["lat"],
            "lon": row["lon"],
            "region_code": row["region_code"],
            "address": row["address"],
        },
        "channel": row["channel"],
        "anonymous": bool(row["anonymous"]),
        "confidential": bool(row["confidential"]),
        "agency_code": row["agency_code"],
        "agency_name": row["agency_name"],
        "follow_up_due": row["follow_up_due"],
        "event_date": row["event_date"],
        "rating": row["rating"],
        "attachment_count": len(files),
        "submitted_at": row["submitted_at"],
        "updated_at": row["updated_at"],
    }
    if reporter:
        view["attachments"] = files
    return view


def tracking_id_param(tracking_id: str) -> str:
    try:
        return normalize_tracking_id(tracking_id[:40])
    except InvalidTrackingId as error:
        raise HTTPException(
            422, [{"loc": ["path", "tracking_id"], "field": "tracking_id", "msg": str(error)}]
        ) from error


TrackingId = Annotated[str, Depends(tracking_id_param)]
Code = Annotated[str | None, Header(max_length=64)]
IdemKey = Annotated[str | None, Header(max_length=200)]
_STATUSES = "^(" + "|".join(s.value for s in Status) + ")$"
_CLASSES = "^(" + "|".join(c.value for c in Classification) + ")$"


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    parts = text.split(",")
    error = HTTPException(
        422,
        [
            {
                "loc": ["query", "bbox"],
                "field": "bbox",
                "msg": "bbox must be min_lon,min_lat,max_lon,max_lat in degrees",
            }
        ],
    )
    if len(parts) != 4:
        raise error
    try:
        min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
    except ValueError:
        raise error from None
    if not (
        -180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90
    ):  # also refuses NaN
        raise error
    return min_lon, min_lat, max_lon, max_lat


def feature(row: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
        "properties": {
            "tracking_id": row["tracking_id"],
            "status": row["status"],
            "category": row["category"],
            "classification": row["classification"],
            "title": row["title"],
            "submitted_at": row["submitted_at"],
        },
    }


def build(ctx: Context) -> Service:
    stale = upgrade_views(ctx.settings)
    projector = create_projector(ctx.settings)
    if stale:
        _rebuild_now(ctx.settings, projector)
    intake = Intake(ctx, projector)
    router = APIRouter(prefix="/api/v1", tags=["reports"])

    def address(request: Request) -> str:
        return client_address(request, intake.limits.trust_forwarded_for)

    optional_officer = ctx.auth.optional()
    Officer = Annotated[Principal | None, Depends(optional_officer)]

    def officer_may_read(row: Any, officer: Principal | None) -> bool:
        if officer is None:
            return False
        if officer.role is Role.ADMIN:
            return officer.covers_region(row["region_code"])
        if officer.role is Role.OMBUDSMAN:
            return True
        return officer.role is Role.AGENCY and officer.agency == row["agency_code"]

    async def readable(
        tracking_id: str,
        code: str | None,
        officer: Principal | None,
        request: Request,
        what: str = "report",
    ) -> tuple[Any, bool]:
        """The row, and whether the caller may see the reporter's part (files)."""
        # Security hook (issue 12, enumeration): unknown or hidden tracking IDs draw on the
        # address's failed-lookup budget (shared with wrong access codes); once it is used up,
        # every lookup from there gets 429, hit or miss alike, so 429 reveals nothing either.
        where = address(request)
        wait = intake.failed_codes.retry_after(where)
        if wait > 0:
            raise too_many(wait, "tracking_id")
        row = await intake.report_row(tracking_id)
        if row is None:
            if await intake.expected_code_hash(tracking_id) is None:  # not merely a lagging view
                intake.failed_codes.hit(where)
            raise HTTPException(404, "report not found")
        privileged = officer_may_read(row, officer) or (
            code is not None and await intake.code_is_right(tracking_id, code, address(request))
        )
        if row["confidential"] and not privileged:
            if code is None:  # a wrong code was counted already
                intake.failed_codes.hit(where)
            raise HTTPException(404, "report not found")
        # Security hook (issue 12, access audit): an officer's read of a confidential report is
        # recorded on access-<tracking_id> before anything is returned (fail closed).
        if row["confidential"] and officer is not None and officer_may_read(row, officer):
            await record_confidential_read(
                ctx.store,
                officer,
                tracking_id,
                service=NAME,
                what=what,
                at=ctx.clock.now(),
                correlation_id=correlation_id(request),
            )
        return row, privileged

    @router.get("/categories", tags=["reference"])
    async def categories() -> list[dict[str, str]]:
        return [
            {"code": code, "name": name, "name_en": name_en}
            for code, (name, name_en) in known_categories().items()
        ]

    @router.get("/regions", tags=["reference"])
    async def region_list(
        parent: Annotated[str | None, Query(pattern=r"^[0-9]{2,6}$")] = None,
    ) -> list[dict[str, Any]]:
        """Regions for the location picker: provinces, or the children of `parent`."""
        return [
            {"code": r.code, "name": r.name, "level": r.level, "lat": r.lat, "lon": r.lon}
            for r in regions.children(parent)
        ]

    @router.post("/attachments", status_code=201, tags=["attachments"])
    async def upload(
        request: Request, file: Annotated[UploadFile, File(description="JPEG, PNG, WebP or PDF")]
    ) -> dict[str, Any]:
        """Upload one file; name it in a report's or action's `attachments` by its sha256."""
        enforce(intake.submissions, address(request), "file")
        data = await file.read(intake.limits.max_attachment_bytes + 1)
        if len(data) > intake.limits.max_attachment_bytes:
            raise HTTPException(
                413, f"file: at most {intake.limits.max_attachment_bytes} bytes per file"
            )
        (stored,) = await intake.store_uploads([(data, file.filename, file.content_type)])
        return stored.model_dump(mode="json")

    @router.post("/reports", status_code=201, response_model=SubmitOut)
    async def submit(
        report: ReportIn, request: Request, idempotency_key: IdemKey = None
    ) -> SubmitOut:
        enforce(intake.submissions, address(request), "reports")
        return await intake.submit(report, Channel.WEB, correlation_id(request), idempotency_key)

    @router.get("/reports/{tracking_id}")
    async def get_report(
        tracking_id: TrackingId, request: Request, officer: Officer, x_access_code: Code = None
    ) -> dict[str, Any]:
        row, privileged = await readable(tracking_id, x_access_code, officer, request)
        view = public_view(row, reporter=privileged)
        # Security hooks (issue 12): erasure shows in the view; the reporter (access code, no
        # officer token) sees who read their confidential report.
        view["reporter_identity_erased"] = await asyncio.to_thread(
            intake.keys.is_erased, tracking_id
        )
        if privileged and officer is None and row["confidential"]:
            view["officer_reads"] = await access_log(ctx.store, tracking_id)
        return view

    @router.get("/reports/{tracking_id}/timeline")
    async def timeline(
        tracking_id: TrackingId, request: Request, officer: Officer, x_access_code: Code = None
    ) -> list[dict[str, Any]]:
        await readable(tracking_id, x_access_code, officer, request, "timeline")
        return await intake.timeline(tracking_id)

    @router.get("/reports/{tracking_id}/attachments/{sha256}", tags=["attachments"])
    async def attachment(
        tracking_id: TrackingId,
        sha256: Annotated[str, Depends(sha256_param)],
        request: Request,
        officer: Officer,
        x_access_code: Code = None,
    ) -> FileResponse:
        """A report's file: for its reporter (X-Access-Code) and the officers who handle it."""
        row, privileged = await readable(tracking_id, x_access_code, officer, request, "attachment")
        if not privileged:
            raise HTTPException(403, "X-Access-Code: only the reporter and officers see files")
        return attachment_response(intake, row, sha256)

    @router.get("/reports")
    async def list_reports(
        response: Response,
        status: Annotated[str | None, Query(pattern=_STATUSES)] = None,
        category: Annotated[str | None, Query(max_length=64)] = None,
        region: Annotated[str | None, Query(pattern=r"^[0-9]{2,10}$")] = None,
        agency: Annotated[str | None, Query(pattern=r"^[A-Z0-9-]{1,64}$")] = None,
        classification: Annotated[str | None, Query(pattern=_CLASSES)] = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[int | None, Query(ge=1, le=2**62)] = None,
        offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    ) -> list[dict[str, Any]]:
        """Public reports, newest first; `q` searches title and body (all words must occur).

        For the next page pass the `X-Next-Cursor` response header back as `cursor`.
        """
        f = views.ReportFilter(status, category, region, agency, classification, q)
        page = await intake.page(f, limit, cursor, offset)
        if page.next_cursor is not None:
            response.headers["X-Next-Cursor"] = str(page.next_cursor)
        return [public_view(r) for r in page.rows]

    @router.get(
        "/map.geojson",
        tags=["views"],
        responses={200: {"content": {"application/geo+json": {}}}},
    )
    async def map_geojson(
        status: Annotated[str | None, Query(pattern=_STATUSES)] = None,
        category: Annotated[str | None, Query(max_length=64)] = None,
        region: Annotated[str | None, Query(pattern=r"^[0-9]{2,10}$")] = None,
        bbox: Annotated[str | None, Query(max_length=100)] = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    ) -> JSONResponse:
        """Public reports with a position (never confidential ones, never who reported).

        Without `bbox` the newest; with `bbox=min_lon,min_lat,max_lon,max_lat` up to `limit`
        inside it.
        """
        box = parse_bbox(bbox)
        sql, params = views.map_query(
            views.ReportFilter(status=status, category=category, region=region), limit, box
        )
        rows = await intake.views.fetchall(sql, params)
        body = {"type": "FeatureCollection", "features": [feature(r) for r in rows]}
        return JSONResponse(body, media_type="application/geo+json")

    @router.get("/stats", tags=["views"])
    async def stats() -> dict[str, Any]:
        """Counts by status, category, region, institution; share followed up in time.

        Confidential reports count only in `total` and `confidential`.
        """
        return await intake.stats()

    async def reporter_text(
        command: type[AmendReport] | type[ReplyAsReporter],
        tracking_id: str,
        body: TextIn,
        request: Request,
        x_access_code: str | None,
        idempotency_key: str | None,
    ) -> dict[str, Any]:
        """The reporter adds text (and files): missing information, or an answer to a follow-up."""
        await intake.require_reporter(tracking_id, x_access_code, address(request))
        files = _limited(intake, intake.resolve(body.attachments))
        events = await intake.act(
            tracking_id,
            command(text=body.text, attachments=files),
            correlation_id(request),
            idempotency_key,
        )
        return {"tracking_id": tracking_id, "events": [e.event_type for e in events]}

    @router.post("/reports/{tracking_id}/amendments", status_code=201)
    async def amend(
        tracking_id: TrackingId,
        body: TextIn,
        request: Request,
        x_access_code: Code = None,
        idempotency_key: IdemKey = None,
    ) -> dict[str, Any]:
        return await reporter_text(
            AmendReport, tracking_id, body, request, x_access_code, idempotency_key
        )

    @router.post("/reports/{tracking_id}/replies", status_code=201)
    async def reply(
        tracking_id: TrackingId,
        body: TextIn,
        request: Request,
        x_access_code: Code = None,
        idempotency_key: IdemKey = None,
    ) -> dict[str, Any]:
        return await reporter_text(
            ReplyAsReporter, tracking_id, body, request, x_access_code, idempotency_key
        )

    @router.post("/reports/{tracking_id}/close")
    async def close(
        tracking_id: TrackingId,
        body: CloseIn,
        request: Request,
        x_access_code: Code = None,
    ) -> dict[str, Any]:
        await intake.require_reporter(tracking_id, x_access_code, address(request))
        events = await intake.act(
            tracking_id,
            CloseReport(reason=CloseReason.BY_REPORTER, note=body.note),
            correlation_id(request),
            None,
        )
        return {"tracking_id": tracking_id, "events": [e.event_type for e in events]}

    @router.post("/reports/{tracking_id}/rating")
    async def rate(
        tracking_id: TrackingId,
        body: RatingIn,
        request: Request,
        x_access_code: Code = None,
    ) -> dict[str, Any]:
        await intake.require_reporter(tracking_id, x_access_code, address(request))
        events = await intake.act(
            tracking_id,
            RateReport(rating=body.rating, comment=body.comment, now=ctx.clock.now()),
            correlation_id(request),
            None,
        )
        return {"tracking_id": tracking_id, "events": [e.event_type for e in events]}

    async def close_keys() -> None:
        intake.keys.close()

    # Security hook (issue 12, retention): LAPOR_VIEW_RETENTION_DAYS drops finished reports' text
    # from these views after N days (the store keeps every event; see docs/security.md).
    retention = ViewRetention()

    async def keep_retention() -> None:
        assert retention.retention_days is not None
        while True:
            cutoff = ctx.clock.now() - timedelta(days=retention.retention_days)
            try:
                dropped = await asyncio.to_thread(drop_expired_text, projector, cutoff)
            except sqlite3.Error as error:
                log.warning("view_retention_failed", error_type=type(error).__name__)
            else:
                if dropped:
                    log.info("view_retention_dropped", reports=dropped)
            await asyncio.sleep(retention.retention_check_seconds)

    from services.intake.channels import routers as channel_routers
    from services.intake.polls import build as build_polls
    from services.intake.web import web_router

    return Service(
        routers=[router, web_router(ctx, intake), *channel_routers(ctx, intake)],
        projectors=[projector],
        on_stop=[close_keys],
        background=[keep_retention] if retention.retention_days is not None else [],
    ).including(build_polls(ctx, intake))


class ViewRetention(BaseSettings):
    """Security hook (issue 12): how long intake's views keep a finished report's text."""

    model_config = SettingsConfigDict(env_prefix="LAPOR_VIEW_", extra="ignore")

    retention_days: float | None = Field(
        default=None,
        gt=0,
        description="Closed and rejected reports' body, address and free text in the timeline"
        " are dropped from intake's views this many days after their last change; unset: kept",
    )
    retention_check_seconds: float = Field(default=3600.0, gt=0, description="How often")


def drop_expired_text(projector: Projector, cutoff: datetime) -> int:
    """Blank the body and address of reports finished before `cutoff`, and the free text (text,
    note, comment) of their timeline, in the projector's transaction (so a rebuild, which brings
    them back, is blanked again at the next pass). Returns how many reports were blanked."""
    at = cutoff.isoformat()
    with projector.transaction() as conn:
        conn.execute(
            "UPDATE timeline SET details = json_remove(details, '$.text', '$.note', '$.comment')"
            " WHERE tracking_id IN (SELECT tracking_id FROM reports"
            " WHERE status IN ('closed', 'rejected') AND updated_at < ?)"
            " AND (json_extract(details, '$.text') IS NOT NULL"
            " OR json_extract(details, '$.note') IS NOT NULL"
            " OR json_extract(details, '$.comment') IS NOT NULL)",
            (at,),
        )
        blanked = conn.execute(
            "UPDATE reports SET body = '', address = NULL"
            " WHERE status IN ('closed', 'rejected') AND updated_at < ?"
            " AND (body != '' OR address IS NOT NULL)",
            (at,),
        )
        return int(blanked.rowcount)


def sha256_param(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise HTTPException(
            422, [{"loc": ["path", "sha256"], "field": "sha256", "msg": "64 lowercase hex digits"}]
        )
    return sha256


def attachment_response(intake: Intake, row: Any, sha256: str) -> FileResponse:
    files = {a["sha256"]: a for a in json.loads(row["attachments"] or "[]")}
    meta = files.get(sha256)
    path = intake.attachments.path_of(sha256)
    if meta is None or not path.is_file():
        raise HTTPException(404, "attachment not found")
    inline = meta["media_type"].startswith("image/")
    return FileResponse(
        path,
        media_type=meta["media_type"],
        filename=meta["name"],
        content_disposition_type="inline" if inline else "attachment",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


def _limited(intake: Intake, files: tuple[Attachment, ...]) -> tuple[Attachment, ...]:
    if len(files) > intake.limits.max_attachments:
        raise AttachmentRejected(
            f"attachments: at most {intake.limits.max_attachments} files at once"
        )
    return files


def create_app(settings: Settings | None = None, *, in_process: bool = False) -> FastAPI:
    app = create_service_app(
        NAME,
        build,
        settings,
        in_process=in_process,
        title="LAPOR intake",
        description="Citizens' reports from every channel, their tracking and public views.",
    )
    # The citizen's home page replaces the runtime's plain-text "/".
    app.router.routes = [
        route
        for route in app.router.routes
        if not (getattr(route, "path", None) == "/" and getattr(route, "name", "") == "root")
    ]
    limits = IntakeSettings()
    app.add_middleware(
        BodySizeLimit, max_body=limits.max_body_bytes, max_multipart=limits.max_multipart_bytes
    )
    return app


__all__ = ["Intake", "ReportIn", "ReportNotFound", "ReporterIn", "SubmitOut", "create_app"]
