"""The citizen's web pages: server-rendered, mobile-first, Bahasa Indonesia with English.

Everything works without JavaScript (the region picker reloads the form; a small script only
adds the map pin and fills the next picker level). Forms carry a signed token that must match
a SameSite cookie (CSRF). The access code never appears in a URL: after it is checked the
reporter gets a signed, HttpOnly cookie limited to that report's pages.

No `from __future__ import annotations`: FastAPI resolves these route signatures at runtime.
"""

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from services.intake import regions, views
from services.intake.api import file_response, sha256_param
from services.intake.assets import Assets, map_page_policy
from services.intake.attachments import AttachmentRejected
from services.intake.forms import (
    KEPT_AT_MOST,
    _consistent_region,
    _limited,
    _region_mismatch,
    _report_data,
    _required,
    _text,
    _values,
)
from services.intake.models import AttachmentRef, ReportIn
from services.intake.page_rules import MAP_PAGES, open_question, reporter_actions, shown_report
from services.intake.site import (
    LANG_COOKIE,
    environment,
    static_files_version,
)
from services.intake.usecases import Intake, known_categories
from services.intake.web_errors import WebError, domain_error, form_errors
from shared.crypto import derive_key
from shared.errors import DomainError
from shared.http.common import correlation_id
from shared.http.csrf import FIELD as CSRF_FIELD
from shared.http.csrf import Csrf
from shared.http.limits import client_address
from shared.http.security import PUBLIC_PAGE_HEADERS
from shared.i18n import LANGUAGES, translator
from shared.i18n.jinja import language_of
from shared.i18n.labels import limit_words, status_label
from shared.i18n.refusals import refusal
from shared.notifications.events import notification_stream
from shared.reports.commands import AmendReport, CloseReport, Command, RateReport, ReplyAsReporter
from shared.reports.events import Classification, CloseReason, Status
from shared.reports.lifecycle import EscalationNotOpen, InvalidTransition
from shared.reports.tracking import InvalidTrackingId, normalize_tracking_id
from shared.runtime.access_audit import access_log  # security hook (issue 12)
from shared.runtime.service import Context
from shared.values import Attachment, Channel

REPORTER_COOKIE = "lapor_pelapor"
REPORTER_TTL = 12 * 3600


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:32]


