"""GSM 03.38 (GSM-7), the one codec for every SMS LAPOR sends: what survives an SMS without
switching to UCS-2, how long it is on the air, and how to fit a text into one or a few parts.

Kannel sends GSM-7 unless told otherwise, and a character outside the alphabet either turns into
`?` on the handset or forces UCS-2 (70 characters per SMS instead of 160). Texts are therefore
made GSM-7-safe before they leave: accents are dropped where GSM-7 has no accented letter,
typographic quotes and dashes become plain ones, and anything else becomes `?`.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from typing import Literal

# 3GPP TS 23.038 default alphabet

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Sent as ESC + char: two septets each.
GSM7_EXTENSION = "\x0c^{}\\[~]|€"
_GSM7_SINGLE = frozenset(GSM7_BASIC) - {"\x1b"}
_GSM7_DOUBLE = frozenset(GSM7_EXTENSION)
_GSM7 = _GSM7_SINGLE | _GSM7_DOUBLE

SINGLE_GSM7 = 160
PART_GSM7 = 153
SINGLE_UCS2 = 70
PART_UCS2 = 67
ELLIPSIS = "..."

_TRANSLIT: Mapping[str, str] = {
    **dict.fromkeys("‘’‚‛′`´", "'"),
    **dict.fromkeys("“”„‟″«»", '"'),
    **dict.fromkeys("‐‑‒–—―−", "-"),
    "…": "...",
    "\t": " ",
    "•": "*",
    "·": ".",
    "⁄": "/",
    "×": "x",
    "÷": "/",
    "°": "o",
    "©": "(c)",
    "®": "(R)",
    "™": "TM",
    "¢": "c",
    "Œ": "OE",
    "œ": "oe",
    "Ð": "D",
    "ð": "d",
    "Đ": "D",
    "đ": "d",
    "Þ": "TH",
    "þ": "th",
    "Ł": "L",
    "ł": "l",
    "ı": "i",
}


def is_gsm7(text: str) -> bool:
    """True if every character is in the GSM-7 default alphabet or its extension table."""
    return all(c in _GSM7 for c in text)


def septet_length(text: str) -> int:
    """GSM-7 septets needed (extension characters count 2); ValueError if not GSM-7."""
    total = 0
    for char in text:
        if char in _GSM7_SINGLE:
            total += 1
        elif char in _GSM7_DOUBLE:
            total += 2
        else:
            raise ValueError(f"{char!r} is not a GSM-7 character")
    return total


def sms_encoding(text: str) -> Literal["gsm7", "ucs2"]:
    return "gsm7" if is_gsm7(text) else "ucs2"


def sms_segments(text: str) -> int:
    """How many SMS parts `text` takes: GSM-7 160 in one, else 153 per part; UCS-2 70, else 67.

    A part never splits an extension character's escape pair or a UTF-16 surrogate pair.
    An empty text is one (empty) SMS.
    """
    if is_gsm7(text):
        units = [2 if c in _GSM7_DOUBLE else 1 for c in text]
        single, part = SINGLE_GSM7, PART_GSM7
    else:
        units = [2 if ord(c) > 0xFFFF else 1 for c in text]
        single, part = SINGLE_UCS2, PART_UCS2
    if sum(units) <= single:
        return 1
    parts, used = 1, 0
    for unit in units:
        if used + unit > part:
            parts, used = parts + 1, 0
        used += unit
    return parts


def to_gsm7(text: str, replacement: str = "?") -> str:
    """Transliterate to GSM-7: curly quotes, dashes, accents, odd spaces; else `replacement`.

    Invisible format characters and stray combining marks are dropped.
    """
    if not is_gsm7(replacement):
        raise ValueError("the replacement must itself be GSM-7")
    return "".join(_gsm7_char(c, replacement) for c in text)


@lru_cache(maxsize=4096)
def _gsm7_char(char: str, replacement: str) -> str:
    if char in _GSM7:
        return char
    if char in _TRANSLIT:
        return _TRANSLIT[char]
    category = unicodedata.category(char)
    if category == "Zs":
        return " "
    if category in ("Cf", "Mn", "Mc", "Me"):
        return ""
    if category in ("Cc", "Zl", "Zp"):
        return "\n" if category != "Cc" else " "
    decomposed = unicodedata.normalize("NFKD", char)
    if decomposed != char:
        pieces = []
        for part in decomposed:
            if part in _GSM7:
                pieces.append(part)
            elif part in _TRANSLIT:
                pieces.append(_TRANSLIT[part])
            elif unicodedata.category(part).startswith("M"):
                continue
            else:
                break
        else:
            if pieces:
                return "".join(pieces)
    return replacement


def fit_one_sms(text: str, limit: int = SINGLE_GSM7) -> str:
    """`text` in GSM-7 within `limit` septets (one SMS), cut with "..." when too long.

    Prefers to cut at a space when one is near the end. Put what must survive (tracking ID,
    access code) first, or fit only the variable part:
    `head + fit_one_sms(body, 160 - septet_length(head))`.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1 septet")
    gsm = to_gsm7(text)
    if septet_length(gsm) <= limit:
        return gsm
    ellipsis = ELLIPSIS if limit > len(ELLIPSIS) else ""
    budget = limit - len(ellipsis)
    used, cut = 0, 0
    for i, char in enumerate(gsm):
        cost = 2 if char in _GSM7_DOUBLE else 1
        if used + cost > budget:
            break
        used += cost
        cut = i + 1
    head = gsm[:cut]
    space = max(head.rfind(" "), head.rfind("\n"))
    if ellipsis and space >= math.ceil(budget * 2 / 3):
        head = head[:space]
    return head.rstrip() + ellipsis


MAX_PARTS = 3  # the most parts a notice may take (Kannel's max-messages)


def one_line(text: str) -> str:
    """Collapse whitespace and line breaks: notices are single-line SMS."""
    return " ".join(text.split())


def fit(text: str, max_parts: int = MAX_PARTS) -> str:
    """`text` in GSM-7 within `max_parts` SMS, cut with "..." when too long."""
    limit = SINGLE_GSM7 if max_parts == 1 else PART_GSM7 * max_parts
    return fit_one_sms(text, limit)


def shorten(text: str, septet_budget: int) -> str:
    """A template filter: squeeze a free text (an agency's answer, a note) into a budget."""
    return fit_one_sms(one_line(to_gsm7(text)), septet_budget)


def sms_text(text: str, max_parts: int = MAX_PARTS) -> str:
    """A notice as it is sent: GSM-7, one line, at most `max_parts` parts."""
    return fit(one_line(to_gsm7(text)), max_parts)
