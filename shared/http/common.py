"""The HTTP edge every service shares: errors as {"detail": …}, health, metrics, correlation ids."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import tracing
from shared.auth import OutsideRegion
from shared.errors import DomainError, InvalidInput
from shared.http.limits import BodySizeLimit
from shared.i18n import N_, both, translator
from shared.i18n.jinja import language_of
from shared.i18n.refusals import (
    detail_in_both_languages,
    in_both_languages,
    validation_in_both_languages,
)
from shared.logs import get_logger
from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS
from shared.reports.lifecycle import (
    EscalationNotOpen,
    InvalidTransition,
    NotYourReport,
    ReportNotFound,
)
from shared.runtime.projection import disk_trouble
from shared.store.port import EventRejected, StoreUnavailable, WrongExpectedVersion

log = get_logger(__name__)
CORRELATION_HEADER = "X-Correlation-ID"
# FastAPI's answer to a body it could not parse for another reason than bad JSON (a body of
# arrays nested too deep for the parser, a broken multipart form): English and naming no field.
_UNPARSED_BODY = "There was an error parsing the body"
BODY_UNREADABLE = N_("error.body_unreadable")
# What every service answers a person or system whose language it does not know: Bahasa
# Indonesia first, then English ("… / …"), as the rules' own refusals.
REPORT_NOT_FOUND = N_("api.error.report_not_found")
CHANGED_FIRST = N_("api.error.changed_first")
STORE_UNAVAILABLE = N_("api.error.store_unavailable")
DISK_UNAVAILABLE = N_("api.error.disk_unavailable")
INTERNAL_ERROR = N_("api.error.internal")
ACCESS_CODE_REQUIRED = N_("api.error.access_code_required")
ACCESS_CODE_WRONG = N_("api.error.access_code_wrong")
ATTACHMENT_NOT_FOUND = N_("api.error.attachment_not_found")
FILES_FOR_REPORTER = N_("api.error.files_for_reporter")


def correlation_id(request: Request) -> str:
    return str(getattr(request.state, "correlation_id", None) or uuid.uuid4())


class Observe:
    """Pure ASGI middleware: a correlation id per request (bound to the logs, echoed in the
    answer's header), and the request counters and latency by route. Not `@app.middleware`
    (Starlette's BaseHTTPMiddleware), which runs every request in an extra task and stream."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cid = (
            Headers(scope=scope).get(CORRELATION_HEADER)
            or tracing.correlation_id_for_request()  # one trace, one correlation id
            or str(uuid.uuid4())
        )[:100]
        scope.setdefault("state", {})["correlation_id"] = cid
        status = 500
        header = (CORRELATION_HEADER.lower().encode(), cid.encode("latin-1", "replace"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                if CORRELATION_HEADER in headers:
                    del headers[CORRELATION_HEADER]
                headers.raw.append(header)
            await send(message)

        structlog.contextvars.bind_contextvars(correlation_id=cid)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("correlation_id", "tracking_id")
        route = getattr(scope.get("route"), "path", "unmatched")
        method = scope["method"]
        HTTP_REQUESTS.labels(self.service, method, route, f"{status // 100}xx").inc()
        HTTP_LATENCY.labels(self.service, method, route).observe(time.perf_counter() - started)


def install_common(
    app: FastAPI,
    service: str,
    ready: Callable[[], Awaitable[bool]],
    home: str | None = None,
) -> None:
    """Health, metrics, error mapping and request logging for one service's app; `home`: the
    staff pages a person opening the service's address is sent to."""

    # Every service refuses oversized bodies before reading them (intake sets tighter limits).
    app.add_middleware(BodySizeLimit, max_body=2_000_000, max_multipart=32_000_000)

    app.add_middleware(Observe, service=service)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service, "pid": str(os.getpid())}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        ok = await ready()
        return JSONResponse({"ready": ok, "service": service}, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    def _error(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)

    def _field(e: Mapping[str, Any]) -> str:
        loc = tuple(e.get("loc", ()))
        if e.get("type") == "json_invalid":  # loc ends with where parsing stopped: no field
            return str(loc[0]) if loc else "body"
        return ".".join(str(p) for p in loc[1:]) or str(loc[0] if loc else "")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        detail = [
            {
                "loc": list(e.get("loc", ())),
                "field": _field(e),
                "msg": validation_in_both_languages(e),
                "type": e.get("type", "value_error"),
            }
            for e in error.errors()
        ]
        return _error(422, detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail: Any = error.detail
        if error.status_code == 400 and detail == _UNPARSED_BODY:
            # The body as a whole, in the caller's language (?lang=, else Accept-Language).
            said = translator(language_of(request, None, accept_language=True))(BODY_UNREADABLE)
            detail = [{"loc": ["body"], "field": "body", "msg": said, "type": "body_unreadable"}]
        else:
            detail = detail_in_both_languages(detail)
        if error.status_code == 422 and isinstance(detail, list):
            # The shape the OpenAPI documents promise for every 422 (FastAPI's loc, msg, type).
            detail = [{"type": "value_error", **d} if isinstance(d, dict) else d for d in detail]
        return _error(error.status_code, detail, dict(error.headers or {}))

    @app.exception_handler(ReportNotFound)
    async def _not_found(_: Request, error: ReportNotFound) -> JSONResponse:
        return _error(404, both(REPORT_NOT_FOUND))

    @app.exception_handler(NotYourReport)
    async def _forbidden(_: Request, error: NotYourReport) -> JSONResponse:
        return _error(403, in_both_languages(str(error)))

    @app.exception_handler(OutsideRegion)
    async def _outside_region(_: Request, error: OutsideRegion) -> JSONResponse:
        return _error(403, in_both_languages(str(error)))

    @app.exception_handler(InvalidTransition)
    async def _conflict(_: Request, error: InvalidTransition) -> JSONResponse:
        return _error(
            409,
            {
                "msg": in_both_languages(str(error)),
                "status": error.status.value if error.status else None,
            },
        )

    @app.exception_handler(InvalidInput)
    async def _invalid_input(_: Request, error: InvalidInput) -> JSONResponse:
        field, _sep, msg = in_both_languages(str(error)).partition(": ")
        item = {"loc": [error.where, *field.split(".")], "field": field, "msg": msg}
        return _error(422, [{**item, "type": "value_error", **error.extra()}])

    @app.exception_handler(EscalationNotOpen)
    async def _not_yet(_: Request, error: EscalationNotOpen) -> JSONResponse:
        return _error(
            409,
            {
                "msg": str(error),
                "opens_on": error.opens_on.isoformat() if error.opens_on else None,
            },
        )

    @app.exception_handler(DomainError)
    async def _domain(_: Request, error: DomainError) -> JSONResponse:
        text = in_both_languages(str(error))
        field, _sep, msg = text.partition(": ")
        if msg and " " not in field:
            return _error(400, [{"loc": ["body", field], "field": field, "msg": msg}])
        return _error(400, text)

    @app.exception_handler(WrongExpectedVersion)
    async def _concurrent(_: Request, error: WrongExpectedVersion) -> JSONResponse:
        return _error(
            409,
            {
                "msg": both(CHANGED_FIRST),
                "current_version": error.actual,
            },
        )

    @app.exception_handler(EventRejected)
    async def _rejected(_: Request, error: EventRejected) -> JSONResponse:
        return _error(422, str(error))

    @app.exception_handler(StoreUnavailable)
    async def _unavailable(_: Request, error: StoreUnavailable) -> JSONResponse:
        log.error("store_unavailable", error=str(error))
        return _error(
            503,
            both(STORE_UNAVAILABLE),
            {"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, error: Exception) -> JSONResponse:
        if disk_trouble(error):
            # A view, key or outbox file on a full or read-only disk: the request may succeed
            # later, it is not a bug.
            log.error("disk_unavailable", error=str(error))
            return _error(503, both(DISK_UNAVAILABLE), {"Retry-After": "5"})
        log.exception("unhandled_error", error_type=type(error).__name__)
        return _error(500, both(INTERNAL_ERROR))

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        if home is not None:
            return RedirectResponse(home, status_code=303)
        return PlainTextResponse(f"LAPOR {service} service. API docs: /docs\n")
