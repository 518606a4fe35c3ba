"""SMS 1708: the message grammar (DESIGN §5) and GSM-7 helpers for replies. Pure functions.

Grammar, tried in this order on the message with surrounding whitespace removed:
- `CEK <ID>` -> StatusQuery. The ID may contain spaces, hyphens or dots (`CEK ABCDE-FGHJK`).
- `BALAS <ID> <text>` -> Reply to a follow-up. The ID is one word (`ABCDE-FGHJK` is fine).
- `ESKALASI <ID>` -> Escalate the report to the Ombudsman RI (DESIGN §9). The ID as for `CEK`.
- `POLL <CODE> <CHOICE>` -> PollAnswer.
- `<REGION KEYWORD> <text>` -> NewReport for the keyword's region. Keywords may be several words,
  are matched case-insensitively, longest first, with any run of whitespace between words, and
  only as whole words (`KUPANGAN ...` does not match `KUPANG`). A `:`, `-`, `,`, `;`, `/` or `.`
  right after the keyword is dropped (`KUPANG: jalan rusak`).
- anything else -> NewReport without a region: the national desk handles it.
Command words are matched case-insensitively as the first word. Anything unusable -> Invalid,
with a machine `code` (for choosing a reply) and a `reason` in English (for logs).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from shared.directory.model import Directory
from shared.reports.tracking import InvalidTrackingId, normalize_tracking_id

MAX_TEXT = 10_000  # ReportSubmitted.body limit
MAX_CHOICE = 100
POLL_CODE_RE = re.compile(r"^[A-Z0-9]+(?:-[A-Z0-9]+)*$")
POLL_CODE_MAX = 32

CMD_STATUS = "CEK"
CMD_REPLY = "BALAS"
CMD_POLL = "POLL"
CMD_ESCALATE = "ESKALASI"
COMMANDS: frozenset[str] = frozenset({CMD_STATUS, CMD_REPLY, CMD_POLL, CMD_ESCALATE})

# A reply that explains the format, in GSM-7 and within one SMS.
HELP_TEXT = (
    "Format SMS 1708: NAMA WILAYAH (spasi) isi laporan, mis. KUPANG jalan rusak. "
    "Cek status: CEK ID. Balas tindak lanjut: BALAS ID pesan."
)

InvalidCode = Literal[
    "empty",
    "too_long",
    "missing_text",
    "missing_tracking_id",
    "bad_tracking_id",
    "bad_poll_code",
    "missing_choice",
]


@dataclass(frozen=True, slots=True)
class NewReport:
    """A new report. `region_code`/`agency_hint` are None when no keyword matched."""

    text: str
    region_code: str | None = None
    agency_hint: str | None = None
    keyword: str | None = None
    kind: Literal["new_report"] = field(default="new_report", init=False)


@dataclass(frozen=True, slots=True)
class StatusQuery:
    tracking_id: str
    kind: Literal["status_query"] = field(default="status_query", init=False)


@dataclass(frozen=True, slots=True)
class Reply:
    tracking_id: str
    text: str
    kind: Literal["reply"] = field(default="reply", init=False)


@dataclass(frozen=True, slots=True)
class Escalate:
    tracking_id: str
    kind: Literal["escalate"] = field(default="escalate", init=False)


@dataclass(frozen=True, slots=True)
class PollAnswer:
    """`code` upper-cased; `choice` as sent, whitespace collapsed (matching is the poll's job)."""

    code: str
    choice: str
    kind: Literal["poll_answer"] = field(default="poll_answer", init=False)


@dataclass(frozen=True, slots=True)
class Invalid:
    code: InvalidCode
    reason: str
    kind: Literal["invalid"] = field(default="invalid", init=False)


SmsMessage = NewReport | StatusQuery | Reply | Escalate | PollAnswer | Invalid


@dataclass(frozen=True, slots=True)
class KeywordTarget:
    region_code: str | None
    agency_code: str


_LEADING_ALNUM = re.compile(r"[A-Za-z0-9]+")
_AFTER_KEYWORD = re.compile(r"^[\s:;,\-–—/.]+")
# Whitespace and invisible format characters (zero-width space/joiners, BOM) at either end.
_EDGE_CHARS = "".join(c for c in map(chr, range(0x10000)) if c.isspace()) + (
    "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
)


class SmsGrammar:
    """The 1708 grammar for one set of region keywords (build once, parse many)."""

    def __init__(self, keywords: Mapping[str, KeywordTarget]) -> None:
        self._targets: dict[str, KeywordTarget] = {}
        index: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for raw, target in keywords.items():
            keyword = " ".join(raw.split()).upper()
            if not keyword:
                continue
            tokens = tuple(keyword.split(" "))
            self._targets[keyword] = target
            index.setdefault(tokens[0], []).append((keyword, tokens))
        for candidates in index.values():
            candidates.sort(key=lambda kt: (-len(kt[0]), kt[0]))
        self._index = index

    @classmethod
    def from_directory(cls, directory: Directory) -> SmsGrammar:
        targets = {}
        for keyword in directory.keywords():
            inst = directory.institution_for_keyword(keyword)
            if inst is not None:
                targets[keyword] = KeywordTarget(inst.region_code, inst.code)
        return cls(targets)

    def parse(self, message: str) -> SmsMessage:
        text = message.strip(_EDGE_CHARS)
        if not text:
            return Invalid("empty", "the message is empty")
        if len(text) > MAX_TEXT:
            return Invalid("too_long", f"the message is longer than {MAX_TEXT} characters")
        parts = text.split(None, 1)
        first, rest = parts[0], parts[1] if len(parts) > 1 else ""
        command = first.upper() if first.isascii() else ""
        if command == CMD_STATUS:
            return _status(rest)
        if command == CMD_REPLY:
            return _reply(rest)
        if command == CMD_POLL:
            return _poll(rest)
        if command == CMD_ESCALATE:
            return _escalate(rest)
        return self._report(text)

    def match_keyword(self, text: str) -> tuple[str, int] | None:
        """The longest keyword at the start of `text` as whole words, and where it ends."""
        lead = _LEADING_ALNUM.match(text)
        if lead is None:
            return None
        for keyword, tokens in self._index.get(lead.group().upper(), ()):
            end = _match_tokens(text, tokens)
            if end is not None:
                return keyword, end
        return None

    def _report(self, text: str) -> SmsMessage:
        found = self.match_keyword(text)
        if found is None:
            return NewReport(text)
        keyword, end = found
        body = _AFTER_KEYWORD.sub("", text[end:]).strip()
        if not body:
            return Invalid("missing_text", f"keyword {keyword} is not followed by a report")
        target = self._targets[keyword]
        return NewReport(body, target.region_code, target.agency_code, keyword)


def parse_sms(message: str, grammar: SmsGrammar | Directory) -> SmsMessage:
    """Parse one SMS sent to 1708. Never raises."""
    if isinstance(grammar, Directory):
        grammar = _grammar_for(grammar)
    return grammar.parse(message)


@lru_cache(maxsize=8)
def _grammar_for(directory: Directory) -> SmsGrammar:
    return SmsGrammar.from_directory(directory)


def _is_word_char(char: str) -> bool:
    return char.isalnum() or unicodedata.category(char).startswith("M")


def _match_tokens(text: str, tokens: tuple[str, ...]) -> int | None:
    pos = 0
    for i, token in enumerate(tokens):
        if i:
            start = pos
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos == start:
                return None
        piece = text[pos : pos + len(token)]
        if not (piece.isascii() and piece.upper() == token):
            return None
        pos += len(token)
    if pos < len(text) and _is_word_char(text[pos]):
        return None
    return pos


def _tracking_id(raw: str) -> str | Invalid:
    try:
        return normalize_tracking_id(raw)
    except InvalidTrackingId as exc:
        return Invalid("bad_tracking_id", f"tracking ID {raw!r}: {exc}")


def _status(rest: str) -> SmsMessage:
    if not rest.strip():
        return Invalid("missing_tracking_id", "CEK needs a tracking ID: CEK <ID>")
    result = _tracking_id(rest.strip())
    return result if isinstance(result, Invalid) else StatusQuery(result)


def _escalate(rest: str) -> SmsMessage:
    if not rest.strip():
        return Invalid("missing_tracking_id", "ESKALASI needs a tracking ID: ESKALASI <ID>")
    result = _tracking_id(rest.strip())
    return result if isinstance(result, Invalid) else Escalate(result)


def _reply(rest: str) -> SmsMessage:
    parts = rest.split(None, 1)
    if not parts:
        return Invalid("missing_tracking_id", "BALAS needs a tracking ID: BALAS <ID> <text>")
    result = _tracking_id(parts[0])
    if isinstance(result, Invalid):
        return result
    text = parts[1].strip() if len(parts) > 1 else ""
    if not text:
        return Invalid("missing_text", "BALAS needs a message after the tracking ID")
    return Reply(result, text)


def _poll(rest: str) -> SmsMessage:
    parts = rest.split(None, 1)
    if not parts:
        return Invalid("bad_poll_code", "POLL needs a poll code and a choice: POLL <CODE> <CHOICE>")
    code = parts[0].upper()
    if not (code.isascii() and len(code) <= POLL_CODE_MAX and POLL_CODE_RE.fullmatch(code)):
        return Invalid("bad_poll_code", f"poll code {parts[0]!r} must be letters, digits and -")
    choice = " ".join(parts[1].split()) if len(parts) > 1 else ""
    if not choice:
        return Invalid("missing_choice", "POLL needs a choice after the poll code")
    if len(choice) > MAX_CHOICE:
        return Invalid("missing_choice", f"the poll choice is longer than {MAX_CHOICE} characters")
    return PollAnswer(code, choice)
