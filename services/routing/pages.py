"""The agency desk as server-rendered HTML (Jinja2): log in with a token, the inbox, one report with
its history and the follow-up, return and transfer forms.

The token is kept in an HttpOnly, SameSite=Strict cookie scoped to /desk, so no script can read it
and no other site can make the browser send it (which is also what protects the forms from CSRF).
Every form carries a fresh idempotency key, so a double click stores one follow-up.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from services.routing.models import DelegateIn, FollowUpIn, ReturnIn, TransferIn
from services.routing.usecases import Caller, NotInInbox, RoutingDesk
from shared.auth import Principal, Role
from shared.directory.model import default_directory
from shared.errors import DomainError
from shared.http.common import correlation_id
from shared.i18n import N_, translator
from shared.i18n.jinja import install as install_i18n
from shared.i18n.jinja import language_of, page_context
from shared.i18n.refusals import refusal, validation_refusals
from shared.reports.events import FollowUpKind
from shared.reports.lifecycle import InvalidTransition, NotYourReport, ReportNotFound
from shared.reports.tracking import InvalidTrackingId, normalize_tracking_id
from shared.store.port import WrongExpectedVersion

if TYPE_CHECKING:
    from shared.runtime.service import Context

COOKIE = "lapor_desk"
COOKIE_MAX_AGE = 8 * 3600
RETURN_REASONS = {
    "not_our_authority": N_("desk.reason.not_our_authority"),
    "wrong_region": N_("desk.reason.wrong_region"),
    "duplicate": N_("desk.reason.duplicate"),
    "other": N_("desk.reason.other"),
}
FOLLOW_UP_KINDS = (
    FollowUpKind.INTERIM.value,
    FollowUpKind.FINAL.value,
    FollowUpKind.QUESTION.value,
)
# What the desk says after an action (`?done=…`), with the report and the institution named.
DONE = {
    "follow-up": N_("desk.done.follow_up"),
    "delegated": N_("desk.done.delegated"),
    "returned": N_("desk.done.returned"),
    "transferred": N_("desk.done.transferred"),
}
templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
install_i18n(templates.env)


def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """A desk page in the reader's language (`?lang=`, remembered), institutions by name."""
    lang = language_of(request)
    words = page_context(lang)
    t = words["t"]
    reasons = {value: t(key) for value, key in RETURN_REASONS.items()}
    response = templates.TemplateResponse(
        request,
        name,
        words | {"agency_names": agency_names(), "reasons": reasons} | context,
        status_code=status_code,
    )
    if request.query_params.get("lang") in ("id", "en"):
        response.set_cookie("lapor_lang", lang, max_age=365 * 86400, samesite="lax", path="/")
    return response


@lru_cache(maxsize=1)
def agency_names() -> dict[str, str]:
    return {i.code: i.name for i in default_directory().institutions}


def done_message(request: Request) -> str | None:
    done = request.query_params.get("done")
    if done not in DONE:
        return None
    t = translator(language_of(request))
    agency = request.query_params.get("to") or ""
    return t(
        DONE[done],
        id=request.query_params.get("id", ""),
        agency=agency_names().get(agency, agency),
    )


def _error_text(error: Exception, language: str) -> str:
    """What went wrong, in the officer's language, naming the field (the API keeps English)."""
    if isinstance(error, ValidationError):
        return validation_refusals(error.errors(), language)
    if isinstance(error, InvalidTransition | NotYourReport | DomainError):
        return refusal(str(error), language, agency_names())
    if isinstance(error, WrongExpectedVersion):
        return refusal("someone else changed this report first", language)
    return refusal("report not found", language)


def _status_of(error: Exception) -> int:
    if isinstance(error, ValidationError):
        return 422
    if isinstance(error, NotYourReport):
        return 403
    if isinstance(error, ReportNotFound | NotInInbox):
        return 404
    if isinstance(error, InvalidTransition | WrongExpectedVersion):
        return 409
    return 400


