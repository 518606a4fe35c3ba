"""The citizens' poll pages under /jajak-pendapat (server-rendered, Bahasa Indonesia): the list,
a poll with its two forms (a one-time code to a phone or e-mail address, then the answer; CSRF
by a signed double-submit token), the thanks page, and the public documents.

No `from __future__ import annotations`: FastAPI resolves the route signatures.
"""

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from starlette.datastructures import FormData

import services.intake.regions as regions
from services.intake.polls.models import AnswerIn, PollOut, normalize_code
from services.intake.polls.ports import IntakePart
from services.intake.polls.usecases import WEB_BASE, Document, Polls
from shared.http.common import correlation_id
from shared.http.csrf import FIELD as CSRF_FIELD
from shared.http.csrf import Csrf
from shared.http.limits import client_address
from shared.http.security import FILE_HEADERS, PUBLIC_PAGE_HEADERS
from shared.polls.events import MAX_COMMENT

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"  # intake's, poll_*.html


def detail_text(error: HTTPException) -> str:
    """An error's detail as one line for the page."""
    detail = error.detail
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        return "; ".join(f"{d.get('field')}: {d.get('msg')}" for d in detail)
    if isinstance(detail, dict):
        return str(detail.get("msg", detail))
    return str(detail)


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
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    csrf = Csrf(intake.secret, secure_cookies=intake.limits.secure_cookies)

    def address(request: Request) -> str:
        return client_address(request)

    def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        token = csrf.token(request)
        html = env.get_template(template).render(
            csrf_token=token, base=WEB_BASE, region_name=regions.name_of, **context
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
            return await page(request, code, error.status_code, error=detail_text(error), form=form)
        return await page(
            request,
            code,
            message=f"Kode dikirim ke {sent.sent_to}. Berlaku {sent.expires_in // 60} menit.",
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
                error="Periksa kode verifikasi (6 angka), nomor/e-mail dan jawaban Anda.",
                form={**form, "step": "answer"},
            )
        try:
            result = await polls.answer(code, body, address(request), correlation_id(request))
        except HTTPException as error:
            return await page(
                request,
                code,
                error.status_code,
                error=detail_text(error),
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
