"""The administrators' HTML console: server-rendered, keyboard usable, no JavaScript.

Sign-in: an admin pastes their bearer token into a form; it is kept in an HttpOnly,
SameSite=Strict cookie scoped to /console (Secure on HTTPS) and verified on every request, so an
expired or revoked-by-rotation token signs the admin out. Every form that changes something
carries a CSRF token derived from the session (HMAC of the cookie under a purpose key) and a
fresh idempotency key, so a double submit is harmless.

No `from __future__ import annotations` here: FastAPI must resolve the route signatures.
"""

import uuid
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from services.verification import models
from services.verification.actions import ActionIn, command_for
from services.verification.usecases import (
    Conflict,
    Desk,
    Forbidden,
    Invalid,
    Outcome,
)
from services.verification.views import QueueFilter
from shared.auth import InvalidToken, Principal, Role
from shared.directory.model import default_directory
from shared.errors import InvalidInput
from shared.http.common import correlation_id
from shared.http.csrf import Csrf
from shared.http.security import STAFF_PAGE_HEADERS
from shared.i18n import N_, translator
from shared.i18n.jinja import language_of, page_context, page_environment
from shared.i18n.labels import limit_words
from shared.i18n.refusals import refusal, validation_refusals
from shared.reports.commands import Command
from shared.reports.events import Classification, RejectionReason, Status
from shared.reports.lifecycle import ReportNotFound
from shared.reports.tracking import InvalidTrackingId, normalize_tracking_id
from shared.runtime.service import Context
from shared.values import Channel

COOKIE = "lapor_console"
COOKIE_PATH = "/console"
SESSION_SECONDS = 8 * 3600
TEMPLATES = Path(__file__).resolve().parent / "templates"
BULK_OUTCOMES = (  # bulk.html says each result's outcome by these keys
    N_("console.bulk.outcome.verified"),
    N_("console.bulk.outcome.unchanged"),
    N_("console.bulk.outcome.conflict"),
    N_("console.bulk.outcome.not_found"),
)
DONE_MESSAGES = {
    "verify": N_("console.done.verify"),
    "request-completion": N_("console.done.request-completion"),
    "reject": N_("console.done.reject"),
    "postpone": N_("console.done.postpone"),
    "not-our-authority": N_("console.done.not-our-authority"),
    "protection": N_("console.done.protection"),
    "forward": N_("console.done.forward"),
    "reply": N_("console.done.reply"),
    "public-text": N_("console.done.public-text"),
}
# The language of the page being answered (set per request from ?lang= or the cookie).
LANGUAGE: ContextVar[str] = ContextVar("console_language", default="id")
LANGUAGE_PICKED: ContextVar[bool] = ContextVar("console_language_picked", default=False)
# After these, the report leaves the queue: go back to the queue for the next one.
BACK_TO_QUEUE = {"verify", "reject", "not-our-authority", "forward"}
# The actions whose form holds the request's fields as they are: the model and the fields.
FORM_FIELDS: dict[str, tuple[type[ActionIn], tuple[str, ...]]] = {
    "request-completion": (models.RequestCompletionIn, ("note",)),
    "postpone": (models.PostponeIn, ("until", "note")),
    "not-our-authority": (models.NotOurAuthorityIn, ("to_region", "note")),
    "forward": (models.ForwardIn, ("agency_code", "note")),
    "reply": (models.AdminReplyIn, ("text",)),
    "public-text": (models.PublicTextIn, ("title", "body", "note")),
}

_env = page_environment(TEMPLATES)


def t(key: str, **values: Any) -> str:
    """A text in the language of the page being answered."""
    return translator(LANGUAGE.get())(key, **values)


async def pick_language(request: Request) -> None:
    """Every console route: the reader's language for this request (`?lang=`, the cookie)."""
    LANGUAGE.set(language_of(request))
    LANGUAGE_PICKED.set(request.query_params.get("lang") in ("id", "en"))


def render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = LANGUAGE.get()
    html = _env.get_template(name).render(
        **page_context(lang),
        agency_names=agency_names(),
        **context,
    )
    response = HTMLResponse(html, status_code=status_code, headers=dict(STAFF_PAGE_HEADERS))
    if LANGUAGE_PICKED.get():  # remembered for the next page
        response.set_cookie("lapor_lang", lang, max_age=365 * 86400, samesite="lax", path="/")
    return response


@lru_cache(maxsize=1)
def agency_names() -> dict[str, str]:
    """Institutions by name (they only decorate the page)."""
    return {i.code: i.name for i in default_directory().institutions}


