"""What goes wrong on the citizen's pages, said to the citizen: in their language, naming each
field as the form labels it, and as an HTML page in the site's style (never raw JSON, never a
stack trace) on every HTML route, including a body that is too large and a path that is not there.

The JSON API keeps its `{"detail": …}` answers (the handlers here hand API paths back to them).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from babel.numbers import format_decimal
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from services.intake.attachments import AttachmentRejected
from shared.errors import DomainError
from shared.http.limits import Answer
from shared.i18n import N_, Translator, translator
from shared.i18n.jinja import language_of
from shared.logs import get_logger

log = get_logger(__name__)

# The form's own label of each field an error can name.
FIELD_LABELS: dict[str, str] = {
    "village": N_("form.village"),
    "classification": N_("form.classification"),
    "title": N_("form.report_title"),
    "body": N_("form.body"),
    "category": N_("form.category"),
    "province": N_("form.province"),
    "regency": N_("form.regency"),
    "district": N_("form.district"),
    "region_code": N_("form.province"),
    "address": N_("form.address"),
    "lat": N_("form.lat"),
    "lon": N_("form.lon"),
    "event_date": N_("form.event_date"),
    "name": N_("form.name"),
    "phone": N_("form.phone"),
    "email": N_("form.email"),
    "attachments": N_("form.attachments"),
    "text": N_("action.text"),
    "note": N_("action.note"),
    "rating": N_("action.rating"),
    "comment": N_("action.comment"),
}
# The form field that shows an error, by the model field it came from.
FORM_FIELD = {"region_code": "province"}
# Paths that are not pages: their errors stay JSON (or the channel's own format).
NOT_PAGES = ("/api/", "/channels/", "/open311/", "/healthz", "/readyz", "/metrics", "/docs")
NOT_PAGES_EXACT = ("/openapi.json", "/redoc")
_DECIMAL_COMMA = re.compile(r"^\s*([+-]?\d+),(\d+)\s*$")
STATUS_MESSAGES = {
    400: N_("error.bad_request"),
    403: N_("error.csrf"),
    404: N_("error.not_found"),
    405: N_("error.not_found"),
    409: N_("error.conflict"),
    413: N_("error.too_large"),
    422: N_("error.bad_request"),
    429: N_("error.too_many"),
    500: N_("error.server"),
    503: N_("error.unavailable"),
}


def decimal(text: str) -> str:
    """`-10,1636` (how Indonesians write it) -> `-10.1636`; anything else as it was."""
    found = _DECIMAL_COMMA.match(text)
    return f"{found.group(1)}.{found.group(2)}" if found else text


def label(field: str, t: Translator) -> str:
    key = FIELD_LABELS.get(field)
    return t(key) if key else field


def count(value: object, t: Translator) -> str:
    """A number as the reader writes it: "10.000" in Indonesian, "10,000" in English."""
    if not isinstance(value, int):
        return str(value)
    return format_decimal(value, locale="id_ID" if t.language == "id" else "en_US")


def _message(error: Mapping[str, Any], field: str, t: Translator) -> str:
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    name = label(field, t)
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return t("error.required", field=name)
    if kind == "string_too_short":
        return t("error.too_short", field=name, min=count(ctx.get("min_length"), t))
    if kind == "string_too_long":
        return t("error.too_long", field=name, max=count(ctx.get("max_length"), t))
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type", "finite_number"):
        return t("error.number", field=name)
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bounds = {"lat": ("-90", "90"), "lon": ("-180", "180")}.get(field)
        if bounds:
            return t("error.range", field=name, min=bounds[0], max=bounds[1])
        return t("error.invalid", field=name)
    if field == "phone":
        return t("error.phone", field=name)
    if field == "email":
        return t("error.email", field=name)
    if kind.startswith("date") or field == "event_date":
        return t("error.date", field=name)
    if field in ("province", "region_code"):
        return t("error.region", field=name)
    return t("error.invalid", field=name)


def form_errors(error: ValidationError, t: Translator) -> dict[str, str]:
    """One message per form field, in the reader's language, naming the field as labelled."""
    found: dict[str, str] = {}
    for e in error.errors():
        loc = [str(p) for p in e.get("loc", ())]
        if not loc:
            continue
        name = loc[-1] if loc[0] in ("location", "reporter") and len(loc) > 1 else loc[0]
        field = FORM_FIELD.get(name, name)
        found.setdefault(field, _message(e, field, t))
    return found


class TooLong(DomainError):
    """A form's text over its field's limit: refused naming the field, never cut to fit."""

    def __init__(self, field: str, limit: int) -> None:
        super().__init__(f"{field}: at most {limit} characters")
        self.limit = limit


