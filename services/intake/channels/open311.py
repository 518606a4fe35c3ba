"""Open311 GeoReport v2 under `/open311/v2/`: other systems' (and city apps') door into LAPOR!.

- `discovery.{fmt}`, `services.{fmt}` (our report categories), `services/{code}.{fmt}` (the
  attributes a request may carry: classification, anonymous, confidential, region, title);
- `POST requests.{fmt}` (form-encoded; `api_key` is a LAPOR `client` token; `jurisdiction_id` is
  accepted: LAPOR! is one national jurisdiction), answered at once (`type` realtime) with the
  tracking ID as `service_request_id` and, as an extension, the reporter's `access_code`;
- `GET requests.{fmt}` with the spec's filters, `GET requests/{id}.{fmt}`,
  `GET tokens/{token}.{fmt}`.
`fmt` is `xml` (required by the spec) or `json`. Our statuses map to `open`/`closed`; lists hold
only published reports (forwarded, not rejected, not confidential: DESIGN §9), and a request not
yet published shows its status and dates only (all of it with its reporter's `X-Access-Code`);
confidential reports are never shown; a request never names who reported. Errors are a list of
`{code, description}`: 404 unknown id or code, 403 missing or bad api_key, 400 anything else.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.types import Scope

from services.intake import views
from services.intake.channels.common import CHANNEL_MESSAGES, title_from
from services.intake.models import LocationIn, ReporterIn, ReportIn
from shared.auth import InvalidToken, Role
from shared.calendar import deadline_end
from shared.directory.model import Category, load_categories
from shared.errors import InvalidInput
from shared.http.common import correlation_id
from shared.http.limits import Answer, client_address, too_large
from shared.i18n import text as texts
from shared.i18n.dates import day, zone_for
from shared.i18n.labels import limit_words, status_label
from shared.logs import get_logger
from shared.reports.events import Classification, Status
from shared.reports.tracking import InvalidTrackingId, normalize_tracking_id
from shared.store.port import WrongExpectedVersion
from shared.values import Channel, without_invisible

if TYPE_CHECKING:
    from services.intake.usecases import Intake
    from shared.runtime.service import Context

log = get_logger(__name__)
# The domain's names for where a report is, as an Open311 client sent them.
_OPEN311_FIELDS = {
    "location.lat": "lat",
    "location.lon": "long",
    "location.region_code": "attribute[region_code]",
}
# Every field of a refused request as the client's form named it.
_FORM_FIELDS = {
    **_OPEN311_FIELDS,
    "title": "attribute[title]",
    "body": "description",
    "location.address": "address_string",
    "name": "first_name",
}

SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-01-01T00:00:00+07:00"
DESCRIPTION_MAX = 4000
DEFAULT_WINDOW = timedelta(days=90)
PAGE_SIZE_MAX = 1000
CLOSED = frozenset({Status.CLOSED.value, Status.REJECTED.value})
PREFIX = "/open311/"
MEDIA = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
# A list's element name -> its items' element name (the spec's XML shape).
ITEM_TAGS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "service_requests": "request",
    "errors": "error",
}
# What XML 1.0 cannot hold at all (ElementTree writes it as it is, and every XML parser then
# refuses the whole document): C0 controls but tab and line breaks, lone surrogates, U+FFFE/FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
TRUE_WORDS = {"true", "1", "yes", "ya"}
FALSE_WORDS = {"false", "0", "no", "tidak"}


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


# --- rendering --------------------------------------------------------------------------------
def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xml(parent: ET.Element, tag: str, value: Any) -> None:
    element = ET.SubElement(parent, tag)
    _fill(element, tag, value)


def _fill(element: ET.Element, tag: str, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _xml(element, key, item)
    elif isinstance(value, list | tuple):
        for item in value:
            _xml(element, ITEM_TAGS.get(tag, "item"), item)
    else:
        element.text = _NOT_XML.sub("", _scalar(value))


def to_xml(root: str, value: Any) -> bytes:
    element = ET.Element(root)
    _fill(element, root, value)
    text = ET.tostring(element, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode("utf-8")


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def render(fmt: str, root: str, value: Any, status: int = 200) -> Response:
    """`value` (models, lists, dicts) as JSON, or as the spec's XML under `root`."""
    value = _plain(value)
    if fmt == "xml":
        return Response(to_xml(root, value), status_code=status, media_type=MEDIA["xml"])
    body = json.dumps(value, ensure_ascii=False).encode("utf-8")
    return Response(body, status_code=status, media_type=MEDIA["json"])


