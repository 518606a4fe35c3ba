"""Notices from Jinja2 templates and the shared catalogs (`shared/i18n`), in Bahasa Indonesia and
English.

Each notice is one file, `templates/<name>.txt.j2`, with up to three blocks: `subject` (the
e-mail subject), `sms` (one short line; made single-line and GSM-7 here as well, and cut to at
most three concatenated SMS; staff notices, which go by e-mail only, leave it out) and `text`
(the e-mail text part and the message on WhatsApp, Messenger, Instagram and X). The words come
from the catalogs (`t("notice.…")`), dates and times are said the one way of `shared.i18n.dates`.
The HTML part of an e-mail is `templates/email.html.j2` (autoescaped) around the same text, so
the two parts never say different things.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from shared.i18n import LANGUAGES, normalize_language
from shared.i18n.jinja import install, page_context
from shared.senders.base import Message
from shared.senders.mail_threads import reply_address
from shared.sms.gsm7 import shorten, sms_text

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
NOTICES = tuple(sorted(p.name.removesuffix(".txt.j2") for p in TEMPLATES_DIR.glob("*.txt.j2")))


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
    return install(env)


def _block(source: Any, ctx: Any, name: str) -> str | None:
    block = source.blocks.get(name)
    return None if block is None else "".join(block(ctx))


class Renderer:
    """`reply_address`: where LAPOR reads replies (intake's e-mail channel,
    `LAPOR_INTAKE_EMAIL_FROM`); without it a notice does not invite a reply."""

    def __init__(self, reply_address: str | None = None) -> None:
        self._text = _environment(autoescape=False)
        self._html = _environment(autoescape=True)
        self.reply_address = reply_address

    def render(self, template: str, language: str, context: dict[str, Any]) -> Message:
        language = normalize_language(language if language in LANGUAGES else "id")
        source = self._text.get_template(f"{template}.txt.j2")
        words = page_context(language)
        tracking_id = context.get("tracking_id")
        replyable = bool(context.get("replyable")) and self.reply_address is not None
        context = {**context, "replyable": replyable}
        values = {"language": language, **context, **words}
        ctx = source.new_context(values)
        subject = " ".join((_block(source, ctx, "subject") or "").split())
        text = (_block(source, ctx, "text") or "").strip() + "\n"
        text = "\n\n".join(_paragraphs(text)) + "\n"
        sms = sms_text(_block(source, ctx, "sms") or subject)
        t = words["t"]
        # A reporter may answer a notice by replying to its e-mail (it lands on the report);
        # staff notices come from a mailbox nobody reads.
        footer = t("notice.footer.reply") if context.get("replyable") else t("notice.footer")
        html = self._html.get_template("email.html.j2").render(
            language=language,
            subject=subject,
            paragraphs=[p.split("\n") for p in _paragraphs(text)],
            link=context.get("rate_url") or context.get("report_url"),
            rate=bool(context.get("rate_url")),
            footer=footer,
            **words,
        )
        return Message(
            subject=subject,
            text=f"{text}\n--\n{footer}\n",
            html=html,
            sms=sms,
            language=language,
            tracking_id=tracking_id if isinstance(tracking_id, str) else None,
            reply_to=(
                reply_address(self.reply_address, tracking_id)
                if replyable and self.reply_address and isinstance(tracking_id, str)
                else None
            ),
        )


def _paragraphs(text: str) -> list[str]:
    """Paragraphs without blank-line runs (conditional parts of a template leave them)."""
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n")]
    return [b for b in blocks if b]
