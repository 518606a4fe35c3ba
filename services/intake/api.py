"""Intake's JSON API (`/api/v1`): parse the request, call a use case (`usecases.Intake`), answer a
model of `models.py`.

No `from __future__ import annotations` here: FastAPI must resolve the route signatures that
refer to dependencies defined inside `api_router`.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from fastapi import (
    APIRouter,
    Depends,
    File,
    Header,
    HTTPException,
    Query,
    Request,
    Response,
    UploadFile,
)
from fastapi.responses import FileResponse, JSONResponse

from services.intake import regions, views
from services.intake.models import (
    NOT_FOUND,
    REPORTER_ERRORS,
    TOO_MANY,
    ActionOut,
    Answers,
    CategoryOut,
    CloseIn,
    ErrorOut,
    FeatureCollectionOut,
    FileOut,
    RatingIn,
    RegionOut,
    ReportIn,
    ReportOut,
    StatsOut,
    SubmitOut,
    TextIn,
    TimelineEntryOut,
    UploadOut,
)
from services.intake.usecases import Intake, Reader, known_categories, public_view
from shared.auth import Principal
from shared.errors import InvalidInput
from shared.http.common import FILES_FOR_REPORTER, correlation_id
from shared.http.limits import client_address, enforce
from shared.i18n import both
from shared.regions import checks
from shared.reports.commands import (
    AmendReport,
    CloseReport,
    Command,
    RateReport,
    ReplyAsReporter,
)
from shared.reports.events import Classification, CloseReason, Status
from shared.reports.tracking import InvalidTrackingId, normalize_tracking_id
from shared.runtime.service import Context
from shared.values import Channel

FILE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp", "application/pdf")
FILE_RESPONSES: Answers = {
    200: {
        "description": "The file (JPEG, PNG, WebP or PDF); images inline, PDFs as a download",
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in (FILE_MEDIA_TYPES)
        },
    },
}


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"


def tracking_id_param(tracking_id: str) -> str:
    try:
        return normalize_tracking_id(tracking_id[:40])
    except InvalidTrackingId as error:
        raise HTTPException(
            422, [{"loc": ["path", "tracking_id"], "field": "tracking_id", "msg": str(error)}]
        ) from error


def sha256_param(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise HTTPException(
            422, [{"loc": ["path", "sha256"], "field": "sha256", "msg": "64 lowercase hex digits"}]
        )
    return sha256


def file_response(path: Path, meta: FileOut) -> FileResponse:
    """A stored file for download: its own type, never sniffed, never run as a page."""
    inline = meta.media_type.startswith("image/")
    return FileResponse(
        path,
        media_type=meta.media_type,
        filename=meta.name,
        content_disposition_type="inline" if inline else "attachment",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


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


TrackingId = Annotated[str, Depends(tracking_id_param)]
Code = Annotated[str | None, Header(max_length=64)]
IdemKey = Annotated[str | None, Header(max_length=200)]
_STATUSES = "^(" + "|".join(s.value for s in Status) + ")$"
_CLASSES = "^(" + "|".join(c.value for c in Classification) + ")$"


def api_router(ctx: Context, intake: Intake) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["reports"])

    def address(request: Request) -> str:
        return client_address(request)

    Officer = Annotated[Principal | None, Depends(ctx.auth.optional())]

    def reader_of(request: Request, officer: Officer, x_access_code: Code = None) -> Reader:
        return Reader(x_access_code, officer, address(request), correlation_id(request))

    Asking = Annotated[Reader, Depends(reader_of)]

    @router.get("/categories", tags=["reference"], response_model=list[CategoryOut])
    async def categories() -> list[CategoryOut]:
        return [
            CategoryOut(code=code, name=name, name_en=name_en)
            for code, (name, name_en) in known_categories().items()
        ]

    @router.get(
        "/regions",
        tags=["reference"],
        response_model=list[RegionOut],
        responses={422: {"model": ErrorOut, "description": "Unknown parent (nearest suggested)"}},
    )
    async def region_list(
        response: Response,
        parent: Annotated[str | None, Query(max_length=14)] = None,
    ) -> list[RegionOut]:
        """Every region of Indonesia, one level at a time (official Kemendagri codes as digits):
        the 38 provinces, or the regions under `parent` (a province's regencies and cities, a
        regency's districts, a district's villages; dots allowed: `35.78`). An unknown `parent`
        is refused (422) with the nearest real region suggested. Cacheable for a day: the list
        changes only with a release."""
        try:
            code = checks.region_code(parent, "parent")
        except InvalidInput as error:
            error.where = "query"  # the answer's `loc` names where the field was sent
            raise
        response.headers["Cache-Control"] = "public, max-age=86400"
        return [
            RegionOut(code=r.code, name=r.name, level=r.level, lat=r.lat, lon=r.lon)
            for r in regions.children(code)
        ]

    @router.post(
        "/attachments",
        status_code=201,
        tags=["attachments"],
        response_model=UploadOut,
        responses={
            400: {"model": ErrorOut, "description": "Not a file we take"},
            413: {"model": ErrorOut, "description": "Too large"},
            **TOO_MANY,
        },
    )
    async def upload(
        request: Request, file: Annotated[UploadFile, File(description="JPEG, PNG, WebP or PDF")]
    ) -> UploadOut:
        """Upload one file; name it in a report's or action's `attachments` by its sha256 and
        the `upload_token` of this answer (nobody else can attach it)."""
        enforce(intake.submissions, address(request), "file")
        data = await file.read(intake.attachments.max_photo_bytes + 1)
        return await intake.upload(data, file.filename, file.content_type)

    @router.post(
        "/reports",
        status_code=201,
        response_model=SubmitOut,
        responses={400: {"model": ErrorOut}, **TOO_MANY},
    )
    async def submit(
        report: ReportIn, request: Request, idempotency_key: IdemKey = None
    ) -> SubmitOut:
        enforce(intake.submissions, address(request), "reports")
        return await intake.submit(
            report,
            Channel.WEB,
            correlation_id(request),
            idempotency_key,
            one_report_per_key=True,
        )

    @router.get(
        "/reports/{tracking_id}",
        response_model=ReportOut,
        response_model_exclude_unset=True,
        responses={**NOT_FOUND, **TOO_MANY},
    )
    async def get_report(tracking_id: TrackingId, reader: Asking) -> ReportOut:
        return await intake.report(tracking_id, reader)

    @router.get(
        "/reports/{tracking_id}/timeline",
        response_model=list[TimelineEntryOut],
        response_model_exclude_unset=True,
        responses={**NOT_FOUND, **TOO_MANY},
    )
    async def timeline(tracking_id: TrackingId, reader: Asking) -> list[TimelineEntryOut]:
        row, privileged = await intake.readable(tracking_id, reader, "timeline")
        return await intake.timeline_for(row, privileged)

    @router.get(
        "/reports/{tracking_id}/attachments/{sha256}",
        tags=["attachments"],
        response_class=FileResponse,
        responses={
            **FILE_RESPONSES,
            403: {"model": ErrorOut, "description": "Only the reporter and officers see files"},
            **NOT_FOUND,
            **TOO_MANY,
        },
    )
    async def attachment(
        tracking_id: TrackingId,
        sha256: Annotated[str, Depends(sha256_param)],
        reader: Asking,
    ) -> FileResponse:
        """A report's file: for its reporter (X-Access-Code) and the officers who handle it."""
        row, privileged = await intake.readable(tracking_id, reader, "attachment")
        if not privileged:
            raise HTTPException(403, f"X-Access-Code: {both(FILES_FOR_REPORTER)}")
        return file_response(*await intake.file_of(row, sha256))

    @router.get(
        "/reports",
        response_model=list[ReportOut],
        response_model_exclude_unset=True,
        responses={
            200: {"headers": {"X-Next-Cursor": {"description": "`cursor` of the next page"}}}
        },
    )
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
    ) -> list[ReportOut]:
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
        response_model=FeatureCollectionOut,
        response_class=GeoJSONResponse,
    )
    async def map_geojson(
        status: Annotated[str | None, Query(pattern=_STATUSES)] = None,
        category: Annotated[str | None, Query(max_length=64)] = None,
        region: Annotated[str | None, Query(pattern=r"^[0-9]{2,10}$")] = None,
        agency: Annotated[str | None, Query(max_length=64)] = None,
        bbox: Annotated[str | None, Query(max_length=100)] = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    ) -> FeatureCollectionOut:
        """Public reports with a position (never confidential ones, never who reported).

        Without `bbox` the newest; with `bbox=min_lon,min_lat,max_lon,max_lat` up to `limit`
        inside it. `agency`: only those with that institution.
        """
        f = views.ReportFilter(status=status, category=category, region=region, agency=agency)
        return await intake.map(f, limit, parse_bbox(bbox))

    @router.get("/stats", tags=["views"], response_model=StatsOut)
    async def stats() -> StatsOut:
        """Counts by status, category, region, institution; share followed up in time.

        Confidential reports count only in `total` and `confidential`.
        """
        return await intake.stats()

    # --- the reporter's actions (X-Access-Code) ------------------------------------------------
    @router.post(
        "/reports/{tracking_id}/amendments",
        status_code=201,
        response_model=ActionOut,
        responses=REPORTER_ERRORS,
    )
    async def amend(
        tracking_id: TrackingId,
        body: TextIn,
        request: Request,
        x_access_code: Code = None,
        idempotency_key: IdemKey = None,
    ) -> ActionOut:
        """The reporter adds missing information (and files)."""
        command = with_text(AmendReport, body)
        return await as_reporter(tracking_id, x_access_code, request, command, idempotency_key)

    @router.post(
        "/reports/{tracking_id}/replies",
        status_code=201,
        response_model=ActionOut,
        responses=REPORTER_ERRORS,
    )
    async def reply(
        tracking_id: TrackingId,
        body: TextIn,
        request: Request,
        x_access_code: Code = None,
        idempotency_key: IdemKey = None,
    ) -> ActionOut:
        """The reporter answers the institution's follow-up (with files, if any)."""
        command = with_text(ReplyAsReporter, body)
        return await as_reporter(tracking_id, x_access_code, request, command, idempotency_key)

    @router.post(
        "/reports/{tracking_id}/close", response_model=ActionOut, responses=REPORTER_ERRORS
    )
    async def close(
        tracking_id: TrackingId,
        body: CloseIn,
        request: Request,
        x_access_code: Code = None,
    ) -> ActionOut:
        def command() -> CloseReport:
            return CloseReport(reason=CloseReason.BY_REPORTER, note=body.note)

        return await as_reporter(tracking_id, x_access_code, request, command, None)

    @router.post(
        "/reports/{tracking_id}/rating", response_model=ActionOut, responses=REPORTER_ERRORS
    )
    async def rate(
        tracking_id: TrackingId,
        body: RatingIn,
        request: Request,
        x_access_code: Code = None,
    ) -> ActionOut:
        def command() -> RateReport:
            return RateReport(rating=body.rating, comment=body.comment, now=ctx.clock.now())

        return await as_reporter(tracking_id, x_access_code, request, command, None)

    def with_text(
        kind: type[AmendReport] | type[ReplyAsReporter], body: TextIn
    ) -> Callable[[], Command]:
        """The reporter's text (and files named by sha256), resolved once the code is checked."""

        def command() -> Command:
            files = intake.limited(intake.resolve(body.attachments))
            return kind(text=body.text, attachments=files)

        return command

    async def as_reporter(
        tracking_id: str,
        code: str | None,
        request: Request,
        command: Callable[[], Command],
        key: str | None,
    ) -> ActionOut:
        events = await intake.act_as_reporter(
            tracking_id, code, address(request), command, correlation_id(request), key
        )
        return ActionOut(tracking_id=tracking_id, events=events)

    return router