def error_response(fmt: str, status: int, description: str) -> Response:
    return render(
        fmt if fmt in MEDIA else "json",
        "errors",
        [{"code": status, "description": description}],
        status,
    )


def body_too_large(scope: Scope, status: int, limit: int) -> Answer | None:
    """For the body-size middleware: a body over the limit sent to an Open311 path is refused
    in Open311's error format (XML when the path asks for it), as every other refusal there."""
    path = str(scope.get("path", ""))
    if not path.startswith(PREFIX):
        return None
    fmt = "xml" if path.endswith(".xml") else "json"
    answer = error_response(fmt, status, too_large(limit))
    return bytes(answer.body), MEDIA[fmt].encode()


def _format(fmt: str) -> str:
    if fmt not in MEDIA:
        raise Open311Error(400, f"format: .{fmt[:10]} is not supported; use .xml or .json")
    return fmt


# --- the answers: JSON as these models, XML mirrors them ----------------------------------------
class EndpointOut(BaseModel):
    specification: str
    url: str
    changeset: str
    type: str
    formats: list[str]


class DiscoveryOut(BaseModel):
    changeset: str
    contact: str
    key_service: str
    endpoints: list[EndpointOut]


class ServiceOut(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class ChoiceOut(BaseModel):
    key: str
    name: str


class AttributeOut(BaseModel):
    variable: bool
    code: str
    datatype: str
    required: bool
    datatype_description: str
    order: int
    description: str
    values: list[ChoiceOut]


class ServiceDefinitionOut(BaseModel):
    service_code: str
    attributes: list[AttributeOut]


class ServiceRequestOut(BaseModel):
    """A service request (a LAPOR! report) as the spec names its fields; never who reported."""

    service_request_id: str
    status: str
    status_notes: str
    service_name: str | None
    service_code: str | None
    description: str
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: str | None
    updated_datetime: str | None
    expected_datetime: str | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class CreatedRequestOut(BaseModel):
    """The answer to a new request; `access_code` (an extension) goes to the reporter."""

    service_request_id: str
    service_notice: str
    account_id: str | None
    access_code: str


class TokenOut(BaseModel):
    service_request_id: str
    token: str


class Open311ErrorOut(BaseModel):
    code: int
    description: str


_XML = {"text/xml": {"schema": {"type": "string", "description": "The same answer in XML"}}}


def answers(model: Any) -> dict[str, Any]:
    """What a `.{fmt}` route declares: `.json` answers `model`, `.xml` its XML mirror; errors are
    a list of `{code, description}` in the same format."""
    errors = {
        status: {"model": list[Open311ErrorOut], "description": what, "content": _XML}
        for status, what in ((400, "Bad request"), (403, "api_key"), (404, "Not found"))
    }
    return {"response_model": model, "responses": {200: {"content": _XML}, **errors}}


# --- the model ---------------------------------------------------------------------------------
def iso(value: str | None) -> str | None:
    """A stored ISO time as ISO 8601 with its offset, to the second."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="seconds")


def due_datetime(day: str | None, region_code: str | None = None) -> str | None:
    """A follow-up due date as the end of that day in the report's own zone (Kupang: WITA,
    +08:00; Jayapura: WIT, +09:00; no region: WIB, +07:00), as the deadline is counted."""
    if not day:
        return None
    return deadline_end(date.fromisoformat(day[:10]), zone_for(region_code)).isoformat(
        timespec="seconds"
    )


def status_notes(row: Any) -> str:
    """The status as a person reads it (Bahasa Indonesia): where the report is and until when,
    the due day in the report's own zone."""
    text = status_label(row["status"], "id")
    if row["agency_name"]:
        text += f": {row['agency_name']}"
    if row["follow_up_due"] and row["status"] == "forwarded":
        text += " (" + texts("id", "report.follow_up_due") + " " + day(row["follow_up_due"]) + ")"
    return text


