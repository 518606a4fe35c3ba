"""Notices from Jinja2 templates, in Bahasa Indonesia and English.

Each notice is one file per language, `templates/<lang>/<name>.txt.j2`, with three blocks:
`subject` (e-mail subject), `sms` (one short GSM-7-safe line; made single-line and GSM-7 here as
well, and cut to at most three concatenated SMS) and `text` (the e-mail text part and the message
on WhatsApp, Messenger, Instagram and X). The HTML part of an e-mail is `templates/email.html.j2`
(autoescaped) around the same text, so the two parts never say different things.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from shared.senders.base import Message
from shared.sms.gsm7 import shorten, sms_text

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
LANGUAGES = ("id", "en")

_MONTHS = {
    "id": (
        "Januari",
        "Februari",
        "Maret",
        "April",
        "Mei",
        "Juni",
        "Juli",
        "Agustus",
        "September",
        "Oktober",
        "November",
        "Desember",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}


def long_date(value: str | date | None, language: str = "id") -> str:
    """`2026-12-01` -> `1 Desember 2026` (or `1 December 2026`)."""
    if value is None:
        return ""
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    months = _MONTHS.get(language, _MONTHS["id"])
    return f"{day.day} {months[day.month - 1]} {day.year}"


def _environment(autoescape: bool) -> Environment:
    # Text and SMS are plain text, not HTML; the HTML environment autoescapes.
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=autoescape,  # noqa: S701
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["shorten"] = shorten
    env.filters["long_date"] = long_date
    return env


class Renderer:
    def __init__(self) -> None:
        self._text = _environment(autoescape=False)
        self._html = _environment(autoescape=True)

    def render(self, template: str, language: str, context: dict[str, Any]) -> Message:
        language = language if language in LANGUAGES else "id"
        source = self._text.get_template(f"{language}/{template}.txt.j2")
        values = {"language": language, **context}
        ctx = source.new_context(values)
        subject = " ".join("".join(source.blocks["subject"](ctx)).split())
        sms = sms_text("".join(source.blocks["sms"](ctx)))
        text = "".join(source.blocks["text"](ctx)).strip() + "\n"
        paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
        html = self._html.get_template("email.html.j2").render(
            language=language,
            subject=subject,
            paragraphs=[p.split("\n") for p in paragraphs],
            link=context.get("rate_url") or context.get("report_url"),
            rate=bool(context.get("rate_url")),
        )
        footer = {
            "id": "Pesan ini dikirim otomatis oleh LAPOR! (SP4N). Mohon tidak membalas e-mail ini.",
            "en": "This message was sent automatically by LAPOR! (SP4N). Please do not reply.",
        }[language]
        return Message(
            subject=subject,
            text=f"{text}\n--\n{footer}\n",
            html=html,
            sms=sms,
            language=language,
        )
