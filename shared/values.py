"""Value types more than one context uses (reports and polls): channels, attached files and
phone numbers."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


class Channel(StrEnum):
    WEB = "web"
    MOBILE = "mobile"
    SMS = "sms"
    EMAIL = "email"
    WHATSAPP = "whatsapp"
    TWITTER = "twitter"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    OPEN311 = "open311"
    OFFLINE = "offline"


class Attachment(BaseModel):
    model_config = ConfigDict(frozen=True)

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    name: str = Field(max_length=255)
    media_type: str = Field(max_length=127)
    size: int = Field(ge=0)


_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}


def unnamed(files: tuple[Attachment, ...]) -> tuple[Attachment, ...]:
    """An anonymous reporter's files under names that say nothing of them ("lampiran-1.jpg"): a
    file name ("KTP Budi Santoso.jpg", "surat-kades-oesapa.pdf") can name who reported."""
    return tuple(
        file.model_copy(update={"name": f"lampiran-{n}{_EXTENSIONS.get(file.media_type, '.pdf')}"})
        for n, file in enumerate(files, 1)
    )


_PHONE_SEPARATORS = re.compile(r"[\s\-().]")


# Characters no one types on purpose in a report: C0 and C1 controls (but tab, line feed and
# carriage return), DEL, and the bidirectional embeddings, overrides and isolates, which can make
# a title read backwards on a page (U+202A-U+202E, U+2066-U+2069). The directional marks (LRM,
# RLM, ALM) stay: Arabic-script text (Jawi) may need them.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def without_invisible(text: str) -> str:
    """A citizen's text without the characters above (what they could not see they sent)."""
    return _INVISIBLE.sub("", text)


def visible_text(value: object) -> object:
    """`without_invisible` for a validator: anything that is not a string goes on unchanged, for
    the model to refuse by name."""
    return without_invisible(value) if isinstance(value, str) else value


# A person's words in a model (a citizen's report, an officer's follow-up or note: both are read
# by people), without the characters above: `Annotated[str, Visible]`.
Visible = BeforeValidator(visible_text)


def normalize_phone(raw: str | None) -> str | None:
    """An Indonesian-aware E.164 form (`0812…`, `62812…`, `+62 812-…` -> `+62812…`), or None.

    Alphanumeric senders (an operator's name) are not phone numbers: None.
    """
    if not raw:
        return None
    text = _PHONE_SEPARATORS.sub("", raw.strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    plus = text.startswith("+")
    digits = text[1:] if plus else text
    if not digits.isdigit() or not 6 <= len(digits) <= 15:
        return None
    if plus:
        return "+" + digits
    if digits.startswith("0"):
        return "+62" + digits[1:]
    return "+" + digits
