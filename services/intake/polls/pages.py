"""The citizens' poll pages under /jajak-pendapat (server-rendered, Bahasa Indonesia): the list,
a poll with its two forms (a one-time code to a phone or e-mail address, then the answer; CSRF
by a signed double-submit token), the thanks page, and the public documents.

No `from __future__ import annotations`: FastAPI resolves the route signatures.
"""

import contextlib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

import services.intake.regions as regions
from services.intake.polls.models import AnswerIn, PollOut, normalize_code
from services.intake.polls.ports import IntakePart
from services.intake.polls.usecases import WEB_BASE, Document, Polls
from services.intake.site import environment, static_files_version
from shared.directory.model import default_directory
from shared.http.common import correlation_id
from shared.http.csrf import FIELD as CSRF_FIELD
from shared.http.csrf import Csrf
from shared.http.limits import client_address
from shared.http.security import FILE_HEADERS, PUBLIC_PAGE_HEADERS
from shared.i18n import Translator, translator
from shared.i18n.jinja import language_of, page_context
from shared.polls.events import MAX_COMMENT

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"  # intake's, poll_*.html


@lru_cache(maxsize=1)
def agency_names() -> dict[str, str]:
    """Institutions by name (the names only decorate the page)."""
    return {i.code: i.name for i in default_directory().institutions}


def detail_text(error: HTTPException) -> str:
    """An error's detail as one line (the API's words)."""
    detail = error.detail
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        return "; ".join(f"{d.get('field')}: {d.get('msg')}" for d in detail)
    if isinstance(detail, dict):
        return str(detail.get("msg", detail))
    return str(detail)


def said(error: HTTPException, t: Translator) -> str:
    """What went wrong, for the citizen on the poll page, in their language."""
    text = detail_text(error)
    if error.status_code == 503 and "not set up" in text:
        return t("poll.error.codes_off")
    if error.status_code == 502:
        return t("poll.error.code_not_sent")
    if error.status_code == 429:
        return t("error.too_many")
    if error.status_code == 409:
        return t("poll.error.closed")
    if error.status_code == 403 and "wrong" in text:
        return t("poll.error.code_wrong")
    if error.status_code == 403 and "too many" in text:
        return t("poll.error.code_locked")
    if error.status_code == 403:
        return t("poll.error.code_expired")
    if error.status_code == 400 and text.startswith(("identity", "code")):
        return t("poll.error.identity")
    if error.status_code == 404:
        return t("error.not_found")
    return t("poll.error.check")


def file_response(document: Document) -> FileResponse:
    return FileResponse(
        document.path,
        media_type=document.media_type,
        filename=document.name,
        content_disposition_type="attachment",
        headers=dict(FILE_HEADERS),
    )


