"""Intake: the citizen's side. Composition root and HTTP surface (JSON API).

No `from __future__ import annotations` here: FastAPI must resolve the route signatures that
refer to dependencies defined inside `build`.
"""

import hashlib
import hmac
import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from shared.auth import Principal, Role, access_code_matches, hash_access_code
from shared.crypto import KeyStore, derive_key
from shared.domain.events import Actor, Channel, Classification, Location
from shared.domain.report import (
    AmendReport,
    CloseReport,
    RateReport,
    ReplyAsReporter,
    ReportNotFound,
    SubmitReport,
)
from shared.domain.tracking import (
    ALPHABET,
    RANDOM_LENGTH,
    InvalidTrackingId,
    _check_symbol,
    new_access_code,
    new_tracking_id,
    normalize_tracking_id,
)
from shared.http import correlation_id
from shared.projection import Projector, ViewReader
from shared.reports import Meta
from shared.service import Context, Service, create_app as create_service_app
from shared.settings import Settings, get_settings
from services.intake import views

NAME = "intake"


class ReporterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 \-]{6,20}$")
    email: EmailStr | None = None


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


class SubmitOut(BaseModel):
    tracking_id: str
    access_code: str
    status: str


class TextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=10_000)


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=2000)


def create_projector(settings: Settings) -> Projector:
    return Projector(settings.view_db(NAME), NAME, views.SCHEMA, views.apply, views.TABLES)


def _derived_ids(secret: bytes, key: str) -> tuple[str, str]:
    """A retried submission (same idempotency key) gets the same tracking ID and access code."""
    seed = hmac.new(derive_key(secret, "idempotent-intake"), key.encode(), hashlib.sha256).digest()
    payload = "".join(ALPHABET[b % len(ALPHABET)] for b in seed[:RANDOM_LENGTH])
    code = "".join(ALPHABET[b % len(ALPHABET)] for b in seed[16:24])
    return payload + _check_symbol(payload), code


class Intake:
    def __init__(self, ctx: Context, projector: Projector) -> None:
        self.ctx = ctx
        self.secret = ctx.settings.master_secret
        self.keys = KeyStore(ctx.settings.data_dir / "keys.db", self.secret)
        self.views = ViewReader(projector.path)

    async def submit(
        self,
        report: ReportIn,
        channel: Channel,
        cid: str,
        idempotency_key: str | None,
        channel_message_id: str | None = None,
    ) -> SubmitOut:
        if idempotency_key:
            body_digest = hashlib.sha256(report.model_dump_json().encode()).hexdigest()
            tracking_id, access_code = _derived_ids(self.secret, f"{idempotency_key}|{body_digest}")
        else:
            tracking_id, access_code = new_tracking_id(), new_access_code()
        reporter = None
        if report.reporter is not None and not _empty(report.reporter):
            reporter = self.keys.encrypt(
                tracking_id,
                report.reporter.model_dump(mode="json", exclude_none=True)
                | {"channel": channel.value},
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
            access_code_hash=hash_access_code(self.secret, tracking_id, access_code),
            language=report.language,
        )
        meta = Meta(
            actor=Actor(kind="citizen", id="anonymous" if report.anonymous else "reporter"),
            correlation_id=cid,
            idempotency_key=idempotency_key and f"submit|{idempotency_key}",
        )
        await self.ctx.reports.execute(tracking_id, command, meta)
        return SubmitOut(tracking_id=tracking_id, access_code=access_code, status="submitted")

    async def report_row(self, tracking_id: str) -> Any:
        return await self.views.fetchone(
            "SELECT * FROM reports WHERE tracking_id = ?", (tracking_id,)
        )


def _empty(reporter: ReporterIn) -> bool:
    return not (reporter.name or reporter.phone or reporter.email)


def public_view(row: Any) -> dict[str, Any]:
    return {
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
        "rating": row["rating"],
        "submitted_at": row["submitted_at"],
        "updated_at": row["updated_at"],
    }


def tracking_id_param(tracking_id: str) -> str:
    try:
        return normalize_tracking_id(tracking_id)
    except InvalidTrackingId as error:
        raise HTTPException(
            422, [{"loc": ["path", "tracking_id"], "field": "tracking_id", "msg": str(error)}]
        ) from error


TrackingId = Annotated[str, Depends(tracking_id_param)]