def open_or_closed(status: str) -> str:
    return "closed" if status in CLOSED else "open"


def service_of(category: Category) -> ServiceOut:
    return ServiceOut(
        service_code=category.code,
        service_name=category.name,
        description=f"{category.name} ({category.name_en})",
        metadata=True,
        type="realtime",
        keywords=category.name_en,
        group="LAPOR!",
    )


def _choice(key: str, name: str) -> dict[str, str]:
    return {"key": key, "name": name}


YES_NO = [_choice("false", "Tidak / No"), _choice("true", "Ya / Yes")]
ATTRIBUTES: list[dict[str, Any]] = [
    {
        "variable": True,
        "code": "classification",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": "complaint (default), aspiration or information_request",
        "order": 1,
        "description": "Jenis laporan / Kind of report",
        "values": [
            _choice("complaint", "Pengaduan / Complaint"),
            _choice("aspiration", "Aspirasi / Aspiration"),
            _choice("information_request", "Permintaan informasi / Information request"),
        ],
    },
    {
        "variable": True,
        "code": "anonymous",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": "true: the institution never learns who reported",
        "order": 2,
        "description": "Anonim / Anonymous",
        "values": YES_NO,
    },
    {
        "variable": True,
        "code": "confidential",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": "true: only the reporter and the institution may read it",
        "order": 3,
        "description": "Rahasia / Confidential",
        "values": YES_NO,
    },
    {
        "variable": True,
        "code": "region_code",
        "datatype": "string",
        "required": False,
        "datatype_description": "Kemendagri region code without dots, e.g. 5371",
        "order": 4,
        "description": "Kode wilayah / Region code",
        "values": [],
    },
    {
        "variable": True,
        "code": "title",
        "datatype": "string",
        "required": False,
        "datatype_description": "3 to 200 characters; default: the description's first line",
        "order": 5,
        "description": "Judul laporan / Title",
        "values": [],
    },
]


def request_of(row: Any, names: Mapping[str, str], reporter: bool = False) -> ServiceRequestOut:
    """A report as a service request. The public reads a published report (its public text when
    one was set); of an unpublished one only its status and dates (DESIGN §9); its reporter
    (`X-Access-Code`) reads all of it."""
    status = row["status"]
    code = row["category"]
    full = reporter or bool(row["published"])
    body = row["body"]
    if not reporter and row["public_body"] is not None:
        body = row["public_body"]
    return ServiceRequestOut(
        service_request_id=row["tracking_id"],
        status=open_or_closed(status),
        status_notes=status_notes(row),
        service_name=names.get(code) if code and full else None,
        service_code=code if full else None,
        description=body if full else "",
        agency_responsible=row["agency_name"],
        service_notice=None,
        requested_datetime=iso(row["submitted_at"]),
        updated_datetime=iso(row["updated_at"]),
        expected_datetime=due_datetime(views.follow_up_due_kept(row), row["region_code"]),
        address=row["address"] if full else None,
        address_id=None,
        zipcode=None,
        lat=row["lat"] if full else None,
        long=row["lon"] if full else None,
        media_url=None,
    )


# --- parsing ----------------------------------------------------------------------------------
def parse_time(name: str, raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace(" ", "+"))
    except ValueError as error:
        raise Open311Error(400, f"{name}: not an ISO 8601 date and time") from error
    if moment.tzinfo is None:
        raise Open311Error(400, f"{name}: a time zone is required (Z or +07:00)")
    try:  # the 90-day window on either side of it must be a date and time too
        moment = moment.astimezone(UTC)
        _ = (moment - DEFAULT_WINDOW, moment + DEFAULT_WINDOW)
    except OverflowError as error:
        raise Open311Error(400, f"{name}: out of range") from error
    return moment


