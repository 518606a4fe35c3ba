"""SMS 1708: the message grammar (DESIGN §5) and GSM-7 helpers for replies. Pure functions.

Grammar, tried in this order on the message with surrounding whitespace removed:
- `CEK <ID>` -> StatusQuery. The ID may contain spaces, hyphens or dots (`CEK ABCDE-FGHJK`).
- `BALAS <ID> <text>` -> Reply to a follow-up. The ID is one word (`ABCDE-FGHJK` is fine).
- `ESKALASI <ID>` -> Escalate the report to the Ombudsman RI (DESIGN §9). The ID as for `CEK`.
- `POLL <CODE> <CHOICE>` -> PollAnswer.
- `<REGION KEYWORD> <text>` -> NewReport for the keyword's region. Keywords may be several words,
  are matched case-insensitively, longest first, with any spacing between and inside the words
  (`TIMOR TENGAH UTARA`, `timor  tengah utara`, `KOTKUPANG`, `KOT KUPANG`; a `-`, `.` or `'`
  inside a name counts as a space: `TOLI-TOLI`, `KAB. MALANG`), and only as whole words
  (`KUPANGAN ...` does not match `KUPANG`). A `:`, `-`, `,`, `;`, `/` or `.` right after the
  keyword is dropped (`KUPANG: jalan rusak`). A bare name shared by a city and a regency
  (`MALANG`) names the city; the NewReport then carries the keywords of the others
  (`KAB MALANG`) for the reply. Matching walks a trie of the keywords' letters: its cost grows
  with the keyword's length, not with the number of keywords (every regency and city of
  Indonesia).
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
from typing import Any, Literal

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
    """A new report. `region_code`/`agency_hint` are None when no keyword matched.
    `alternatives`: the keywords of the other regions a bare name could mean (`KAB MALANG`)."""

    text: str
    region_code: str | None = None
    agency_hint: str | None = None
    keyword: str | None = None
    alternatives: tuple[str, ...] = ()
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
    alternatives: tuple[str, ...] = ()


_AFTER_KEYWORD = re.compile(r"^[\s:;,\-–—/.]+")
# Whitespace and invisible format characters (zero-width space/joiners, BOM) at either end.
_EDGE_CHARS = "".join(c for c in map(chr, range(0x10000)) if c.isspace()) + (
    "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
)


# Characters that may stand between (or inside) a keyword's words: spacing and name punctuation.
_SPACING = frozenset(" \t\r\n\u00a0-.'’`")
_END = ""  # the trie key that marks "a keyword ends here"


class SmsGrammar:
    """The 1708 grammar for one set of region keywords (build once, parse many)."""

    def __init__(self, keywords: Mapping[str, KeywordTarget]) -> None:
        self._targets: dict[str, KeywordTarget] = {}
        # A trie over the keywords' letters and digits without spaces: `KOTA KUPANG` and
        # `KOTAKUPANG` are one path; its end holds the keyword.
        self._trie: dict[str, Any] = {}
        for raw, target in keywords.items():
            keyword = " ".join(raw.split()).upper()
            if not keyword:
                continue
            self._targets[keyword] = target
            node = self._trie
            for char in keyword.replace(" ", ""):
                node = node.setdefault(char, {})
            node.setdefault(_END, keyword)  # two spellings of one path: the first listed wins

    @classmethod
    def from_directory(cls, directory: Directory) -> SmsGrammar:
        targets = {}
        for keyword in directory.keywords():
            inst = directory.institution_for_keyword(keyword)
            if inst is not None:
                others = tuple(k for k, _ in directory.alternatives(keyword))
                targets[keyword] = KeywordTarget(inst.region_code, inst.code, others)
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
        node = self._trie
        best: tuple[str, int] | None = None
        pos = 0
        length = len(text)
        while pos < length:
            char = text[pos]
            if char in _SPACING and node is not self._trie:
                pos += 1
                continue
            child = node.get(char.upper()) if char.isascii() else None
            if child is None:
                break
            node = child
            pos += 1
            keyword = node.get(_END)
            if keyword is not None and (pos == length or not _is_word_char(text[pos])):
                best = (keyword, pos)
        return best

    def _report(self, text: str) -> SmsMessage:
        found = self.match_keyword(text)
        if found is None:
            return NewReport(text)
        keyword, end = found
        body = _AFTER_KEYWORD.sub("", text[end:]).strip()
        if not body:
            return Invalid("missing_text", f"keyword {keyword} is not followed by a report")
        target = self._targets[keyword]
        return NewReport(body, target.region_code, target.agency_code, keyword, target.alternatives)


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