def router(intake: IntakePart, polls: Polls) -> APIRouter:
    pages = APIRouter(include_in_schema=False)
    env = environment()
    csrf = Csrf(intake.secret, secure_cookies=intake.limits.secure_cookies)
    # Which ways of sending the one-time code are set up: the page says so before anyone tries.
    codes = {
        "sms": polls.sender.sms is not None,
        "email": polls.sender.email is not None,
    }
    codes["any"] = codes["sms"] or codes["email"]

    def address(request: Request) -> str:
        return client_address(request)

    def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        token = csrf.token(request)
        html = env.get_template(template).render(
            **page_context(language_of(request)),
            path=request.url.path,
            static_version=static_files_version(),
            csrf_token=token,
            base=WEB_BASE,
            region_name=regions.name_of,
            agency_names=agency_names(),
            codes=codes,
            **context,
        )
        response = HTMLResponse(html, status_code=status)
        response.headers.update(PUBLIC_PAGE_HEADERS)
        response.headers["Cache-Control"] = "no-store"
        csrf.remember(request, response, token)
        return response

    async def form_of(request: Request) -> FormData:
        form = await request.form(max_files=0, max_fields=40)
        if not csrf.matches(request, form.get(CSRF_FIELD)):
            raise HTTPException(403, "csrf_token: reload the page and try again")
        return form

    def voter_regions(poll: PollOut) -> list[tuple[str, str]]:
        found = regions.children(poll.region_code) or regions.provinces()
        return [(r.code, r.name) for r in found]

    async def page(
        request: Request,
        code: str,
        status: int = 200,
        message: str | None = None,
        error: str | None = None,
        form: Mapping[str, Any] | None = None,
    ) -> HTMLResponse:
        poll = await polls.one(code)
        results = None
        if poll.status == "closed":
            with contextlib.suppress(HTTPException):
                results = await polls.results(code, None, correlation_id(request))
        return render(
            request,
            "poll_page.html",
            status=status,
            poll=poll.model_dump(mode="json"),
            results=None if results is None else results.model_dump(mode="json"),
            message=message,
            error=error,
            form=form or {},
            voter_regions=voter_regions(poll),
        )

    @pages.get(WEB_BASE, response_class=HTMLResponse)
    async def poll_list(request: Request) -> HTMLResponse:
        items = await polls.listing(None, None, None, 100)
        return render(request, "poll_list.html", polls=[p.model_dump(mode="json") for p in items])

    @pages.get(WEB_BASE + "/{code}", response_class=HTMLResponse)
    async def poll_page(request: Request, code: str) -> HTMLResponse:
        return await page(request, normalize_code(code))

    @pages.post(WEB_BASE + "/{code}/kode", response_class=HTMLResponse)
    async def send_code(request: Request, code: str) -> HTMLResponse:
        code = normalize_code(code)
        form = await form_of(request)
        identity = str(form.get("identity") or "")[:254]
        try:
            sent = await polls.request_code(code, identity, "identity", address(request))
        except HTTPException as error:
            t = translator(language_of(request))
            return await page(request, code, error.status_code, error=said(error, t), form=form)
        t = translator(language_of(request))
        return await page(
            request,
            code,
            message=t("poll.code_sent", to=sent.sent_to, minutes=sent.expires_in // 60),
            form={"identity": identity, "step": "answer"},
        )

    @pages.post(WEB_BASE + "/{code}/jawab", response_class=HTMLResponse)
    async def send_answer(request: Request, code: str) -> Response:
        code = normalize_code(code)
        form = await form_of(request)
        poll = await polls.one(code)
        answers: dict[str, list[str] | str] = {}
        for question in poll.questions:
            picked = [str(v) for v in form.getlist(f"q{question.key}")]
            if picked:
                answers[question.key] = picked
        try:
            body = AnswerIn(
                identity=str(form.get("identity") or "")[:254],
                code=str(form.get("otp") or "")[:20],
                answers=answers,
                comment=str(form.get("comment") or "")[:MAX_COMMENT] or None,
                region_code=str(form.get("region_code") or "") or None,
            )
        except ValidationError:
            return await page(
                request,
                code,
                400,
                error=translator(language_of(request))("poll.error.check"),
                form={**form, "step": "answer"},
            )
        try:
            result = await polls.answer(code, body, address(request), correlation_id(request))
        except HTTPException as error:
            return await page(
                request,
                code,
                error.status_code,
                error=said(error, translator(language_of(request))),
                form={**form, "step": "answer"},
            )
        return RedirectResponse(f"{WEB_BASE}/{code}/terima-kasih?hasil={result.outcome}", 303)

    @pages.get(WEB_BASE + "/{code}/dokumen", response_class=FileResponse)
    async def draft_document(code: str) -> FileResponse:
        """The draft policy's document (linked as `attachment_url` in the API)."""
        return file_response(await polls.document(normalize_code(code), "draft"))

    @pages.get(WEB_BASE + "/{code}/tanggapan/dokumen", response_class=FileResponse)
    async def response_document(code: str) -> FileResponse:
        """The response's document (`response.attachment_url` in the API)."""
        return file_response(await polls.document(normalize_code(code), "response"))

    @pages.get(WEB_BASE + "/{code}/terima-kasih", response_class=HTMLResponse)
    async def thanks(request: Request, code: str, hasil: str = "submitted") -> HTMLResponse:
        poll = await polls.one(normalize_code(code))
        outcome = hasil if hasil in ("submitted", "changed", "unchanged") else "submitted"
        return render(request, "poll_done.html", poll=poll.model_dump(mode="json"), outcome=outcome)

    return pages
