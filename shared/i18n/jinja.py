"""The catalogs and the one way to say time, in a Jinja2 environment (pages and notices).

`install(env)` adds filters that read the reader's language from the template context (`lang`):

    {{ e.occurred_at|when(report.region_code) }}    5 Maret 2026, 14.05 WITA
    {{ report.follow_up_due|day }}                   12 Maret 2026
    {{ report.status|status_label }}                 Diteruskan ke instansi
    {{ region_code|region_name }}                    Kota Kupang, Nusa Tenggara Timur
    {{ report.category|category_name }}              Kesehatan (Health in English)
    {{ e.details|event_details(e.event_type, region) }}  the event's details as sentences

and `page_context(lang)` the names every template uses: `t` (and `_`) for texts, `lang`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from shared.i18n import dates, labels, normalize_language, translator
from shared.i18n.names import category_name, region_name


def _lang(context: Context) -> str:
    return normalize_language(context.get("lang"))


def install(env: Environment) -> Environment:
    @pass_context
    def when(context: Context, value: Any, region_code: str | None = None) -> str:
        return dates.when(value, region_code, _lang(context))

    @pass_context
    def day(context: Context, value: Any) -> str:
        return dates.day(value, _lang(context))

    @pass_context
    def short_day(context: Context, value: Any) -> str:
        return dates.short_day(value, _lang(context))

    def local_iso(value: Any, region_code: str | None = None) -> str:
        return dates.local_iso(value, region_code) or ""

    def labelled(label: Any) -> Any:
        @pass_context
        def say(context: Context, value: Any) -> str:
            return str(label(str(value), _lang(context))) if value else ""

        return say

    @pass_context
    def category(context: Context, code: Any) -> str:
        return category_name(str(code) if code else None, _lang(context))

    @pass_context
    def event_details(
        context: Context, details: Any, event_type: str, region_code: str | None = None
    ) -> list[str]:
        """The event's details as sentences; institutions named from `agency_names`."""
        from shared.i18n.history import sentences

        names = context.get("agency_names") or {}
        return sentences(event_type, details or {}, _lang(context), region_code, names)

    @pass_context
    def actor_label(context: Context, kind: Any) -> str:
        from shared.i18n.history import actor_label as label

        return label(str(kind), _lang(context)) if kind else ""

    @pass_context
    def refusal(context: Context, message: Any) -> str:
        """A rule's refusal (`field: what`) in the reader's language."""
        from shared.i18n.refusals import refusal as say

        if not message:
            return ""
        return say(str(message), _lang(context), context.get("agency_names") or {})

    env.filters.update(
        refusal=refusal,
        category_name=category,
        event_details=event_details,
        actor_label=actor_label,
        when=when,
        day=day,
        short_day=short_day,
        local_iso=local_iso,
        zone_label=dates.zone_label,
        region_name=region_name,
        status_label=labelled(labels.status_label),
        classification_label=labelled(labels.classification_label),
        channel_label=labelled(labels.channel_label),
        rejection_label=labelled(labels.rejection_label),
        similarity_label=labelled(labels.similarity_label),
        closing_label=labelled(labels.closing_label),
        stage_label=labelled(labels.stage_label),
        follow_up_kind_label=labelled(labels.follow_up_kind_label),
        deadline_state_label=labelled(labels.deadline_state_label),
        reader_label=labelled(labels.reader_label),
        read_label=labelled(labels.read_label),
        event_label=labelled(labels.event_label),
    )
    return env


def page_environment(templates: Path) -> Environment:
    """The environment of a service's HTML pages: everything escaped, block tags leave no
    blank lines, and the filters above."""
    return install(
        Environment(
            loader=FileSystemLoader(templates),
            autoescape=select_autoescape(["html"], default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
    )


def page_context(language: str | None) -> dict[str, Any]:
    lang = normalize_language(language)
    t = translator(lang)
    return {"t": t, "_": t, "lang": lang, "other_lang": "en" if lang == "id" else "id"}


def language_of(
    request: Any, cookie: str | None = "lapor_lang", *, accept_language: bool = False
) -> str:
    """The reader's language: `?lang=`, else the cookie a page set, else (for APIs that ask for
    it) `Accept-Language`, else Indonesian. Pages ignore the browser's language on purpose: a
    government site in Indonesia speaks Indonesian until the reader picks English."""
    asked = request.query_params.get("lang")
    if asked in ("id", "en"):
        return str(asked)
    if cookie:
        remembered = request.cookies.get(cookie)
        if remembered in ("id", "en"):
            return str(remembered)
    if not accept_language:
        return "id"
    accept = request.headers.get("accept-language", "")
    first = accept.split(",", 1)[0].strip()
    return normalize_language(first) if first else "id"