def _blank(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def form_fields(form: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {name: _blank(form.get(name)) for name in names if _blank(form.get(name)) is not None}


def done_message(done: str | None, tracking_id: str | None, changed: str | None) -> str | None:
    """What the page says after an action sent the admin to it (`?done=…&changed=0`)."""
    if done not in DONE_MESSAGES or not tracking_id:
        return None
    message = t(DONE_MESSAGES[done], id=tracking_id)
    if changed == "0":
        message += " " + t("console.done.unchanged")
    return message


def validation_message(error: ValidationError) -> str:
    """The form's invalid fields, named and said in the reader's language."""
    return validation_refusals(error.errors(), LANGUAGE.get())


def refused(error: Exception | str) -> str:
    """A rule's refusal (`field: what`, English in the API) in the reader's language."""
    return refusal(str(error), LANGUAGE.get(), agency_names())


def router(ctx: Context, desk: Desk, categories: Callable[[], list[dict[str, str]]]) -> APIRouter:
    r = APIRouter(prefix="/console", include_in_schema=False, dependencies=[Depends(pick_language)])
    secret = ctx.settings.master_secret

    csrf = Csrf(secret)

    def csrf_for(token: str) -> str:
        return csrf.for_session(token, "verification-console-csrf")

    def session(request: Request) -> tuple[Principal, str] | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        try:
            return ctx.auth.verify(token), token
        except InvalidToken:
            return None

    def to_login() -> RedirectResponse:
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(COOKIE, path=COOKIE_PATH)
        return response

    def not_found(message: str, principal: Principal) -> HTMLResponse:
        return render(
            "error.html",
            404,
            title=t("console.error.not_found"),
            message=message,
            principal=principal,
        )

    def forbidden(message: str, principal: Principal | None = None) -> HTMLResponse:
        return render(
            "error.html",
            403,
            title=t("console.error.forbidden"),
            message=message,
            principal=principal,
        )

    def checked_csrf(form: Mapping[str, Any], token: str) -> bool:
        return csrf.matches_session(form.get("csrf"), token, "verification-console-csrf")

    def admin_session(request: Request) -> tuple[Principal, str] | Response:
        """The signed-in admin and their token, or the page to answer instead."""
        found = session(request)
        if found is None:
            return to_login()
        principal, _token = found
        if principal.role is not Role.ADMIN:
            return forbidden(t("console.error.role", role=principal.role.value), principal)
        return found

    # A GET page's admin and token, or the page to answer instead (sign in, or forbidden).
    SignedIn = Annotated[tuple[Principal, str] | Response, Depends(admin_session)]

    async def admin_form(request: Request) -> tuple[Principal, str, FormData] | Response:
        """A form an admin posted with their session's CSRF token, or the page to answer."""
        found = admin_session(request)
        if isinstance(found, Response):
            return found
        principal, token = found
        form = await request.form()
        if not checked_csrf(form, token):
            return forbidden(t("console.error.csrf"), principal)
        return principal, token, form

    def base(principal: Principal, token: str) -> dict[str, Any]:
        return {
            "principal": principal,
            "csrf": csrf_for(token),
            "new_key": lambda: uuid.uuid4().hex,
        }

    # -- sign in and out --
    @r.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> Response:
        found = session(request)
        if found and found[0].role is Role.ADMIN:
            return RedirectResponse("/console", status_code=303)
        return render("login.html", error=None)

    @r.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        form = await request.form()
        token = form.get("token")
        if not isinstance(token, str) or not token.strip():
            return render("login.html", 422, error=t("console.error.no_token"))
        token = token.strip()
        try:
            principal = ctx.auth.verify(token)
        except InvalidToken:
            return render("login.html", 401, error=t("console.error.bad_token"))
        if principal.role is not Role.ADMIN:
            return render(
                "login.html", 403, error=t("console.error.token_role", role=principal.role.value)
            )
        response = RedirectResponse("/console", status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            max_age=SESSION_SECONDS,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @r.post("/logout", response_class=HTMLResponse)
    async def logout(request: Request) -> Response:
        found = session(request)
        form = await request.form()
        if found is not None and not checked_csrf(form, found[1]):
            return forbidden(t("console.error.csrf"))
        return to_login()

    # -- the queue --
    @r.get("", response_class=HTMLResponse)
    async def queue_page(
        signed_in: SignedIn,
        status: Annotated[str | None, Query(max_length=32)] = None,
        category: Annotated[str | None, Query(max_length=64)] = None,
        region: Annotated[str | None, Query(max_length=10)] = None,
        channel: Annotated[str | None, Query(max_length=32)] = None,
        classification: Annotated[str | None, Query(max_length=32)] = None,
        q: Annotated[str | None, Query(max_length=200)] = None,
        postponed: Annotated[str, Query(pattern=r"^(hide|only|include)$")] = "hide",
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        done: Annotated[str | None, Query(max_length=32)] = None,
        id: Annotated[str | None, Query(max_length=20)] = None,
        changed: Annotated[str | None, Query(max_length=1)] = None,
    ) -> Response:
        if isinstance(signed_in, Response):
            return signed_in
        principal, token = signed_in
        errors: list[str] = []
        filters = {
            "status": _blank(status),
            "category": _blank(category),
            "region": _blank(region),
            "channel": _blank(channel),
            "classification": _blank(classification),
            "q": _blank(q),
        }
        for name, allowed in (
            ("status", {s.value for s in Status}),
            ("channel", {c.value for c in Channel}),
            ("classification", {c.value for c in Classification}),
        ):
            if filters[name] is not None and filters[name] not in allowed:
                errors.append(t("console.error.unknown_value", field=name, value=filters[name]))
                filters[name] = None
        if filters["region"] is not None and not str(filters["region"]).isdigit():
            errors.append(t("console.error.region"))
            filters["region"] = None
        limit = 50
        try:
            rows, total = await desk.queue(
                principal,
                QueueFilter(
                    **{k: v for k, v in filters.items()},
                    postponed=postponed,
                    limit=limit,
                    offset=offset,
                ),
            )
        except Forbidden as error:
            return forbidden(refused(error), principal)
        message = done_message(done, id, changed)
        # A tracking ID searched for that the list does not show (not waiting, or typed with a
        # dash): where the report is, so it is not taken for missing.
        searched = tracking_id_or_none(str(filters["q"])) if filters["q"] else None
        elsewhere = None
        if searched is not None and all(row.tracking_id != searched for row in rows):
            try:
                elsewhere = await desk.visible_row(principal, searched)
            except (ReportNotFound, Forbidden):
                elsewhere = None
        page = {k: v for k, v in filters.items() if v is not None} | {"postponed": postponed}
        national = desk.policy.national  # the limits the desk's deadlines are counted with
        return render(
            "queue.html",
            **base(principal, token),
            verification_limit=limit_words(
                national.verification.days, national.verification.unit, LANGUAGE.get()
            ),
            reforward_limit=limit_words(
                national.reforward.days, national.reforward.unit, LANGUAGE.get()
            ),
            rows=rows,
            total=total,
            elsewhere=elsewhere,
            filters=filters,
            postponed=postponed,
            errors=errors,
            message=message,
            statuses=[s.value for s in Status],
            channels=[c.value for c in Channel],
            classifications=[c.value for c in Classification],
            categories=categories(),
            prev_url=(
                "/console?" + urlencode(page | {"offset": max(0, offset - limit)})
                if offset > 0
                else None
            ),
            next_url=(
                "/console?" + urlencode(page | {"offset": offset + limit})
                if offset + limit < total
                else None
            ),
            offset=offset,
        )

    # -- one report --
    async def report_page(
        principal: Principal,
        token: str,
        tracking_id: str,
        *,
        status_code: int = 200,
        message: str | None = None,
        error: str | None = None,
        conflict: models.ConflictDetail | None = None,
        typed: Mapping[str, str] | None = None,
    ) -> Response:
        """A report with its actions; `typed`: a refused form's action and fields, shown again in
        that form so the administrator's notes and choices are not lost."""
        try:
            report = await desk.detail(principal, tracking_id)
            suggestions = await desk.duplicates(principal, tracking_id)
        except ReportNotFound:
            return not_found(t("console.error.no_report_yet", id=tracking_id), principal)
        except Forbidden as failure:
            return forbidden(refused(failure), principal)
        # The institution's limit for closing a report nobody answers after its final answer.
        closing = desk.policy.policy_for(report.agency_code).auto_close
        return render(
            "report.html",
            status_code,
            **base(principal, token),
            report=report,
            suggestions=suggestions,
            message=message,
            error=error,
            conflict=conflict,
            typed=dict(typed or {}),
            categories=categories(),
            classifications=[c.value for c in Classification],
            reasons=[reason.value for reason in RejectionReason],
            today=desk.today(report.location.region_code).isoformat(),
            agencies=await desk.agency_choices(report),
            completion_days=desk.policy.national.completion_expiry.days,
            reminder_days=desk.policy.national.completion_reminder.days,
            auto_close_limit=limit_words(closing.days, closing.unit, LANGUAGE.get()),
        )

    def tracking_id_or_none(raw: str) -> str | None:
        try:
            return normalize_tracking_id(raw)
        except InvalidTrackingId:
            return None

    @r.get("/reports/{tracking_id}", response_class=HTMLResponse)
    async def report_view(
        signed_in: SignedIn,
        tracking_id: str,
        done: Annotated[str | None, Query(max_length=32)] = None,
        changed: Annotated[str | None, Query(max_length=1)] = None,
    ) -> Response:
        if isinstance(signed_in, Response):
            return signed_in
        principal, token = signed_in
        normal = tracking_id_or_none(tracking_id)
        if normal is None:
            return not_found(t("track.bad_id"), principal)
        message = done_message(done, normal, changed)
        return await report_page(principal, token, normal, message=message)

    async def command_from(
        action: str, form: Mapping[str, Any], tracking_id: str, principal: Principal
    ) -> Command:
        return await command_for(desk, principal, tracking_id, request_of(action, form))

    def request_of(action: str, form: Mapping[str, Any]) -> ActionIn:
        """The form of an action as the API's request model (its checks, its errors)."""
        if action == "verify":
            data = form_fields(
                form, ("classification", "category", "region_code", "agency_code")
            ) | {"requires_field_inspection": form.get("requires_field_inspection") == "on"}
            location = form_fields(form, ("lat", "lon", "address"))
            if location:
                data["location"] = location
            return models.VerifyIn.model_validate(data)
        if action == "protection":
            return models.ProtectionIn.model_validate(
                {
                    "anonymous": form.get("anonymous") == "on",
                    "confidential": form.get("confidential") == "on",
                }
                | form_fields(form, ("note",))
            )
        if action == "reject":
            rejection = models.RejectIn.model_validate(
                form_fields(form, ("reason", "note", "duplicate_of"))
            )
            if rejection.duplicate_of:
                normal = tracking_id_or_none(rejection.duplicate_of)
                if normal is None:
                    raise Invalid("duplicate_of", "not a valid tracking ID")
                rejection = rejection.model_copy(update={"duplicate_of": normal})
            return rejection
        if action not in FORM_FIELDS:
            raise Invalid("action", f"unknown action {action!r}")
        model, fields = FORM_FIELDS[action]
        return model.model_validate(form_fields(form, fields))

    @r.post("/reports/{tracking_id}/{action}", response_class=HTMLResponse)
    async def act(request: Request, tracking_id: str, action: str) -> Response:
        posted = await admin_form(request)
        if isinstance(posted, Response):
            return posted
        principal, token, form = posted
        normal = tracking_id_or_none(tracking_id)
        if normal is None or action not in DONE_MESSAGES:
            return not_found(t("error.not_found"), principal)
        key = form.get("idem")
        typed = {"action": action} | {
            name: value
            for name, value in form.items()
            if isinstance(value, str) and name not in ("csrf", "idem")
        }
        outcome: Outcome
        try:
            await desk.load_for(principal, normal)
            command = await command_from(action, form, normal, principal)
            outcome = await desk.act(
                normal,
                command,
                principal,
                correlation_id(request),
                key if isinstance(key, str) and key else None,
            )
        except ValidationError as error:
            return await report_page(
                principal,
                token,
                normal,
                status_code=422,
                error=validation_message(error),
                typed=typed,
            )
        except (Invalid, InvalidInput) as error:
            return await report_page(
                principal, token, normal, status_code=422, error=refused(error), typed=typed
            )
        except Conflict as error:
            return await report_page(
                principal,
                token,
                normal,
                status_code=409,
                error=refused(error.msg),
                conflict=error.detail(),
                typed=typed,
            )
        except Forbidden as error:
            return forbidden(refused(error), principal)
        except ReportNotFound:
            return not_found(t("console.error.no_report", id=normal), principal)
        changed = "1" if outcome.changed else "0"
        if action in BACK_TO_QUEUE:
            target = "/console?" + urlencode({"done": action, "id": normal, "changed": changed})
        else:
            target = f"/console/reports/{normal}?" + urlencode({"done": action, "changed": changed})
        return RedirectResponse(target, status_code=303)

    @r.post("/bulk-verify", response_class=HTMLResponse)
    async def bulk_verify(request: Request) -> Response:
        posted = await admin_form(request)
        if isinstance(posted, Response):
            return posted
        principal, token, form = posted
        raw = [v for v in form.getlist("tracking_id") if isinstance(v, str)]
        ids = [t for t in (tracking_id_or_none(v) for v in raw) if t is not None]
        if not ids:
            return render(
                "bulk.html",
                422,
                **base(principal, token),
                results=[],
                error=t("console.error.tick"),
            )
        key = form.get("idem")
        try:
            done = await desk.bulk_verify(
                ids[: models.MAX_BULK],
                principal,
                correlation_id(request),
                key if isinstance(key, str) and key else None,
            )
        except Forbidden as error:
            return forbidden(refused(error), principal)
        return render("bulk.html", **base(principal, token), results=done.results, error=None)

    return r