def pages_router(ctx: Context, intake: Intake) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    env = environment()
    csrf = Csrf(intake.secret, secure_cookies=intake.limits.secure_cookies)
    session_key = derive_key(intake.secret, "web-reporter-session")
    secure = intake.limits.secure_cookies
    assets = Assets()
    static_version = static_files_version()
    tiles, attribution = intake.limits.map_tiles_url, intake.limits.map_attribution
    map_headers = {
        **PUBLIC_PAGE_HEADERS,
        "Content-Security-Policy": map_page_policy(
            PUBLIC_PAGE_HEADERS["Content-Security-Policy"], tiles
        ),
    }

    # --- page plumbing -----------------------------------------------------------------------
    def language(request: Request) -> str:
        return language_of(request, LANG_COOKIE)

    def check_csrf(request: Request, form: FormData) -> None:
        if not csrf.matches(request, form.get(CSRF_FIELD)):
            raise WebError(403, "error.csrf")

    def render(
        request: Request,
        template: str,
        status: int = 200,
        private: bool = False,
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        lang = language(request)
        token = csrf.token(request)
        t = translator(lang)
        html = env.get_template(template).render(
            t=t,
            lang=lang,
            other_lang="en" if lang == "id" else "id",
            path=request.url.path,
            csrf_token=token,
            static_version=static_version,
            asset=assets.url,
            map_tiles=tiles,
            map_attribution=attribution,
            status_label=lambda s: status_label(s, lang),
            region_name=regions.name_of,
            region_label=regions.label,
            **context,
        )
        response = HTMLResponse(html, status_code=status, headers=dict(headers or {}))
        # Pages with a map (the form's picker, the map) may show tiles from the tile server.
        response.headers.update(map_headers if template in MAP_PAGES else PUBLIC_PAGE_HEADERS)
        response.headers["Cache-Control"] = "no-store" if private else "no-cache"
        response.headers["Vary"] = "Cookie"
        csrf.remember(request, response, token)
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(
                LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", secure=secure, path="/"
            )
        return response

    def error_page(request: Request, error: WebError) -> HTMLResponse:
        return render(
            request,
            "error.html",
            status=error.status,
            headers=error.headers,
            message=error.message_key,
            message_values={},
        )

    def address(request: Request) -> str:
        return client_address(request)

    def categories(lang: str) -> list[tuple[str, str]]:
        try:
            known = known_categories()
        except Exception:
            return []
        return [(code, names[1] if lang == "en" else names[0]) for code, names in known.items()]

    async def form_of(request: Request) -> FormData:
        form = await request.form(max_files=intake.limits.max_attachments + 1, max_fields=60)
        check_csrf(request, form)
        return form

    async def uploads(form: FormData) -> tuple[Attachment, ...]:
        files = [f for f in form.getlist("attachments") if isinstance(f, UploadFile) and f.filename]
        read = []
        for f in files:
            data = await f.read(intake.attachments.max_photo_bytes + 1)
            read.append((data, f.filename, f.content_type))
        return await intake.store_uploads(read)

    # --- reporter session --------------------------------------------------------------------
    def session_value(tracking_id: str, code_hash: str) -> str:
        expires = int(time.time()) + REPORTER_TTL
        return f"{expires}.{_mac(session_key, f'{tracking_id}|{code_hash}|{expires}')}"

    def is_reporter(request: Request, tracking_id: str, code_hash: str | None) -> bool:
        value = request.cookies.get(REPORTER_COOKIE, "")
        expires, _, mac = value.partition(".")
        if not code_hash or not expires.isdecimal() or int(expires) < time.time():
            return False
        return hmac.compare_digest(mac, _mac(session_key, f"{tracking_id}|{code_hash}|{expires}"))

    async def sign_in(response: Response, tracking_id: str) -> None:
        code_hash = await intake.expected_code_hash(tracking_id)
        if code_hash is None:
            return
        response.set_cookie(
            REPORTER_COOKIE,
            session_value(tracking_id, code_hash),
            max_age=REPORTER_TTL,
            httponly=True,
            samesite="strict",
            secure=secure,
            path=f"/laporan/{tracking_id}",
        )

    def see_other(url: str) -> RedirectResponse:
        return RedirectResponse(url, status_code=303)

    # --- home, static ------------------------------------------------------------------------
    @router.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        national = intake.escalations.rules.policy.national  # the limits sla counts with
        lang = language(request)
        return render(
            request,
            "home.html",
            verification_limit=limit_words(
                national.verification.days, national.verification.unit, lang
            ),
            follow_up_limit=limit_words(national.follow_up.days, national.follow_up.unit, lang),
        )

    @router.get("/static/{name:path}", response_class=Response)
    async def static(request: Request, name: str) -> Response:
        found = assets.get(name)
        if found is None:
            raise HTTPException(404, "not found")
        headers = {
            "Cache-Control": "public, max-age=604800",
            "Vary": "Accept-Encoding",
            **PUBLIC_PAGE_HEADERS,
        }
        if found.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(found.gzipped, media_type=found.media_type, headers=headers)
        return Response(found.data, media_type=found.media_type, headers=headers)

    # --- submitting --------------------------------------------------------------------------
    def form_page(
        request: Request,
        values: Mapping[str, str],
        errors: Mapping[str, str] | None = None,
        status: int = 200,
        kept: Sequence[Mapping[str, Any]] = (),
    ) -> HTMLResponse:
        lang = language(request)
        province, regency = values.get("province", ""), values.get("regency", "")
        district = values.get("district", "")
        return render(
            request,
            "submit.html",
            status=status,
            private=True,
            values=values,
            errors=errors or {},
            classifications=[c.value for c in Classification],
            categories=categories(lang),
            provinces=regions.provinces(),
            regencies=regions.children(province) if province else [],
            districts=regions.children(regency) if regency else [],
            villages=regions.children(district) if district else [],
            submission_key=values.get("submission_key") or secrets.token_urlsafe(16),
            max_attachments=intake.limits.max_attachments,
            max_attachment_bytes=intake.limits.max_attachment_bytes,
            kept=kept,
        )

    @router.get("/lapor", response_class=HTMLResponse)
    async def submit_form(
        request: Request,
        province: Annotated[str, Query(pattern=r"^([0-9]{2})?$")] = "",
        regency: Annotated[str, Query(pattern=r"^([0-9]{4})?$")] = "",
        district: Annotated[str, Query(pattern=r"^([0-9]{6})?$")] = "",
    ) -> HTMLResponse:
        values = {"province": province, "regency": regency, "district": district, "village": ""}
        _consistent_region(values)
        return form_page(request, values)

    def kept_refs(form: FormData) -> list[AttachmentRef]:
        """The files an earlier try of this form stored (its hidden `kept` fields)."""
        refs = []
        for raw in form.getlist("kept")[: intake.limits.max_attachments]:
            if isinstance(raw, str) and len(raw) <= 1000:
                with contextlib.suppress(ValidationError):
                    refs.append(AttachmentRef.model_validate_json(raw))
        return refs

    def kept_for_next_try(
        refs: Sequence[AttachmentRef], stored: Sequence[Attachment]
    ) -> list[dict[str, Any]]:
        """What a refused form carries to its next try: the files an earlier try stored and those
        stored now, each with its upload token (at most the files a report takes)."""
        token = intake.attachments.upload_token
        fresh = [
            AttachmentRef(sha256=f.sha256, name=f.name, upload_token=token(f.sha256))
            for f in stored
        ]
        both = [*refs, *fresh][: intake.limits.max_attachments]
        return [r.model_dump(mode="json") for r in both]

    async def keeping(
        request: Request,
        form: FormData,
        values: Mapping[str, str],
        errors: Mapping[str, str] | None = None,
        status: int = 200,
        stored: tuple[Attachment, ...] | None = None,
    ) -> HTMLResponse:
        """The form again, keeping the files chosen with it: a file input cannot be refilled,
        so what was uploaded is stored now and named on the page (hidden `kept` fields carry
        each file's sha256 and upload token to the next try). `stored`: this try's files, when
        the submission stored them already (an upload is read once)."""
        errors = dict(errors or {})
        refs = kept_refs(form)
        new: tuple[Attachment, ...] = ()
        if stored is not None:
            new = stored
        elif "attachments" not in errors:
            try:
                new = await uploads(form)
            except (AttachmentRejected, DomainError) as error:
                errors = domain_error(error, translator(language(request))) | errors
        return form_page(request, values, errors, status, kept_for_next_try(refs, new))

    @router.post("/lapor", response_class=HTMLResponse)
    async def submit(request: Request) -> HTMLResponse:
        try:
            form = await form_of(request)
        except WebError as error:
            return error_page(request, error)
        values = _values(form)
        if values.get("step") == "region":
            _consistent_region(values)  # a level above changed: the ones below start again
            return await keeping(request, form, values)
        mismatch = _region_mismatch(values, translator(language(request)))
        if mismatch:
            return await keeping(request, form, values, mismatch, status=422)
        wait = intake.submissions.hit(address(request))
        if wait > 0:
            return error_page(
                request, WebError(429, "error.too_many", {"Retry-After": str(int(wait) + 1)})
            )
        lang = language(request)
        t = translator(lang)
        try:
            report = ReportIn.model_validate(_report_data(values, form, lang))
        except ValidationError as error:
            return await keeping(request, form, values, form_errors(error, t), status=422)
        new: tuple[Attachment, ...] = ()
        try:
            new = await uploads(form)
            files = (*intake.resolve(kept_refs(form)), *new)
            out = await intake.submit(
                report,
                Channel.WEB,
                correlation_id(request),
                f"web|{values['submission_key']}" if values.get("submission_key") else None,
                attachments=files,
            )
        except AttachmentRejected as error:
            return form_page(request, values, domain_error(error, t), status=422)
        except DomainError as error:  # the files read above are stored: kept, not read again
            return await keeping(
                request, form, values, domain_error(error, t), status=422, stored=new
            )
        response = render(request, "done.html", private=True, out=out)
        await sign_in(response, out.tracking_id)
        return response

    # --- tracking ----------------------------------------------------------------------------
    @router.get("/lacak", response_class=HTMLResponse)
    async def track(request: Request, id: Annotated[str, Query(max_length=40)] = "") -> Response:
        if not id:
            return render(request, "track.html", values={})
        try:
            return see_other(f"/laporan/{normalize_tracking_id(id)}")
        except InvalidTrackingId:
            return render(
                request, "track.html", status=400, values={"id": id}, error="track.bad_id"
            )

    @router.post("/lacak", response_class=HTMLResponse)
    async def track_with_code(request: Request) -> Response:
        try:
            form = await form_of(request)
        except WebError as error:
            return error_page(request, error)
        raw, code = _text(form, "id", 40), _text(form, "access_code", 64)
        try:
            tracking_id = normalize_tracking_id(raw)
        except InvalidTrackingId:
            return render(
                request, "track.html", status=400, values={"id": raw}, error="track.bad_id"
            )
        if not code:
            return see_other(f"/laporan/{tracking_id}")
        return await _sign_in_with(request, tracking_id, code)

    async def _sign_in_with(request: Request, tracking_id: str, code: str) -> Response:
        try:
            right = await intake.code_is_right(tracking_id, code, address(request), "access_code")
        except HTTPException as error:
            return error_page(request, WebError(429, "error.too_many", dict(error.headers or {})))
        if not right:
            return render(
                request,
                "track.html",
                status=403,
                values={"id": tracking_id},
                error="track.bad_code",
            )
        response = see_other(f"/laporan/{tracking_id}")
        await sign_in(response, tracking_id)
        return response

    # --- a report ----------------------------------------------------------------------------
    async def report_page(
        request: Request,
        tracking_id: str,
        status: int = 200,
        error: str | None = None,
        notice: str | None = None,
        problems: Mapping[str, str] | None = None,
        typed: Mapping[str, str] | None = None,
        kept: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    ) -> HTMLResponse:
        row = await intake.report_row(tracking_id)
        reporter = row is not None and is_reporter(request, tracking_id, row["access_code_hash"])
        if row is None or (row["confidential"] and not reporter):
            return render(
                request,
                "track.html",
                status=404,
                values={"id": tracking_id},
                error="track.not_found",
            )
        files = json.loads(row["attachments"] or "[]")
        # Security hooks (issue 12): erasure shows on the page; the signed-in reporter of a
        # confidential report sees every officer's read of it.
        identity_erased = await asyncio.to_thread(intake.keys.is_erased, tracking_id)
        officer_reads = (
            await access_log(ctx.store, tracking_id) if reporter and row["confidential"] else None
        )
        timeline = [
            e.model_dump(exclude_unset=True) for e in await intake.timeline_for(row, reporter)
        ]
        agency_names = {
            str(e.get("agency_code") or e.get("to_agency")): str(
                e.get("agency_name") or e.get("to_agency_name")
            )
            for e in timeline
            if e.get("agency_name") or e.get("to_agency_name")
        }
        escalation = None
        if reporter and (row["escalated"] or row["status"] not in ("closed", "rejected")):
            state, events = await intake.escalations.load(tracking_id)
            escalation = await intake.escalations.status(state, events)
        return render(
            request,
            "report.html",
            identity_erased=identity_erased,
            officer_reads=officer_reads,
            status=status,
            private=reporter or bool(row["confidential"]) or not row["published"],
            report=shown_report(row, reporter),
            limited=not reporter and not row["published"],
            unpublished_to_reporter=reporter and not row["published"],
            timeline=timeline,
            agency_names=agency_names,
            open_question=open_question(timeline),
            notices=await notices_to(tracking_id) if reporter else None,
            reporter=reporter,
            files=files if reporter else [],
            file_count=len(files),
            actions=reporter_actions(row["status"]) if reporter else (),
            deadline=await intake.open_deadline(tracking_id, row["status"]),
            category_name=dict(categories(language(request))).get(row["category"] or ""),
            escalation=escalation,
            error=error,
            notice=notice,
            problems=dict(problems or {}),
            typed=dict(typed or {}),
            kept=dict(kept or {}),
            action_key=secrets.token_urlsafe(12),
            max_attachments=intake.limits.max_attachments,
            max_attachment_bytes=intake.limits.max_attachment_bytes,
        )

    async def notices_to(tracking_id: str) -> list[dict[str, Any]]:
        """What LAPOR told the reporter, and where (the web shows every notice too)."""
        told = []
        for event in await ctx.store.read(notification_stream(tracking_id)):
            data = event.data
            if data.get("recipient_kind") != "reporter":
                continue
            told.append(
                {
                    "at": event.occurred_at.isoformat(),
                    "about": data.get("cause_event_type", ""),
                    "channel": data.get("channel", "web"),
                    "delivered": event.event_type == "NotificationSent",
                }
            )
        return told

    def tracking_id_or_404(raw: str) -> str:
        try:
            return normalize_tracking_id(raw[:40])
        except InvalidTrackingId:
            raise WebError(404, "track.bad_id") from None

    @router.get("/laporan/{tracking_id}", response_class=HTMLResponse)
    async def report(request: Request, tracking_id: str) -> Response:
        try:
            tid = tracking_id_or_404(tracking_id)
        except WebError:
            return render(
                request, "track.html", status=404, values={"id": tracking_id}, error="track.bad_id"
            )
        if tid != tracking_id:
            return see_other(f"/laporan/{tid}")
        # Security hook (issue 12, enumeration): the same failed-lookup budget as the JSON API.
        # Reserved before the lookup, given back when it finds what this visitor may see.
        where = address(request)
        wait = intake.failed_codes.hit(where)
        if wait > 0:
            headers = {"Retry-After": str(int(wait) + 1)}
            return error_page(request, WebError(429, "error.too_many", headers))
        row = await intake.report_row(tid)
        reporter = row is not None and is_reporter(request, tid, row["access_code_hash"])
        if not (
            (row is None and await intake.expected_code_hash(tid) is None)
            or (row is not None and row["confidential"] and not reporter)
        ):
            intake.failed_codes.refund(where)
        said = request.query_params.get("ok")
        notice = {"1": "action.done", "eskalasi": "action.escalated_already"}.get(said or "")
        return await report_page(request, tid, notice=notice)

    @router.get("/laporan/{tracking_id}/masuk", response_class=HTMLResponse)
    async def report_sign_in_page(request: Request, tracking_id: str) -> Response:
        """Where a notice about a confidential report leads: its sign-in with the access code
        (the same page whether or not the report exists; a signed-in reporter goes on)."""
        try:
            tid = tracking_id_or_404(tracking_id)
        except WebError as error:
            return error_page(request, error)
        if is_reporter(request, tid, await intake.expected_code_hash(tid)):
            return see_other(f"/laporan/{tid}")
        return render(request, "track.html", values={"id": tid}, sign_in=True, private=True)

    @router.post("/laporan/{tracking_id}/masuk", response_class=HTMLResponse)
    async def report_sign_in(request: Request, tracking_id: str) -> Response:
        try:
            tid = tracking_id_or_404(tracking_id)
            form = await form_of(request)
        except WebError as error:
            return error_page(request, error)
        return await _sign_in_with(request, tid, _text(form, "access_code", 64))

    @router.post("/laporan/{tracking_id}/keluar", response_class=HTMLResponse)
    async def report_sign_out(request: Request, tracking_id: str) -> Response:
        try:
            tid = tracking_id_or_404(tracking_id)
            await form_of(request)
        except WebError as error:
            return error_page(request, error)
        response = see_other(f"/laporan/{tid}")
        response.delete_cookie(REPORTER_COOKIE, path=f"/laporan/{tid}")
        return response

    async def reporter_action(request: Request, tracking_id: str, action: str) -> Response:
        try:
            tid = tracking_id_or_404(tracking_id)
            form = await form_of(request)
        except WebError as error:
            return error_page(request, error)
        code_hash = await intake.expected_code_hash(tid)
        if not is_reporter(request, tid, code_hash):
            return await report_page(request, tid, status=403, error="report.reporter.lead")
        t = translator(language(request))
        typed = {f"{action}.{k}": _text(form, k, KEPT_AT_MOST) for k in ("text", "note", "comment")}
        # The files of a completion or reply: those an earlier try stored (hidden `kept`
        # fields) and those chosen now, stored once and kept for the next try if refused.
        refs = kept_refs(form) if action in ("amend", "reply") else []
        stored: tuple[Attachment, ...] = ()

        def keeping() -> dict[str, list[dict[str, Any]]]:
            both = kept_for_next_try(refs, stored)
            return {action: both} if both else {}

        files: tuple[Attachment, ...] = ()
        try:
            if action in ("amend", "reply"):
                stored = await uploads(form)  # refused: a chosen file; the kept ones stay
                try:
                    files = (*intake.resolve(refs), *stored)
                except AttachmentRejected:
                    refs = []  # a kept field that is no upload of this page's: not kept again
                    raise
            command = await _command(action, form, files)
        except (ValidationError, AttachmentRejected, DomainError) as refused:
            problems = (
                form_errors(refused, t)
                if isinstance(refused, ValidationError)
                else domain_error(refused, t)
            )
            return await report_page(
                request,
                tid,
                status=422,
                error="form.errors",
                problems=problems,
                typed=typed,
                kept=keeping(),
            )
        # The page's key guards against a double click; the same form sent again after the back
        # button with other words is another action, not the first one found again.
        key = _text(form, "action_key", 40)
        said = hashlib.sha256(command.model_dump_json(exclude={"now"}).encode()).hexdigest()
        try:
            await intake.act(
                tid, command, correlation_id(request), f"web|{action}|{key}|{said}" if key else None
            )
        except InvalidTransition:  # the report moved on: what was typed stays on the page
            return await report_page(
                request, tid, status=409, error="error.conflict", typed=typed, kept=keeping()
            )
        except DomainError as error:
            # A rule's refusal, in the reader's language (the field as a person calls it).
            said = refusal(str(error), t.language)
            return await report_page(
                request,
                tid,
                status=400,
                error="form.errors",
                problems={"form": said},
                typed=typed,
                kept=keeping(),
            )
        return see_other(f"/laporan/{tid}?ok=1")

    async def _command(action: str, form: FormData, files: tuple[Attachment, ...]) -> Command:
        if action in ("amend", "reply"):
            text = _limited(form, "text", 10_000)
            if action == "amend":
                return AmendReport(text=_required(text, "text"), attachments=files)
            return ReplyAsReporter(text=_required(text, "text"), attachments=files)
        if action == "close":
            return CloseReport(
                reason=CloseReason.BY_REPORTER, note=_limited(form, "note", 2000) or None
            )
        rating = _text(form, "rating", 3)  # "55" is refused as a rating, not read as 5
        return RateReport(
            rating=int(rating) if rating.isdecimal() else 0,  # "²" isdigit(), no int()
            comment=_limited(form, "comment", 2000) or None,
            now=ctx.clock.now(),
        )

    def reporter_route(action: str) -> Callable[[Request, str], Awaitable[Response]]:
        async def route(request: Request, tracking_id: str) -> Response:
            return await reporter_action(request, tracking_id, action)

        return route

    for path, action in (
        ("lengkapi", "amend"),
        ("balas", "reply"),
        ("tutup", "close"),
        ("nilai", "rate"),
    ):
        router.add_api_route(
            f"/laporan/{{tracking_id}}/{path}",
            reporter_route(action),
            methods=["POST"],
            response_class=HTMLResponse,
            name=action,
        )

    @router.post("/laporan/{tracking_id}/eskalasi", response_class=HTMLResponse)
    async def escalate(request: Request, tracking_id: str) -> Response:
        """The signed-in reporter takes the report to the Ombudsman RI (the use case sla's API
        runs too, under the same key)."""
        try:
            tid = tracking_id_or_404(tracking_id)
            await form_of(request)
        except WebError as error:
            return error_page(request, error)
        code_hash = await intake.expected_code_hash(tid)
        if not is_reporter(request, tid, code_hash):
            return await report_page(request, tid, status=403, error="report.reporter.lead")
        try:
            state, events = await intake.escalations.load(tid)
            done = await intake.escalations.escalate(state, events, correlation_id(request))
        except EscalationNotOpen:
            return await report_page(request, tid, status=409, error="error.escalation_not_open")
        except InvalidTransition:
            return await report_page(request, tid, status=409, error="error.conflict")
        await ctx.caught_up(done.position)
        # A second press (or another tab) finds it escalated already: say so, not "recorded".
        return see_other(f"/laporan/{tid}?ok={'1' if done.new else 'eskalasi'}")

    @router.get("/laporan/{tracking_id}/lampiran/{sha256}", response_class=FileResponse)
    async def attachment(request: Request, tracking_id: str, sha256: str) -> Response:
        try:
            tid = tracking_id_or_404(tracking_id)
        except WebError as error:
            return error_page(request, error)
        row = await intake.report_row(tid)
        if row is None or not is_reporter(request, tid, row["access_code_hash"]):
            return error_page(request, WebError(404, "error.not_found"))
        return file_response(*await intake.file_of(row, sha256_param(sha256)))

    # --- public views ------------------------------------------------------------------------
    @router.get("/laporan", response_class=HTMLResponse)
    async def browse(
        request: Request,
        q: Annotated[str, Query(max_length=200)] = "",
        status: Annotated[str, Query(max_length=32)] = "",
        category: Annotated[str, Query(max_length=64)] = "",
        province: Annotated[str, Query(pattern=r"^([0-9]{2})?$")] = "",
        cursor: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    ) -> HTMLResponse:
        known_status = status if status in {s.value for s in Status} else ""
        f = views.ReportFilter(
            status=known_status or None,
            category=category or None,
            region=province or None,
            q=q or None,
        )
        page = await intake.page(f, 20, cursor)
        filters = {"q": q, "status": known_status, "category": category, "province": province}
        more = (
            "/laporan?"
            + urlencode({**{k: v for k, v in filters.items() if v}, "cursor": page.next_cursor})
            if page.next_cursor
            else None
        )
        return render(
            request,
            "browse.html",
            rows=page.rows,
            filters=filters,
            statuses=[s.value for s in Status],
            categories=categories(language(request)),
            provinces=regions.provinces(),
            more=more,
        )

    @router.get("/peta", response_class=HTMLResponse)
    async def map_page(
        request: Request,
        status: Annotated[str, Query(max_length=32)] = "",
        category: Annotated[str, Query(max_length=64)] = "",
        agency: Annotated[str, Query(max_length=64)] = "",
    ) -> HTMLResponse:
        """Public reports on a map (Leaflet, pins clustered at national zoom), filtered by
        status, category and institution; without JavaScript the same filters list them."""
        known_status = status if status in {s.value for s in Status} else ""
        f = views.ReportFilter(
            status=known_status or None, category=category or None, agency=agency or None
        )
        filters = {"status": known_status, "category": category, "agency": agency}
        source = "/api/v1/map.geojson?" + urlencode(
            {"limit": 2000, **{k: v for k, v in filters.items() if v}}
        )
        return render(
            request,
            "map.html",
            rows=await intake.map_rows(f, 50, None),
            filters=filters,
            statuses=[s.value for s in Status],
            categories=categories(language(request)),
            agencies=await intake.map_agencies(),
            provinces=regions.provinces(),
            source=source,
        )

    @router.get("/statistik", response_class=HTMLResponse)
    async def stats_page(request: Request) -> HTMLResponse:
        stats = await intake.stats()
        codes = list(stats.by_agency)
        marks = ",".join("?" * len(codes))  # placeholders only: the codes are parameters
        query = (
            f"SELECT DISTINCT agency_code, agency_name FROM reports WHERE agency_code IN ({marks})"  # noqa: S608
        )
        named = await intake.views.fetchall(query, codes) if codes else []
        return render(
            request,
            "stats.html",
            stats=stats.model_dump(),
            category_names=dict(categories(language(request))),
            agency_names={r["agency_code"]: r["agency_name"] for r in named},
        )

    return router
