"""Replies to LAPOR's own mails, and headers that cannot be trusted as they come.

A mail answering one of LAPOR's (the confirmation intake sends, a notice notify sends) is the
reporter's answer on that report, never a new report. It is recognised by the report it names:
the `In-Reply-To` / `References` Message-IDs LAPOR gave its mails (`<lapor-<ID>-…@…>`), the
reply-to address carrying the ID (`lapor+<ID>@…`), or the `[LAPOR! <ID>]` in the subject. Only the
reporter's own address (the one in the report's encrypted contact) may answer; the answer keeps
only what they wrote: quoted text, the quoted original's header and a signature are cut off,
and anything that checks as the report's access code is blacked out, so a code quoted from the
confirmation never reaches the report's timeline.

Header values are decoded (RFC 2047) before use: one that decodes to a line break or another
control character is not used at all (a Message-ID) or refuses the mail (a From), rather than
crash the reply or make the sending server retry forever.

Hand-written on purpose: the one library for this (`email-reply-parser`, last released 2020)
knows only English clients' "On … wrote:"; Indonesian mail clients say "Pada … menulis:".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.message import EmailMessage

from shared.auth import access_code_matches
from shared.reports.tracking import ALPHABET, is_valid_tracking_id

_ID = f"[{ALPHABET}]{{10}}"
_MESSAGE_ID = re.compile(rf"<lapor-({_ID})-[^<>\s]*@[^<>\s]+>", re.IGNORECASE)
_PLUS_ADDRESS = re.compile(rf"\+({_ID})@", re.IGNORECASE)
_SUBJECT = re.compile(rf"\[LAPOR!?\s+({_ID})\]", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CODE = re.compile(rf"\b[{ALPHABET}]{{8}}\b")
_CLEAN_MESSAGE_ID = re.compile(r"^<[^<>\s]{1,250}>$")

# Where a client starts quoting the mail it answers (English and Indonesian clients).
_QUOTE_HEADERS = (
    re.compile(r"^\s*On\b.*\bwrote:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Pada\b.*\bmenulis:\s*$", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*(Original Message|Pesan Asli|Forwarded message)\s*-{2,}", re.I),
    re.compile(r"^\s*(From|Dari):\s.+$", re.IGNORECASE),
    re.compile(r"^_{10,}\s*$"),
)
# Where a signature starts (RFC 3676 "-- ", and what phones add).
_SIGNATURE = (
    re.compile(r"^-- ?$"),
    re.compile(r"^\s*(Sent from|Dikirim dari|Get Outlook for|Sent with)\b", re.IGNORECASE),
)


def single_line(value: object) -> str | None:
    """A decoded header value as one line, or None when it decodes to a line break or another
    control character (or is empty)."""
    if value is None:
        return None
    text = str(value).strip()
    if not text or _CONTROL.search(text):
        return None
    return text


def header(message: EmailMessage, name: str) -> str | None:
    """A header's decoded value as one line; None when it is missing, cannot be parsed (an
    address with an encoded line break raises in the parser) or decodes to a control character."""
    try:
        value = message.get(name)
    except (ValueError, TypeError, IndexError, LookupError, AttributeError):
        return None
    return single_line(value)


def message_id(message: EmailMessage) -> str | None:
    """The mail's Message-ID if it is a clean `<…>` token (else the mail has none for us)."""
    value = header(message, "Message-ID")
    return value if value is not None and _CLEAN_MESSAGE_ID.match(value) else None


def named_report(message: EmailMessage, recipients: Iterable[str]) -> str | None:
    """The tracking ID of the LAPOR mail this one answers, if it answers one."""
    found: list[str] = []
    for name in ("In-Reply-To", "References"):
        value = header(message, name) or ""
        found += [m.group(1).upper() for m in _MESSAGE_ID.finditer(value)]
    for address in recipients:
        found += [m.group(1).upper() for m in _PLUS_ADDRESS.finditer(address)]
    subject = header(message, "Subject") or ""
    found += [m.group(1).upper() for m in _SUBJECT.finditer(subject)]
    return next((tid for tid in found if is_valid_tracking_id(tid)), None)


def what_they_wrote(text: str) -> str:
    """The reply without the quoted mail and without a signature."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.lstrip().startswith(">"):
            break
        if any(p.match(line) for p in _QUOTE_HEADERS) or any(p.match(line) for p in _SIGNATURE):
            break
        kept.append(line)
    return "\n".join(kept).strip()


def without_access_code(text: str, secret: bytes, tracking_id: str, code_hash: str | None) -> str:
    """Black out anything that checks as the report's access code."""
    if not code_hash:
        return text

    def hide(match: re.Match[str]) -> str:
        word = match.group(0)
        if access_code_matches(secret, tracking_id, word, code_hash):
            return "\u2022" * len(word)
        return word

    return _CODE.sub(hide, text)
