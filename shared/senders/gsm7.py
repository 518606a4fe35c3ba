"""GSM 03.38 (GSM-7): what survives an SMS without switching to UCS-2, and how long it is.

Kannel sends GSM-7 unless told otherwise, and a character outside the alphabet either turns into
`?` on the handset or forces UCS-2 (70 characters per SMS instead of 160). Notices are therefore
made GSM-7-safe before they leave: accents are dropped where GSM-7 has no accented letter,
typographic quotes and dashes become plain ones, and anything else becomes `?`.
"""

from __future__ import annotations

import unicodedata

BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION = "^{}\\[~]|€\f"
_BASIC = frozenset(BASIC)
_EXTENSION = frozenset(EXTENSION)

SINGLE_SMS_SEPTETS = 160
PART_SEPTETS = 153  # a concatenated part loses 7 septets to the user data header
MAX_PARTS = 3

_REPLACEMENTS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "`": "'",
    "\u00b4": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\t": " ",
    "\u2022": "-",
    "\u00b7": "-",
}


def is_gsm7(text: str) -> bool:
    return all(c in _BASIC or c in _EXTENSION for c in text)


def septets(text: str) -> int:
    """Length on the air: extension characters take two septets."""
    return sum(2 if c in _EXTENSION else 1 for c in text)


def parts(text: str) -> int:
    length = septets(text)
    if length <= SINGLE_SMS_SEPTETS:
        return 1
    return -(-length // PART_SEPTETS)


def to_gsm7(text: str) -> str:
    """Map any text onto the GSM-7 alphabet, losing as little as possible."""
    out: list[str] = []
    for char in text:
        if char in _BASIC or char in _EXTENSION:
            out.append(char)
            continue
        if char in _REPLACEMENTS:
            out.append(_REPLACEMENTS[char])
            continue
        decomposed = unicodedata.normalize("NFKD", char)
        stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
        if stripped and all(c in _BASIC or c in _EXTENSION for c in stripped):
            out.append(stripped)
        elif unicodedata.category(char).startswith("Z"):
            out.append(" ")
        else:
            out.append("?")
    return "".join(out)


def one_line(text: str) -> str:
    """Collapse whitespace and line breaks: notices are single-line SMS."""
    return " ".join(text.split())


def fit(text: str, max_parts: int = MAX_PARTS) -> str:
    """Cut a GSM-7 text to at most `max_parts` SMS, ending a cut text with `...`."""
    limit = SINGLE_SMS_SEPTETS if max_parts == 1 else PART_SEPTETS * max_parts
    if septets(text) <= limit:
        return text
    budget = limit - 3
    out: list[str] = []
    used = 0
    for char in text:
        cost = 2 if char in _EXTENSION else 1
        if used + cost > budget:
            break
        out.append(char)
        used += cost
    return "".join(out).rstrip() + "..."


def shorten(text: str, septet_budget: int) -> str:
    """A template filter: squeeze a free text (an agency's answer, a note) into a budget."""
    text = one_line(to_gsm7(text))
    if septets(text) <= septet_budget:
        return text
    out: list[str] = []
    used = 0
    for char in text:
        cost = 2 if char in _EXTENSION else 1
        if used + cost > septet_budget - 3:
            break
        out.append(char)
        used += cost
    return "".join(out).rstrip() + "..."


def sms_text(text: str, max_parts: int = MAX_PARTS) -> str:
    return fit(one_line(to_gsm7(text)), max_parts)