def window(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The spec's date window: at most 90 days; by default the last 90 days."""
    if start is None and end is None:
        return now - DEFAULT_WINDOW, now
    if start is None:
        assert end is not None
        return end - DEFAULT_WINDOW, end
    if end is None:
        return start, max(start, min(now, start + DEFAULT_WINDOW))
    if end < start:
        raise Open311Error(400, "end_date: before start_date")
    if end - start > DEFAULT_WINDOW:
        raise Open311Error(400, "end_date: at most 90 days after start_date")
    return start, end


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def _flag(form: FormData, name: str) -> bool:
    raw = (_field(form, f"attribute[{name}]") or "").strip().lower()
    if not raw or raw in FALSE_WORDS:
        return False
    if raw in TRUE_WORDS:
        return True
    raise Open311Error(400, f"attribute[{name}]: true or false")


def _text(form: FormData, name: str, limit: int) -> str | None:
    value = _field(form, name)
    if value is None:
        return None
    value = value.strip()
    if len(value) > limit:
        raise Open311Error(400, f"{name}: at most {limit} characters")
    return value or None


def _coordinate(form: FormData, name: str, bound: float) -> float | None:
    raw = _text(form, name, 40)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError as error:
        raise Open311Error(400, f"{name}: not a number") from error
    if not math.isfinite(value) or abs(value) > bound:
        raise Open311Error(400, f"{name}: out of range")
    return value


def build(ctx: Context, intake: Intake) -> APIRouter:
    router = APIRouter(prefix="/open311/v2", tags=["open311"])
    categories = {c.code: c for c in load_categories()}
    names = {code: c.name for code, c in categories.items()}
    # The desk's limit as the policy sets it (the sla service counts with the same policy).
    limit = intake.escalations.rules.policy.national.verification
    in_words = limit_words(limit.days, limit.unit, "id")
    received_notice = f"Laporan diterima; diverifikasi dalam {in_words}."

    def base_url(request: Request) -> str:
        return str(request.base_url).rstrip("/") + "/open311/v2/"

    async def guarded(fmt: str, produce: Callable[[str], Awaitable[Response]]) -> Response:
        try:
            return await produce(_format(fmt))
        except Open311Error as error:
            return error_response(fmt, error.status, error.description)

    @router.get("/discovery.{fmt}", summary="Open311 service discovery", **answers(DiscoveryOut))
    async def discovery(fmt: str, request: Request) -> Response:
        async def produce(f: str) -> Response:
            return render(
                f,
                "discovery",
                DiscoveryOut(
                    changeset=CHANGESET,
                    contact="LAPOR! SP4N - https://www.lapor.go.id",
                    key_service="api_key: a LAPOR! client token (lapor token create --role client)",
                    endpoints=[
                        EndpointOut(
                            specification=SPEC,
                            url=base_url(request),
                            changeset=CHANGESET,
                            type="production",
                            formats=["text/xml", "application/json"],
                        )
                    ],
                ),
            )

        return await guarded(fmt, produce)

    @router.get(
        "/services.{fmt}",
        summary="Service list: LAPOR! report categories",
        **answers(list[ServiceOut]),
    )
    async def services(fmt: str) -> Response:
        async def produce(f: str) -> Response:
            return render(f, "services", [service_of(c) for c in categories.values()])

        return await guarded(fmt, produce)

    @router.get(
        "/services/{service_code}.{fmt}",
        summary="Service definition",
        **answers(ServiceDefinitionOut),
    )
    async def service_definition(service_code: str, fmt: str) -> Response:
        async def produce(f: str) -> Response:
            if service_code not in categories:
                raise Open311Error(404, f"service_code: {service_code[:64]} not found")
            definition = ServiceDefinitionOut.model_validate(
                {"service_code": service_code, "attributes": ATTRIBUTES}
            )
            return render(f, "service_definition", definition)

        return await guarded(fmt, produce)

    @router.post(
        "/requests.{fmt}",
        summary="Create a service request (a LAPOR! report)",
        **answers(list[CreatedRequestOut]),
    )
    async def create_request(fmt: str, request: Request) -> Response:
        async def produce(f: str) -> Response:
            try:
                form = await request.form()
            except Exception as error:
                raise Open311Error(
                    400, "body: application/x-www-form-urlencoded expected"
                ) from error
            api_key = _field(form, "api_key") or request.query_params.get("api_key")
            if not api_key:
                raise Open311Error(403, "api_key: required")
            try:
                principal = ctx.auth.verify(api_key)
            except InvalidToken as error:
                raise Open311Error(403, "api_key: invalid or expired") from error
            if principal.role is not Role.CLIENT:
                raise Open311Error(403, "api_key: not a client key")
            code = _text(form, "service_code", 64)
            if code is None:
                raise Open311Error(400, "service_code: required")
            if code not in categories:
                raise Open311Error(400, f"service_code: {code} not found")
            lat = _coordinate(form, "lat", 90)
            lon = _coordinate(form, "long", 180)
            address = _text(form, "address_string", 500)
            address_id = _text(form, "address_id", 100)
            if (lat is None) != (lon is None):
                raise Open311Error(400, "lat: lat and long go together")
            if lat is None and address is None and address_id is None:
                raise Open311Error(
                    400, "location: lat and long, address_string or address_id is required"
                )
            description = _text(form, "description", DESCRIPTION_MAX)
            if description is not None:  # what is left to read (a title is made from it)
                description = without_invisible(description).strip()
            if description is None or len(description) < 10:
                raise Open311Error(400, "description: required, at least 10 characters")
            media_url = _text(form, "media_url", 500)
            if media_url and not media_url.lower().startswith(("https://", "http://")):
                raise Open311Error(400, "media_url: an http(s) URL")
            classification = (_field(form, "attribute[classification]") or "complaint").strip()
            if classification not in {c.value for c in Classification}:
                raise Open311Error(400, "attribute[classification]: not one of the values")
            region = _text(form, "attribute[region_code]", 14)  # dotted: 35.78.01.1001
            title = _text(form, "attribute[title]", 200)
            name = " ".join(
                p for p in (_text(form, "first_name", 100), _text(form, "last_name", 100)) if p
            )
            body = description + (f"\n\nMedia: {media_url}" if media_url else "")
            try:
                reporter = ReporterIn(
                    name=name or None,
                    email=_text(form, "email", 254),
                    phone=_text(form, "phone", 20),
                )
                report = ReportIn(
                    classification=Classification(classification),
                    title=title or title_from(description, categories[code].name),
                    body=body,
                    category=code,
                    location=LocationIn(
                        lat=lat,
                        lon=lon,
                        region_code=region,
                        address=address or (f"address_id {address_id}" if address_id else None),
                    ),
                    anonymous=_flag(form, "anonymous"),
                    confidential=_flag(form, "confidential"),
                    reporter=reporter,
                )
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(p) for p in first.get("loc", ()))
                field_name = _FORM_FIELDS.get(where, where)
                raise Open311Error(400, f"{field_name}: {first.get('msg', 'invalid')}") from error
            idempotency = request.headers.get("idempotency-key")
            key = f"open311:{principal.subject}:{idempotency[:200]}" if idempotency else None
            try:
                try:
                    created = await intake.submit(
                        report,
                        Channel.OPEN311,
                        correlation_id(request),
                        key,
                        one_report_per_key=True,
                    )
                except WrongExpectedVersion:
                    if key is None:
                        raise
                    created = await intake.submit(
                        report,
                        Channel.OPEN311,
                        correlation_id(request),
                        key,
                        one_report_per_key=True,
                    )
            except InvalidInput as error:  # where it is: region, coordinates (nothing stored)
                name, _, msg = str(error).partition(": ")
                field_name = _OPEN311_FIELDS.get(name, name)
                raise Open311Error(400, f"{field_name}: {msg}") from error
            CHANNEL_MESSAGES.labels(Channel.OPEN311.value, "report").inc()
            log.info("open311_request", tracking_id=created.tracking_id)
            return render(
                f,
                "service_requests",
                [
                    CreatedRequestOut(
                        service_request_id=created.tracking_id,
                        service_notice=received_notice,
                        account_id=None,
                        access_code=created.access_code,
                    )
                ],
            )

        return await guarded(fmt, produce)

    @router.get(
        "/requests.{fmt}",
        summary="Service requests (public, never confidential)",
        **answers(list[ServiceRequestOut]),
    )
    async def list_requests(fmt: str, request: Request) -> Response:
        async def produce(f: str) -> Response:
            params = request.query_params
            where = ["confidential = 0", "published = 1"]
            args: list[object] = []
            ids = [i.strip() for i in params.get("service_request_id", "").split(",") if i.strip()]
            if ids:
                valid = []
                for raw in ids[:PAGE_SIZE_MAX]:
                    try:
                        valid.append(normalize_tracking_id(raw))
                    except InvalidTrackingId:
                        continue
                if not valid:
                    return render(f, "service_requests", [])
                where.append(f"tracking_id IN ({','.join('?' * len(valid))})")
                args.extend(valid)
            else:
                codes = [c.strip() for c in params.get("service_code", "").split(",") if c.strip()]
                if codes:
                    where.append(f"category IN ({','.join('?' * len(codes))})")
                    args.extend(codes)
                statuses = {s.strip() for s in params.get("status", "").split(",") if s.strip()}
                if statuses - {"open", "closed"}:
                    raise Open311Error(400, "status: open or closed")
                if statuses == {"open"}:
                    where.append("status NOT IN ('closed', 'rejected')")
                elif statuses == {"closed"}:
                    where.append("status IN ('closed', 'rejected')")
                start, end = window(
                    parse_time("start_date", params.get("start_date")),
                    parse_time("end_date", params.get("end_date")),
                    ctx.clock.now().astimezone(UTC),
                )
                where.append("submitted_at >= ? AND submitted_at <= ?")
                args.extend([start.isoformat(), end.isoformat()])
            page = _positive(params.get("page"), "page", 1, 1_000_000)
            size = _positive(params.get("page_size"), "page_size", PAGE_SIZE_MAX, PAGE_SIZE_MAX)
            sql = "SELECT * FROM reports WHERE " + " AND ".join(where)  # noqa: S608 - bound
            rows = await intake.views.fetchall(
                sql + " ORDER BY submitted_at DESC LIMIT ? OFFSET ?",
                [*args, size, (page - 1) * size],
            )
            return render(f, "service_requests", [request_of(r, names) for r in rows])

        return await guarded(fmt, produce)

    @router.get(
        "/requests/{service_request_id}.{fmt}",
        summary="One service request",
        **answers(list[ServiceRequestOut]),
    )
    async def one_request(service_request_id: str, fmt: str, request: Request) -> Response:
        async def produce(f: str) -> Response:
            row = await _public_row(service_request_id)
            code = request.headers.get("X-Access-Code")
            reporter = code is not None and await intake.code_is_right(
                row["tracking_id"], code, client_address(request)
            )
            return render(f, "service_requests", [request_of(row, names, reporter)])

        return await guarded(fmt, produce)

    @router.get(
        "/tokens/{token}.{fmt}",
        summary="service_request_id from a token",
        **answers(list[TokenOut]),
    )
    async def token_lookup(token: str, fmt: str) -> Response:
        async def produce(f: str) -> Response:
            # Requests are realtime: the token of a request is its service_request_id.
            row = await _public_row(token)
            tid = row["tracking_id"]
            return render(f, "service_requests", [TokenOut(service_request_id=tid, token=tid)])

        return await guarded(fmt, produce)

    async def _public_row(raw: str) -> Any:
        try:
            tracking_id = normalize_tracking_id(raw)
        except InvalidTrackingId as error:
            raise Open311Error(404, "service_request_id: not found") from error
        row = await intake.report_row(tracking_id)
        if row is None or row["confidential"]:
            raise Open311Error(404, "service_request_id: not found")
        return row

    return router


def _positive(raw: str | None, name: str, default: int, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise Open311Error(400, f"{name}: a whole number") from error
    if not 1 <= value <= maximum:
        raise Open311Error(400, f"{name}: between 1 and {maximum}")
    return value