def build(ctx: Context) -> Service:
    projector = create_projector(ctx.settings)
    intake = Intake(ctx, projector)
    router = APIRouter(prefix="/api/v1", tags=["reports"])

    async def optional_officer(request: Request) -> Principal | None:
        header = request.headers.get("authorization")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        from fastapi.security import HTTPAuthorizationCredentials

        return ctx.auth.principal(HTTPAuthorizationCredentials(scheme=scheme, credentials=token))

    async def readable_row(
        tracking_id: str, access_code: str | None, officer: Principal | None
    ) -> Any:
        row = await intake.report_row(tracking_id)
        if row is None:
            raise HTTPException(404, "report not found")
        if row["confidential"] and not _may_read_confidential(row, access_code, officer):
            raise HTTPException(404, "report not found")
        return row

    def _may_read_confidential(row: Any, code: str | None, officer: Principal | None) -> bool:
        if code and access_code_matches(
            intake.secret, row["tracking_id"], code, row["access_code_hash"]
        ):
            return True
        if officer is None:
            return False
        if officer.role is Role.ADMIN:
            return True
        return officer.role is Role.AGENCY and officer.agency == row["agency_code"]

    async def reporter_of(tracking_id: str, code: str | None) -> None:
        if not code:
            raise HTTPException(401, "X-Access-Code: the report's access code is required")
        row = await intake.report_row(tracking_id)
        if row is None:
            state, _ = await ctx.reports.load(tracking_id)
            if state is None:
                raise HTTPException(404, "report not found")
            expected = state.access_code_hash
        else:
            expected = row["access_code_hash"]
        if not access_code_matches(intake.secret, tracking_id, code, expected):
            raise HTTPException(403, "X-Access-Code: wrong access code for this report")

    @router.get("/categories")
    async def categories() -> list[dict[str, str]]:
        from shared.directory import load_categories

        return [{"code": c.code, "name": c.name} for c in load_categories()]

    @router.post("/reports", status_code=201, response_model=SubmitOut)
    async def submit(
        report: ReportIn,
        request: Request,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> SubmitOut:
        return await intake.submit(report, Channel.WEB, correlation_id(request), idempotency_key)

    @router.get("/reports/{tracking_id}")
    async def get_report(
        tracking_id: TrackingId,
        officer: Annotated[Principal | None, Depends(optional_officer)],
        x_access_code: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        return public_view(await readable_row(tracking_id, x_access_code, officer))

    @router.get("/reports/{tracking_id}/timeline")
    async def timeline(
        tracking_id: TrackingId,
        officer: Annotated[Principal | None, Depends(optional_officer)],
        x_access_code: Annotated[str | None, Header()] = None,
    ) -> list[dict[str, Any]]:
        await readable_row(tracking_id, x_access_code, officer)
        rows = await intake.views.fetchall(
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

    @router.get("/reports")
    async def list_reports(
        status: Annotated[str | None, Query(max_length=32)] = None,
        category: Annotated[str | None, Query(max_length=64)] = None,
        region: Annotated[str | None, Query(pattern=r"^[0-9]{2,10}$")] = None,
        agency: Annotated[str | None, Query(pattern=r"^[A-Z0-9-]+$")] = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[dict[str, Any]]:
        where = ["confidential = 0"]
        params: list[object] = []
        if status:
            where.append("status = ?")
            params.append(status)
        if category:
            where.append("category = ?")
            params.append(category)
        if region:
            where.append("region_code LIKE ?")
            params.append(region + "%")
        if agency:
            where.append("agency_code = ?")
            params.append(agency)
        if q:
            where.append("(title LIKE ? ESCAPE '\\' OR body LIKE ? ESCAPE '\\')")
            like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            params.extend([like, like])
        rows = await intake.views.fetchall(
            "SELECT * FROM reports WHERE "
            + " AND ".join(where)  # noqa: S608
            + " ORDER BY submitted_at DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [public_view(r) for r in rows]

    def reporter_meta(request: Request, key: str | None) -> Meta:
        return Meta(
            actor=Actor(kind="citizen", id="reporter"),
            correlation_id=correlation_id(request),
            idempotency_key=key,
        )

    @router.post("/reports/{tracking_id}/amendments", status_code=201)
    async def amend(
        tracking_id: TrackingId,
        body: TextIn,
        request: Request,
        x_access_code: Annotated[str | None, Header()] = None,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> dict[str, Any]:
        await reporter_of(tracking_id, x_access_code)
        events = await ctx.reports.execute(
            tracking_id, AmendReport(text=body.text), reporter_meta(request, idempotency_key)
        )
        return {"tracking_id": tracking_id, "events": [e.event_type for e in events]}

    @router.post("/reports/{tracking_id}/replies", status_code=201)
    async def reply(
        tracking_id: TrackingId,
        body: TextIn,
        request: Request,
        x_access_code: Annotated[str | None, Header()] = None,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> dict[str, Any]:
        await reporter_of(tracking_id, x_access_code)
        events = await ctx.reports.execute(
            tracking_id, ReplyAsReporter(text=body.text), reporter_meta(request, idempotency_key)
        )
        return {"tracking_id": tracking_id, "events": [e.event_type for e in events]}

    @router.post("/reports/{tracking_id}/close")
    async def close(
        tracking_id: TrackingId,
        body: CloseIn,
        request: Request,
        x_access_code: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        from shared.domain.events import CloseReason

        await reporter_of(tracking_id, x_access_code)
        events = await ctx.reports.execute(
            tracking_id,
            CloseReport(reason=CloseReason.BY_REPORTER, note=body.note),
            reporter_meta(request, None),
        )
        return {"tracking_id": tracking_id, "events": [e.event_type for e in events]}

    @router.post("/reports/{tracking_id}/rating")
    async def rate(
        tracking_id: TrackingId,
        body: RatingIn,
        request: Request,
        x_access_code: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        await reporter_of(tracking_id, x_access_code)
        events = await ctx.reports.execute(
            tracking_id,
            RateReport(rating=body.rating, comment=body.comment, now=ctx.clock.now()),
            reporter_meta(request, None),
        )
        return {"tracking_id": tracking_id, "events": [e.event_type for e in events]}

    async def close_keys() -> None:
        intake.keys.close()

    from services.intake.channels import routers as channel_routers

    return Service(
        routers=[router, *channel_routers(ctx, intake)], projector=projector, on_stop=[close_keys]
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        NAME,
        build,
        settings,
        title="LAPOR intake",
        description="Citizens' reports from every channel, their tracking and public views.",
    )


__all__ = ["ReportNotFound", "create_app", "create_projector"]