def pages_router(ctx: Context, desk: RoutingDesk) -> APIRouter:
    router = APIRouter(prefix="/desk", include_in_schema=False)

    def officer(request: Request) -> Principal | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        try:
            principal = ctx.auth.principal(
                HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)
            )
        except HTTPException:
            return None
        return principal if principal.role is Role.AGENCY and principal.agency else None

    def to_login(next_page: str | None = None) -> RedirectResponse:
        """The sign-in, remembering where the officer was going (a link in a notice)."""
        query = f"?{urlencode({'next': next_page})}" if next_page else ""
        return RedirectResponse(f"/desk/login{query}", status_code=303)

    def safe_next(raw: object) -> str:
        """Only a desk page of this site (never another host)."""
        text = str(raw or "")
        return text if text.startswith("/desk/") and "//" not in text else "/desk"

    async def agency_region(code: str) -> str | None:
        """Where the desk is: its times are told in that zone."""
        inst = (await desk.directory.get()).find(code)
        return inst.region_code if inst else None

    async def agency_name(code: str) -> str:
        inst = (await desk.directory.get()).find(code)
        return inst.name if inst else code

    @router.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request) -> Response:
        nxt = request.query_params.get("next")
        return page(request, "login.html", {"error": None, "next": safe_next(nxt) if nxt else None})

    @router.post("/login", response_class=HTMLResponse)
    async def login(
        request: Request, token: str = Form(max_length=4000), next: str = Form("", max_length=200)
    ) -> Response:
        try:
            principal = ctx.auth.principal(
                HTTPAuthorizationCredentials(scheme="Bearer", credentials=token.strip())
            )
        except HTTPException:
            principal = None
        if principal is None or principal.role is not Role.AGENCY or not principal.agency:
            t = translator(language_of(request))
            return page(
                request,
                "login.html",
                {"error": t("desk.error.token"), "next": safe_next(next) if next else None},
                status_code=401,
            )
        response = RedirectResponse(safe_next(next) if next else "/desk", status_code=303)
        response.set_cookie(
            COOKIE,
            token.strip(),
            max_age=COOKIE_MAX_AGE,
            path="/desk",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    @router.post("/logout", response_class=RedirectResponse)
    async def logout() -> Response:
        response = to_login()
        response.delete_cookie(COOKIE, path="/desk", httponly=True, samesite="strict")
        return response

    @router.get("", response_class=HTMLResponse)
    async def inbox_page(
        request: Request,
        status: str | None = None,
        overdue: str | None = None,
    ) -> Response:
        who = officer(request)
        if who is None or who.agency is None:
            return to_login()
        status = status if status in ("forwarded", "followed_up") else None
        only_overdue = True if overdue == "1" else None
        items = await desk.inbox(who.agency, status=status, overdue=only_overdue, limit=200)
        return page(
            request,
            "inbox.html",
            {
                "agency": who.agency,
                "agency_name": await agency_name(who.agency),
                "agency_region": await agency_region(who.agency),
                "items": items,
                "handed_on": await desk.handed_on(who.agency, limit=50),
                "status": status or "",
                "overdue": overdue == "1",
                "msg": done_message(request),
            },
        )

    async def report_page(
        request: Request,
        who: Principal,
        tracking_id: str,
        *,
        error: str | None = None,
        status_code: int = 200,
        msg: str | None = None,
        typed: Mapping[str, Any] | None = None,
    ) -> Response:
        """One report of the desk; `typed`: a refused form's action and fields, shown again in
        that form so the officer's text and choices are not lost."""
        assert who.agency is not None
        try:
            item = await desk.inbox_item(who.agency, tracking_id, reader=who)
        except NotInInbox:
            return page(
                request,
                "not_found.html",
                {"agency": who.agency, "tracking_id": tracking_id, "error": error},
                status_code=404 if error is None else status_code,
            )
        directory = await desk.directory.get()
        own = directory.find(who.agency)
        siblings = (
            [c for c in directory.children(own.parent) if c.code != own.code]
            if own is not None and own.parent is not None
            else []
        )
        units = list(directory.children(own.code)) if own is not None else []
        return page(
            request,
            "report.html",
            {
                "agency": who.agency,
                "agency_name": own.name if own else who.agency,
                "r": item,
                "siblings": siblings,
                "units": units,
                "kinds": FOLLOW_UP_KINDS,
                "error": error,
                "msg": msg or done_message(request),
                "typed": dict(typed or {}),
                "form_key": uuid.uuid4().hex,
            },
            status_code=status_code,
        )

    def normalized(tracking_id: str) -> str | None:
        try:
            return normalize_tracking_id(tracking_id)
        except InvalidTrackingId:
            return None

    @router.get("/reports/{tracking_id}", response_class=HTMLResponse)
    async def report(request: Request, tracking_id: str) -> Response:
        who = officer(request)
        if who is None:
            return to_login(f"/desk/reports/{tracking_id[:20]}")
        tid = normalized(tracking_id)
        if tid is None:
            return page(
                request,
                "not_found.html",
                {"agency": who.agency, "tracking_id": tracking_id, "error": None},
                status_code=404,
            )
        return await report_page(request, who, tid)

    async def act(
        request: Request, tracking_id: str, action: str, form: dict[str, Any]
    ) -> Response:
        who = officer(request)
        if who is None or who.agency is None:
            return to_login()
        tid = normalized(tracking_id)
        if tid is None:
            invalid = refusal("tracking_id: invalid", language_of(request))
            return await report_page(request, who, tracking_id, error=invalid)
        key = str(form.pop("idempotency_key", "") or "") or None
        if key:
            # The page's key guards against a double click; the form sent again after the back
            # button with other words is another action, not the first one found again.
            said = json.dumps({"action": action, **form}, sort_keys=True, default=str)
            key = f"{key}|{hashlib.sha256(said.encode()).hexdigest()[:32]}"
        caller = Caller.agency(who.agency, correlation_id(request), key)
        try:
            if action == "follow-up":
                await desk.follow_up(who.agency, tid, FollowUpIn.model_validate(form), caller)
                return RedirectResponse(
                    f"/desk/reports/{tid}?{urlencode({'done': 'follow-up', 'id': tid})}",
                    status_code=303,
                )
            if action == "delegate":
                given = await desk.delegate(
                    who.agency, tid, DelegateIn.model_validate(form), caller
                )
                done = {"done": "delegated", "id": tid, "to": given.agency_code}
                return RedirectResponse(f"/desk?{urlencode(done)}", status_code=303)
            if action == "return":
                result = await desk.return_report(
                    who.agency, tid, ReturnIn.model_validate(form), caller
                )
                suggestion = result.suggested_agency
                done = {"done": "returned", "id": tid, "to": suggestion.code if suggestion else ""}
                return RedirectResponse(f"/desk?{urlencode(done)}", status_code=303)
            moved = await desk.transfer(who.agency, tid, TransferIn.model_validate(form), caller)
            done = {"done": "transferred", "id": tid, "to": moved.agency_code}
            return RedirectResponse(f"/desk?{urlencode(done)}", status_code=303)
        except (
            ValidationError,
            DomainError,
            NotInInbox,
            WrongExpectedVersion,
        ) as error:
            return await report_page(
                request,
                who,
                tid,
                error=_error_text(error, language_of(request)),
                status_code=_status_of(error),
                typed={"action": action, **form},
            )

    def _clean(**fields: str | None) -> dict[str, Any]:
        return {k: v for k, v in fields.items() if v not in (None, "")}

    @router.post("/reports/{tracking_id}/follow-up", response_class=HTMLResponse)
    async def follow_up_form(
        request: Request,
        tracking_id: str,
        text: str = Form(""),
        kind: str = Form("interim"),
        idempotency_key: str = Form(""),
    ) -> Response:
        form = _clean(text=text, kind=kind, idempotency_key=idempotency_key)
        form.setdefault("text", "")
        return await act(request, tracking_id, "follow-up", form)

    def hand_on_route(action: str, target: str) -> Callable[..., Awaitable[Response]]:
        """The form of a report leaving the institution: `target` names the field that says
        where (an institution) or why (back to the admins)."""

        async def route(
            request: Request,
            tracking_id: str,
            where: str = Form("", alias=target),
            note: str = Form(""),
            idempotency_key: str = Form(""),
        ) -> Response:
            form = _clean(**{target: where}, note=note, idempotency_key=idempotency_key)
            return await act(request, tracking_id, action, form)

        return route

    for action, target in (
        ("return", "reason"),
        ("delegate", "agency_code"),
        ("transfer", "agency_code"),
    ):
        router.add_api_route(
            f"/reports/{{tracking_id}}/{action}",
            hand_on_route(action, target),
            methods=["POST"],
            response_class=HTMLResponse,
            name=f"{action}_form",
        )

    return router