def domain_error(error: DomainError, t: Translator) -> dict[str, str]:
    """A rule's refusal (`field: what`) as a message for the form."""
    path, _, detail = str(error).partition(": ")
    field = path.rsplit(".", 1)[-1] if detail else "form"
    field = FORM_FIELD.get(field, field)
    name = label(field, t)
    if isinstance(error, AttachmentRejected):
        return {"attachments": t(error.key, field=name, **error.values)}
    if isinstance(error, TooLong):
        return {field: t("error.too_long", field=name, max=count(error.limit, t))}
    if detail == "unknown category":
        return {field: t("error.category", field=name)}
    if detail == "please write something":
        return {field: t("error.required", field=name)}
    if " / " in detail:
        # The rules that say it in both languages ("… tidak dikenal / unknown …"): the reader's.
        said_id, _, said_en = detail.partition(" / ")
        return {field: f"{name}: {said_en if t.language == 'en' else said_id}"}
    return {field: t("error.invalid", field=name)}


def wants_a_page(scope: Scope | Request) -> bool:
    """Whether the path is one of the citizen's pages (or an unknown path a browser asked for)."""
    path = scope.url.path if isinstance(scope, Request) else str(scope.get("path", ""))
    return not (path.startswith(NOT_PAGES) or path in NOT_PAGES_EXACT)


def _accepts_html(headers: Mapping[str, str] | list[tuple[bytes, bytes]]) -> bool:
    if isinstance(headers, list):
        accept = next((v.decode("latin-1") for k, v in headers if k == b"accept"), "")
    else:
        accept = headers.get("accept", "")
    return "text/html" in accept or not accept or "*/*" in accept


ErrorPage = Callable[[Request, int, str, dict[str, str], dict[str, Any]], HTMLResponse]


def install(app: FastAPI, page: ErrorPage) -> None:
    """HTML error pages on the citizen's routes; the API's JSON handlers everywhere else."""
    json_http = app.exception_handlers[StarletteHTTPException]
    json_invalid = app.exception_handlers[RequestValidationError]
    json_unexpected = app.exception_handlers[Exception]

    def handler(
        json_handler: Callable[[Request, Any], Awaitable[Response] | Response],
        status_of: Callable[[Exception], int],
    ) -> Callable[[Request, Exception], Awaitable[Response]]:
        async def handle(request: Request, error: Exception) -> Response:
            if wants_a_page(request) and _accepts_html(request.headers):
                status = status_of(error)
                if status >= 500:
                    log.error("page_failed", error_type=type(error).__name__)
                headers = dict(getattr(error, "headers", None) or {})
                key = STATUS_MESSAGES.get(status, "error.bad_request")
                return page(request, status, key, headers, {})
            answer = json_handler(request, error)
            return await answer if isinstance(answer, Awaitable) else answer

        return handle

    app.add_exception_handler(
        StarletteHTTPException,
        handler(json_http, lambda e: int(getattr(e, "status_code", 500))),
    )
    app.add_exception_handler(RequestValidationError, handler(json_invalid, lambda e: 422))
    app.add_exception_handler(Exception, handler(json_unexpected, lambda e: 500))


def body_too_large_page(
    render: Callable[[str, int, str, dict[str, Any]], bytes],
) -> Callable[[Scope, int, int], Answer | None]:
    """For the body-size middleware: the 413 as a page when a browser sent the form."""

    def page(scope: Scope, status: int, limit: int) -> Answer | None:
        if not wants_a_page(scope) or not _accepts_html(list(scope.get("headers", ()))):
            return None
        query = scope.get("query_string", b"").decode("latin-1")
        cookies = next(
            (v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"cookie"), ""
        )
        language = "en" if "lang=en" in query or "lapor_lang=en" in cookies else "id"
        html = render(language, status, "error.too_large", {"megabytes": round(limit / 1_000_000)})
        return html, b"text/html; charset=utf-8"

    return page


def language(request: Request) -> str:
    return language_of(request)


__all__ = [
    "FIELD_LABELS",
    "WebError",
    "body_too_large_page",
    "decimal",
    "domain_error",
    "form_errors",
    "install",
    "label",
    "language",
    "translator",
    "wants_a_page",
]


class WebError(Exception):
    """What a page answers instead of itself: an HTTP status and the message key the error page
    says (with headers such as Retry-After)."""

    def __init__(self, status: int, message_key: str, headers: dict[str, str] | None = None):
        super().__init__(message_key)
        self.status = status
        self.message_key = message_key
        self.headers = headers or {}
