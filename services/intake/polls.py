"""Policy-opinion polls (Pendapat Kebijakan) in intake: the HTTP API, the citizen's web pages, the
SMS answer (`POLL <CODE> <CHOICE>`), the one-time codes that verify a citizen, and the polls view.

- Commands go through `PollRepository` (load `poll-<CODE>`, `shared.polls.lifecycle.decide`, append
  with the expected version); every rule lives in the domain module.
- A citizen is verified before answering: on the web by a 6-digit code sent to their phone (SMS
  through Kannel's sendsms) or e-mail (SMTP), with notify's channel senders; by SMS the number
  the telco delivered is the identity. Only a keyed hash of the identity and the poll code
  (`voter_hash`) is stored. Codes are stored hashed, expire, and allow a few tries.
- The polls view (`intake-polls.db`) is kept by a follower of the store inside intake; it holds
  polls, published results and responses, never an answer: running tallies do not exist anywhere
  before `PollClosed` + `PollResultsPublished`, which the domain appends together.
- Polls close at `closes_at` by a ticker (`LAPOR_POLLS_TICK_SECONDS`) and lazily when someone
  asks for the results or the institution responds.

No `from __future__ import annotations`: FastAPI resolves the route signatures that refer to
dependencies defined inside `routers`.
"""

import asyncio
import contextlib
import hmac
import json
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.datastructures import FormData

from services.intake import regions
from services.intake.attachments import AttachmentRejected
from services.intake.channels.common import Sender, normalize_phone
from services.intake.limits import client_address, enforce, too_many
from shared.auth import Principal, Role
from shared.clock import Clock
from shared.crypto import keyed_hash
from shared.events.base import Actor, UnknownEventType
from shared.http.common import correlation_id
from shared.http.csrf import FIELD as CSRF_FIELD
from shared.http.csrf import Csrf
from shared.http.security import PUBLIC_PAGE_HEADERS
from shared.logs import get_logger
from shared.polls.events import (
    AGENCY_PATTERN,
    BALLOT_EVENTS,
    MAX_COMMENT,
    POLL_STREAM_PREFIX,
    REGION_PATTERN,
    AgencyResponsePublished,
    Answers,
    OpinionChanged,
    PollChoice,
    PollClosed,
    PollOpened,
    PollQuestion,
    PollResultsPublished,
    QuestionKind,
)
from shared.polls.lifecycle import (
    POLLS,
    ClosePoll,
    Command,
    InvalidAnswer,
    NotYourPoll,
    OpenPoll,
    PollCodeTaken,
    PollError,
    PollNotFound,
    PollNotOpen,
    PollState,
    PublishResponse,
    ResponseNotAllowed,
    ResultsSealed,
    SubmitOpinion,
    check_open,
    choice_keys,
    decide,
    parse_sms_choice,
    read_results,
    sms_example,
)
from shared.privacy import mask_email, mask_phone
from shared.reports.tracking import ALPHABET
from shared.runtime.bus import Periodic, Service
from shared.runtime.projection import Projector, ViewReader
from shared.runtime.repository import Meta, Repository
from shared.runtime.service import Context
from shared.senders.base import Address, Message, SendError
from shared.senders.kannel import KannelSms
from shared.senders.settings import SenderSettings
from shared.senders.smtp import SmtpEmail
from shared.store.port import (
    EventStore,
    RecordedEvent,
    StoreError,
    WrongExpectedVersion,
)
from shared.values import Attachment, Channel

if TYPE_CHECKING:
    from services.intake.channels.common import ChannelDesk
    from services.intake.usecases import Intake

log = get_logger(__name__)

VIEW_NAME = "intake-polls"
HERE = Path(__file__).parent
CODE_LENGTH = 5
WEB_BASE = "/jajak-pendapat"
SYSTEM = Actor(kind="system", id="intake-polls")
VOTER = Actor(kind="citizen", id="voter")


class PollSettings(BaseSettings):
    """Polls' knobs (`LAPOR_POLL*`); the senders use LAPOR_SMS_SENDSMS_URL / LAPOR_SMTP_URL."""

    model_config = SettingsConfigDict(env_prefix="LAPOR_", extra="ignore")

    polls_tick_seconds: float = Field(
        default=30.0, gt=0, description="How often intake closes polls past their closes_at"
    )
    poll_code_ttl_seconds: int = Field(default=600, ge=30, description="A one-time code's life")
    poll_code_attempts: int = Field(default=5, ge=1, le=20, description="Tries per code")
    poll_code_sends: int = Field(
        default=3, ge=1, le=20, description="Codes per identity and poll within one code's life"
    )


# --- the use case -----------------------------------------------------------------------------
class PollRepository(Repository[PollState | None, Command]):
    """Load a poll's stream, decide, append with the expected version."""

    def __init__(self, store: EventStore, clock: Clock) -> None:
        super().__init__(store, clock, POLLS)

    async def state(self, code: str) -> PollState | None:
        state, _ = await self.load(code)
        return state

    async def close_if_due(self, code: str, cid: str) -> list[RecordedEvent]:
        """Close a poll whose closes_at has passed (idempotent: fixed event ids, retries)."""
        state = await self.state(code)
        now = self.clock.now()
        if state is None or not state.close_due(now):
            return []
        meta = Meta(actor=SYSTEM, correlation_id=cid, idempotency_key=f"intake:poll-close:{code}")
        return await self.execute(code, ClosePoll(now=now), meta, retry_on_conflict=True)


# --- the polls view ---------------------------------------------------------------------------
SCHEMA = """
CREATE TABLE IF NOT EXISTS polls (
    code TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    policy_text TEXT NOT NULL,
    attachment TEXT,
    questions TEXT NOT NULL,
    allow_comment INTEGER NOT NULL,
    region_code TEXT,
    agency_code TEXT NOT NULL,
    opens_at TEXT NOT NULL,
    closes_at TEXT NOT NULL,
    opens_ts REAL NOT NULL,
    closes_ts REAL NOT NULL,
    opened_at TEXT NOT NULL,
    closed_at TEXT,
    close_reason TEXT,
    position INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS polls_open ON polls (closed_at, closes_ts);
CREATE TABLE IF NOT EXISTS poll_results (
    code TEXT PRIMARY KEY,
    total_voters INTEGER NOT NULL,
    tallies TEXT NOT NULL,
    by_region TEXT NOT NULL,
    by_channel TEXT NOT NULL,
    comments TEXT NOT NULL,
    published_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS poll_responses (
    code TEXT PRIMARY KEY,
    agency_code TEXT NOT NULL,
    text TEXT NOT NULL,
    attachment TEXT,
    published_at TEXT NOT NULL
);
"""
TABLES = ("polls", "poll_results", "poll_responses")


def _json(model: BaseModel | None) -> str | None:
    return None if model is None else model.model_dump_json()


def apply(conn: sqlite3.Connection, event: RecordedEvent) -> None:
    """Polls, results and responses; answers are never stored here (sealed until closing)."""
    if not event.stream.startswith(POLL_STREAM_PREFIX) or event.event_type in BALLOT_EVENTS:
        return
    code = event.stream.removeprefix(POLL_STREAM_PREFIX)
    at = event.occurred_at.isoformat()
    try:
        payload = event.payload()
    except UnknownEventType:
        return
    if isinstance(payload, PollOpened):
        conn.execute(
            "INSERT OR IGNORE INTO polls (code, title, policy_text, attachment, questions,"
            " allow_comment, region_code, agency_code, opens_at, closes_at, opens_ts, closes_ts,"
            " opened_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                code,
                payload.title,
                payload.policy_text,
                _json(payload.attachment),
                json.dumps([q.model_dump(mode="json") for q in payload.questions]),
                int(payload.allow_comment),
                payload.region_code,
                payload.agency_code,
                payload.opens_at.isoformat(),
                payload.closes_at.isoformat(),
                payload.opens_at.timestamp(),
                payload.closes_at.timestamp(),
                at,
                event.position,
            ),
        )
    elif isinstance(payload, PollClosed):
        conn.execute(
            "UPDATE polls SET closed_at = ?, close_reason = ? WHERE code = ? AND closed_at IS NULL",
            (payload.closed_at.isoformat(), payload.reason.value, code),
        )
    elif isinstance(payload, PollResultsPublished):
        conn.execute(
            "INSERT OR IGNORE INTO poll_results (code, total_voters, tallies, by_region,"
            " by_channel, comments, published_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                code,
                payload.total_voters,
                json.dumps(payload.tallies),
                json.dumps({k: v.model_dump(mode="json") for k, v in payload.by_region.items()}),
                json.dumps(payload.by_channel),
                json.dumps([c.model_dump(mode="json") for c in payload.comments]),
                at,
            ),
        )
    elif isinstance(payload, AgencyResponsePublished):
        conn.execute(
            "INSERT OR IGNORE INTO poll_responses (code, agency_code, text, attachment,"
            " published_at) VALUES (?, ?, ?, ?, ?)",
            (code, payload.agency_code, payload.text, _json(payload.attachment), at),
        )


def create_projector(data_dir: Path) -> Projector:
    return Projector(data_dir / f"{VIEW_NAME}.db", VIEW_NAME, SCHEMA, apply, TABLES)


# --- identities and one-time codes ------------------------------------------------------------
@dataclass(frozen=True)
class Identity:
    """A verified phone (E.164) or e-mail address. Personal data: memory only, never logged."""

    kind: Literal["phone", "email"]
    value: str

    @property
    def masked(self) -> str:
        return mask_phone(self.value) if self.kind == "phone" else mask_email(self.value)

    def __repr__(self) -> str:
        return f"Identity({self.kind}, {self.masked})"


def parse_identity(raw: str, field: str = "identity") -> Identity:
    text = raw.strip()
    if "@" in text:
        try:
            email = validate_email(text, check_deliverability=False).normalized
        except EmailNotValidError:
            raise HTTPException(400, f"{field}: not a valid e-mail address") from None
        return Identity("email", email.lower())
    phone = normalize_phone(text)
    if phone is None:
        raise HTTPException(400, f"{field}: a phone number (+62…, 08…) or an e-mail address")
    return Identity("phone", phone)


def voter_hash(secret: bytes, code: str, identity: str) -> str:
    """One voter in one poll: not linkable across polls, not reversible without the secret."""
    return keyed_hash(secret, "poll-voter", f"{code}|{identity}")


CodeCheck = Literal["ok", "wrong", "expired", "locked"]


class VerificationCodes:
    """One-time codes per (poll, identity) in a small SQLite file; only keyed hashes are kept."""

    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS codes (key TEXT PRIMARY KEY, code_hash TEXT NOT NULL,"
        " expires_at REAL NOT NULL, attempts INTEGER NOT NULL, sends INTEGER NOT NULL,"
        " window_start REAL NOT NULL)"
    )

    def __init__(self, path: Path, secret: bytes, settings: PollSettings) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._secret = secret
        self._ttl = float(settings.poll_code_ttl_seconds)
        self._attempts = settings.poll_code_attempts
        self._sends = settings.poll_code_sends
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.execute(self._SCHEMA)

    @property
    def ttl(self) -> float:
        return self._ttl

    def _key(self, code: str, identity: Identity) -> str:
        return keyed_hash(self._secret, "poll-code-key", f"{code}|{identity.value}")

    def _hash(self, key: str, otp: str) -> str:
        return keyed_hash(self._secret, "poll-code", f"{key}|{otp}")

    def issue(self, code: str, identity: Identity, now: float) -> str | float:
        """A new 6-digit code (replacing an earlier one), or the seconds to wait first."""
        key = self._key(code, identity)
        with self._lock:
            self._conn.execute("DELETE FROM codes WHERE window_start < ?", (now - 4 * self._ttl,))
            row = self._conn.execute(
                "SELECT sends, window_start FROM codes WHERE key = ?", (key,)
            ).fetchone()
            sends, window = (0, now) if row is None else (int(row[0]), float(row[1]))
            if now - window >= self._ttl:
                sends, window = 0, now
            if sends >= self._sends:
                return max(1.0, window + self._ttl - now)
            otp = f"{secrets.randbelow(1_000_000):06d}"
            self._conn.execute(
                "INSERT INTO codes (key, code_hash, expires_at, attempts, sends, window_start)"
                " VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (key) DO UPDATE SET"
                " code_hash = excluded.code_hash, expires_at = excluded.expires_at, attempts = 0,"
                " sends = excluded.sends, window_start = excluded.window_start",
                (key, self._hash(key, otp), now + self._ttl, sends + 1, window),
            )
            return otp

    def check(self, code: str, identity: Identity, otp: str, now: float) -> CodeCheck:
        key = self._key(code, identity)
        with self._lock:
            row = self._conn.execute(
                "SELECT code_hash, expires_at, attempts FROM codes WHERE key = ?", (key,)
            ).fetchone()
            if row is None or not row[0] or float(row[1]) <= now:
                return "expired"
            if int(row[2]) >= self._attempts:
                return "locked"
            if hmac.compare_digest(str(row[0]), self._hash(key, otp.strip())):
                return "ok"
            self._conn.execute("UPDATE codes SET attempts = attempts + 1 WHERE key = ?", (key,))
            return "wrong"

    def consume(self, code: str, identity: Identity) -> None:
        """The code did its job: it cannot be used again (the send count stays)."""
        with self._lock:
            self._conn.execute(
                "UPDATE codes SET code_hash = '', expires_at = 0 WHERE key = ?",
                (self._key(code, identity),),
            )

    def forget(self, code: str, identity: Identity) -> None:
        """A code that never left (the send failed) does not count."""
        with self._lock:
            self._conn.execute(
                "UPDATE codes SET code_hash = '', expires_at = 0, sends = MAX(sends - 1, 0)"
                " WHERE key = ?",
                (self._key(code, identity),),
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class CodeSender:
    """The one-time code by SMS (Kannel sendsms) or e-mail (SMTP), with the shared senders."""

    def __init__(self, sendsms_url: str | None, smtp_url: str | None) -> None:
        senders = SenderSettings()
        timeout = senders.notify_send_timeout_seconds
        self.sms = KannelSms(sendsms_url, senders.sms_sender, timeout) if sendsms_url else None
        self.email = SmtpEmail(smtp_url, senders.smtp_from, timeout) if smtp_url else None

    async def send(
        self, identity: Identity, code: str, title: str, otp: str, minutes: int, field: str
    ) -> None:
        sender = self.sms if identity.kind == "phone" else self.email
        if sender is None:
            setting = "LAPOR_SMS_SENDSMS_URL" if identity.kind == "phone" else "LAPOR_SMTP_URL"
            raise HTTPException(
                503, f"{field}: codes by {identity.kind} are not set up ({setting})"
            )
        text = (
            f"Kode verifikasi LAPOR! untuk jajak pendapat {code}: {otp}. Berlaku {minutes}"
            " menit. Jangan berikan kode ini kepada siapa pun."
        )
        message = Message(
            subject=f"Kode verifikasi jajak pendapat {code}",
            text=f"{text}\n\n{title}\n",
            html=f"<p>{escape(text)}</p><p>{escape(title)}</p>",
            sms=text,
            language="id",
        )
        try:
            await sender.send(Address(identity.value, identity.masked), message, uuid.uuid4())
        except SendError as error:
            log.warning("poll_code_not_sent", channel=identity.kind, error=str(error))
            raise HTTPException(
                502, f"{field}: the code could not be sent just now; please try again"
            ) from None

    async def close(self) -> None:
        if self.sms is not None:
            await self.sms.close()
        if self.email is not None:
            await self.email.close()


# --- HTTP input -------------------------------------------------------------------------------
class AttachmentIn(BaseModel):
    """A file uploaded before (POST /api/v1/attachments), named by its sha256."""

    model_config = ConfigDict(extra="forbid")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    name: str | None = Field(default=None, max_length=255)


class ChoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str | None = Field(default=None, pattern=r"^[A-Za-z]$", description="Default: A, B, …")
    label: str = Field(min_length=1, max_length=200)


class QuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=500)
    kind: QuestionKind = QuestionKind.SINGLE
    choices: list[ChoiceIn | str] = Field(min_length=2, max_length=26)


class PollIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9]{4,8}$",
        description="The SMS code (4-8 letters/digits); default: 5 unambiguous random ones",
    )
    title: str = Field(min_length=3, max_length=200)
    policy_text: str = Field(min_length=1, max_length=20_000)
    attachment: AttachmentIn | None = None
    questions: list[QuestionIn] = Field(min_length=1, max_length=10)
    allow_comment: bool = True
    region_code: str | None = Field(default=None, pattern=REGION_PATTERN)
    opens_at: AwareDatetime | None = Field(default=None, description="Default: now")
    closes_at: AwareDatetime
    agency_code: str | None = Field(
        default=None, pattern=AGENCY_PATTERN, description="For administrators: the institution"
    )

    def poll_questions(self) -> tuple[PollQuestion, ...]:
        questions = []
        for index, question in enumerate(self.questions, start=1):
            choices = []
            for n, choice in enumerate(question.choices):
                if isinstance(choice, str):
                    choice = ChoiceIn(label=choice)
                key = (choice.key or chr(ord("A") + n)).upper()
                choices.append(PollChoice(key=key, label=choice.label.strip()))
            questions.append(
                PollQuestion(
                    key=str(index), text=question.text, kind=question.kind, choices=tuple(choices)
                )
            )
        return tuple(questions)


class VerificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    identity: str | None = Field(default=None, max_length=254, description="Phone or e-mail")

    @model_validator(mode="after")
    def _one(self) -> "VerificationIn":
        if sum(v is not None for v in (self.phone, self.email, self.identity)) != 1:
            raise ValueError("give exactly one of phone, email, identity")
        return self

    def raw(self) -> tuple[str, str]:
        for name in ("phone", "email", "identity"):
            value = getattr(self, name)
            if value is not None:
                return name, str(value)
        raise AssertionError("unreachable")


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identity: str = Field(min_length=3, max_length=254, description="The verified phone/e-mail")
    code: str = Field(pattern=r"^\s*[0-9]{6}\s*$", description="The 6-digit code sent to it")
    answers: dict[str, list[str] | str] = Field(
        description='question key -> choice key(s), e.g. {"1": "B", "2": ["A", "C"]}'
    )
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)
    region_code: str | None = Field(
        default=None, pattern=REGION_PATTERN, description="Where you live (for the breakdown)"
    )

    def raw_answers(self) -> dict[str, list[str]]:
        return {k: [v] if isinstance(v, str) else v for k, v in self.answers.items()}


class ResponseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=20_000)
    attachment: AttachmentIn | None = None


# --- HTTP output ------------------------------------------------------------------------------
def _phase_of_row(row: Any, now: datetime) -> str:
    if row["closed_at"] is not None or now.timestamp() >= row["closes_ts"]:
        return "closed"
    if now.timestamp() < row["opens_ts"]:
        return "upcoming"
    return "open"


def poll_out(
    row: Any, now: datetime, response: Any = None, published: bool = False
) -> dict[str, Any]:
    questions = json.loads(row["questions"])
    return {
        "code": row["code"],
        "title": row["title"],
        "policy_text": row["policy_text"],
        "attachment": json.loads(row["attachment"]) if row["attachment"] else None,
        "attachment_url": f"{WEB_BASE}/{row['code']}/dokumen" if row["attachment"] else None,
        "questions": questions,
        "allow_comment": bool(row["allow_comment"]),
        "region_code": row["region_code"],
        "region_name": regions.name_of(row["region_code"]),
        "agency_code": row["agency_code"],
        "opens_at": row["opens_at"],
        "closes_at": row["closes_at"],
        "status": _phase_of_row(row, now),
        "closed_at": row["closed_at"],
        "close_reason": row["close_reason"],
        "results_published": published,
        "response": None
        if response is None
        else {
            "agency_code": response["agency_code"],
            "text": response["text"],
            "attachment": json.loads(response["attachment"]) if response["attachment"] else None,
            "attachment_url": f"{WEB_BASE}/{row['code']}/tanggapan/dokumen"
            if response["attachment"]
            else None,
            "published_at": response["published_at"],
        },
        "sms": "POLL " + row["code"] + " " + " ".join(q["choices"][0]["key"] for q in questions),
    }


def _row_of(opened: PollOpened, closed: PollClosed | None = None) -> dict[str, Any]:
    """A view-shaped row from the events (when the view has not caught up yet)."""
    return {
        "code": opened.code,
        "title": opened.title,
        "policy_text": opened.policy_text,
        "attachment": _json(opened.attachment),
        "questions": json.dumps([q.model_dump(mode="json") for q in opened.questions]),
        "allow_comment": int(opened.allow_comment),
        "region_code": opened.region_code,
        "agency_code": opened.agency_code,
        "opens_at": opened.opens_at.isoformat(),
        "closes_at": opened.closes_at.isoformat(),
        "opens_ts": opened.opens_at.timestamp(),
        "closes_ts": opened.closes_at.timestamp(),
        "closed_at": closed.closed_at.isoformat() if closed else None,
        "close_reason": closed.reason.value if closed else None,
    }


def results_out(
    code: str, questions: list[dict[str, Any]], results: dict[str, Any], owner: bool
) -> dict[str, Any]:
    by_region = {
        region: {"name": regions.name_of(region), **counts}
        for region, counts in results["by_region"].items()
    }
    out: dict[str, Any] = {
        "code": code,
        "total_voters": results["total_voters"],
        "tallies": results["tallies"],
        "questions": [
            {
                "key": q["key"],
                "text": q["text"],
                "kind": q["kind"],
                "choices": [
                    {**c, "votes": results["tallies"].get(q["key"], {}).get(c["key"], 0)}
                    for c in q["choices"]
                ],
            }
            for q in questions
        ],
        "by_region": by_region,
        "by_channel": results["by_channel"],
        "comment_count": len(results["comments"]),
        "published_at": results.get("published_at"),
    }
    if owner:  # free text may name people: the institution and administrators read it
        out["comments"] = results["comments"]
    return out


def _results_dict(payload: PollResultsPublished, at: str | None) -> dict[str, Any]:
    return {
        "total_voters": payload.total_voters,
        "tallies": payload.tallies,
        "by_region": {k: v.model_dump(mode="json") for k, v in payload.by_region.items()},
        "by_channel": payload.by_channel,
        "comments": [c.model_dump(mode="json") for c in payload.comments],
        "published_at": at,
    }


@contextlib.contextmanager
def http_errors() -> Iterator[None]:
    """Domain errors as HTTP answers naming the field."""
    try:
        yield
    except PollNotFound:
        raise HTTPException(404, "poll not found") from None
    except NotYourPoll as error:
        raise HTTPException(403, f"Authorization: {error}") from None
    except ResultsSealed as error:
        raise HTTPException(
            409, {"msg": str(error), "status": "sealed", "closes_at": error.closes_at.isoformat()}
        ) from None
    except PollNotOpen as error:
        raise HTTPException(409, {"msg": str(error), "status": error.phase}) from None
    except (PollCodeTaken, ResponseNotAllowed) as error:
        raise HTTPException(409, str(error)) from None
    except PollError as error:
        text = str(error)
        field, _, msg = text.partition(": ")
        if msg and " " not in field:
            raise HTTPException(
                400, [{"loc": ["body", *field.split(".")], "field": field, "msg": msg}]
            ) from None
        raise HTTPException(400, text) from None
    except WrongExpectedVersion:
        raise HTTPException(409, "someone else changed this poll first; reload and retry") from None


def normalize_code(code: str) -> str:
    text = code.strip().upper()
    if not (4 <= len(text) <= 8 and text.isascii() and text.isalnum()):
        raise HTTPException(404, "poll not found")
    return text


def new_poll_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def _outcome(events: Sequence[RecordedEvent]) -> str:
    if not events:
        return "unchanged"
    return "changed" if events[0].event_type == OpinionChanged.event_type else "submitted"


# --- the module's service object --------------------------------------------------------------
class Polls:
    """What the poll routes and the SMS answer share."""

    def __init__(self, ctx: Context, intake: "Intake") -> None:
        self.ctx = ctx
        self.intake = intake
        self.secret = intake.secret
        self.settings = PollSettings()
        self.repo = PollRepository(ctx.store, ctx.clock)
        self.projector = create_projector(ctx.settings.data_dir)
        self.views = ViewReader(self.projector.path)
        self.codes = VerificationCodes(
            ctx.settings.data_dir / "poll_codes.db", self.secret, self.settings
        )
        self.sender = CodeSender(ctx.settings.sms_sendsms_url, ctx.settings.smtp_url)

    def now(self) -> datetime:
        return self.ctx.clock.now()

    async def row(self, code: str) -> Any:
        """The poll as the view has it, else (the view lagging) from its events; None: unknown."""
        row = await self.views.fetchone("SELECT * FROM polls WHERE code = ?", (code,))
        if row is not None:
            return row
        state = await self.repo.state(code)
        return None if state is None else _row_of(state.opened, state.closed)

    async def require_open(self, code: str) -> PollState:
        """The poll from its stream (not the view, which may lag behind a close): 404 unknown,
        409 not open."""
        state = await self.repo.state(code)
        with http_errors():
            if state is None:
                raise PollNotFound(code)
            check_open(state, self.now())
        return state

    async def request_code(self, code: str, raw: str, field: str, address: str) -> dict[str, Any]:
        enforce(self.intake.submissions, address, field)
        state = await self.require_open(code)
        identity = parse_identity(raw, field)
        issued = await asyncio.to_thread(self.codes.issue, code, identity, self.now().timestamp())
        if isinstance(issued, float):
            raise too_many(issued, field)
        minutes = max(1, int(self.codes.ttl // 60))
        try:
            await self.sender.send(identity, code, state.opened.title, issued, minutes, field)
        except BaseException:
            await asyncio.to_thread(self.codes.forget, code, identity)
            raise
        log.info("poll_code_sent", poll=code, channel=identity.kind)
        return {
            "poll": code,
            "sent_to": identity.masked,
            "channel": "sms" if identity.kind == "phone" else "email",
            "expires_in": int(self.codes.ttl),
        }

    async def answer(self, code: str, body: AnswerIn, address: str, cid: str) -> dict[str, Any]:
        await self.require_open(code)  # a late answer is refused before any code is tried
        identity = parse_identity(body.identity)
        wait = self.intake.failed_codes.retry_after(address)
        if wait > 0:
            raise too_many(wait, "code")
        checked = await asyncio.to_thread(
            self.codes.check, code, identity, body.code, self.now().timestamp()
        )
        if checked != "ok":
            if checked == "wrong":
                self.intake.failed_codes.hit(address)
            raise HTTPException(
                403,
                {
                    "wrong": "code: wrong verification code",
                    "expired": "code: no valid code for this identity; request a new one",
                    "locked": "code: too many wrong tries; request a new code",
                }[checked],
            )
        command = SubmitOpinion(
            voter_hash=voter_hash(self.secret, code, identity.value),
            answers=body.raw_answers(),
            channel=Channel.WEB,
            now=self.now(),
            comment=body.comment,
            region_code=self._region(body.region_code),
        )
        with http_errors():
            events = await self.repo.execute(
                code, command, Meta(actor=VOTER, correlation_id=cid), retry_on_conflict=True
            )
        await asyncio.to_thread(self.codes.consume, code, identity)
        outcome = _outcome(events)
        log.info("poll_answered", poll=code, channel="web", outcome=outcome)
        return {"poll": code, "outcome": outcome}

    @staticmethod
    def _region(code: str | None) -> str | None:
        if code is not None and regions.name_of(code) is None:
            raise HTTPException(
                400,
                [
                    {
                        "loc": ["body", "region_code"],
                        "field": "region_code",
                        "msg": "unknown region code",
                    }
                ],
            )
        return code

    async def results(self, code: str, officer: Principal | None, cid: str) -> dict[str, Any]:
        """Published results; 409 while sealed, for everyone."""
        row = await self.row(code)
        if row is None:
            raise HTTPException(404, "poll not found")
        owner = officer is not None and (
            officer.role is Role.ADMIN
            or (officer.role is Role.AGENCY and officer.agency == row["agency_code"])
        )
        questions = json.loads(row["questions"])
        stored = await self.views.fetchone("SELECT * FROM poll_results WHERE code = ?", (code,))
        if stored is not None:
            results = {
                "total_voters": stored["total_voters"],
                "tallies": json.loads(stored["tallies"]),
                "by_region": json.loads(stored["by_region"]),
                "by_channel": json.loads(stored["by_channel"]),
                "comments": json.loads(stored["comments"]),
                "published_at": stored["published_at"],
            }
            return results_out(code, questions, results, owner)
        with http_errors():
            closed = await self.repo.close_if_due(code, cid)  # lazily, when closes_at passed
            at = closed[-1].occurred_at.isoformat() if closed else None
            payload = read_results(await self.repo.state(code))  # ResultsSealed before closing
        return results_out(code, questions, _results_dict(payload, at), owner)

    async def close(self, code: str, officer: Principal, cid: str) -> dict[str, Any]:
        by = officer.agency if officer.role is Role.AGENCY else None
        meta = Meta(actor=_officer_actor(officer), correlation_id=cid)
        with http_errors():
            await self.repo.execute(code, ClosePoll(now=self.now(), by_agency=by), meta)
            state = await self.repo.state(code)
        if state is None or state.closed is None:  # pragma: no cover - decide closed it
            raise HTTPException(404, "poll not found")
        return {
            "code": code,
            "status": "closed",
            "closed_at": state.closed.closed_at.isoformat(),
            "close_reason": state.closed.reason.value,
            "results_published": state.results is not None,
        }

    async def respond(
        self, code: str, body: ResponseIn, officer: Principal, cid: str
    ) -> dict[str, Any]:
        by = officer.agency if officer.role is Role.AGENCY else None
        attachment = self.attachment(body.attachment)
        meta = Meta(actor=_officer_actor(officer), correlation_id=cid)
        with http_errors():
            state = await self.repo.state(code)
            if state is not None and by is not None and by != state.opened.agency_code:
                raise NotYourPoll(f"poll {code} belongs to {state.opened.agency_code}")
            await self.repo.close_if_due(code, cid)
            command = PublishResponse(
                text=body.text, now=self.now(), by_agency=by, attachment=attachment
            )
            events = await self.repo.execute(code, command, meta)
        return {"code": code, "published": bool(events), "text": body.text.strip()}

    def attachment(self, ref: AttachmentIn | None) -> Attachment | None:
        if ref is None:
            return None
        try:
            return self.intake.attachments.resolve(ref.sha256, ref.name)
        except AttachmentRejected:
            raise HTTPException(
                400, "attachment: no uploaded file with this sha256 (POST /api/v1/attachments)"
            ) from None

    async def document(self, code: str, which: Literal["draft", "response"]) -> FileResponse:
        """The draft policy's document or the response's, for anyone (they are public)."""
        if which == "draft":
            row = await self.row(code)
        else:
            row = await self.views.fetchone(
                "SELECT attachment FROM poll_responses WHERE code = ?", (code,)
            )
        meta = json.loads(row["attachment"]) if row is not None and row["attachment"] else None
        path = self.intake.attachments.path_of(meta["sha256"]) if meta else None
        if meta is None or path is None or not path.is_file():
            raise HTTPException(404, "attachment not found")
        return FileResponse(
            path,
            media_type=meta["media_type"],
            filename=meta["name"],
            content_disposition_type="attachment",
            headers={
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
            },
        )

    async def open_poll(self, body: PollIn, officer: Principal, cid: str) -> dict[str, Any]:
        if officer.role is Role.AGENCY:
            if body.agency_code is not None and body.agency_code != officer.agency:
                raise HTTPException(403, "agency_code: an agency opens polls for itself only")
            agency = officer.agency
        else:
            agency = body.agency_code
            if not officer.covers_region(body.region_code):
                raise HTTPException(403, "region_code: outside your region")
        if agency is None:
            raise HTTPException(
                400,
                [
                    {
                        "loc": ["body", "agency_code"],
                        "field": "agency_code",
                        "msg": "an administrator names the consulting institution",
                    }
                ],
            )
        now = self.now()
        questions = self.questions(body)
        attachment = self.attachment(body.attachment)
        meta = Meta(actor=_officer_actor(officer), correlation_id=cid)
        for _ in range(5):
            code = body.code.upper() if body.code else new_poll_code()
            command = OpenPoll(
                code=code,
                title=body.title.strip(),
                policy_text=body.policy_text,
                questions=questions,
                opens_at=body.opens_at or now,
                closes_at=body.closes_at,
                agency_code=agency,
                now=now,
                region_code=self._region(body.region_code),
                attachment=attachment,
                allow_comment=body.allow_comment,
            )
            try:
                with http_errors():
                    events = await self.repo.execute(code, command, meta)
            except HTTPException as error:
                if error.status_code == 409 and body.code is None:
                    continue  # a random code collided: draw another
                raise
            log.info("poll_opened", poll=code, agency=agency, new=bool(events))
            opened = decide(None, command)[0]
            assert isinstance(opened, PollOpened)
            return poll_out(_row_of(opened), now)
        raise HTTPException(503, "code: no free poll code found; try again")

    @staticmethod
    def questions(body: PollIn) -> tuple[PollQuestion, ...]:
        try:
            return body.poll_questions()
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise HTTPException(400, f"questions: {where} {first.get('msg', 'invalid')}") from None

    async def listing(
        self, status: str | None, region: str | None, agency: str | None, limit: int
    ) -> list[dict[str, Any]]:
        rows = await self.views.fetchall(
            "SELECT * FROM polls WHERE (? IS NULL OR region_code LIKE ? || '%')"
            " AND (? IS NULL OR agency_code = ?) ORDER BY opens_ts DESC, code LIMIT 1000",
            (region, region, agency, agency),
        )
        now = self.now()
        published = {r["code"] for r in await self.views.fetchall("SELECT code FROM poll_results")}
        out = [poll_out(r, now, published=r["code"] in published) for r in rows]
        if status:
            out = [p for p in out if p["status"] == status]
        return out[:limit]

    async def one(self, code: str) -> dict[str, Any]:
        row = await self.row(code)
        if row is None:
            raise HTTPException(404, "poll not found")
        response = await self.views.fetchone("SELECT * FROM poll_responses WHERE code = ?", (code,))
        published = await self.views.fetchone(
            "SELECT code FROM poll_results WHERE code = ?", (code,)
        )
        return poll_out(row, self.now(), response, published is not None)

    async def close_due(self) -> int:
        """Close every poll past its closes_at (the ticker)."""
        now = self.now()
        rows = await self.views.fetchall(
            "SELECT code FROM polls WHERE closed_at IS NULL AND closes_ts <= ?", (now.timestamp(),)
        )
        closed = 0
        for row in rows:
            cid = f"poll-close-{row['code']}"
            try:
                closed += bool(await self.repo.close_if_due(row["code"], cid))
            except (PollError, StoreError) as error:
                log.warning("poll_close_failed", poll=row["code"], error_type=type(error).__name__)
        return closed

    async def close_on_schedule(self) -> None:
        """The periodic job: close every poll whose closing time has passed."""
        closed = await self.close_due()
        if closed:
            log.info("polls_closed_on_schedule", count=closed)

    async def close_resources(self) -> None:
        await self.sender.close()
        self.codes.close()


def _officer_actor(officer: Principal) -> Actor:
    return Actor(kind="agency" if officer.role is Role.AGENCY else "admin", id=officer.subject)


# --- SMS: POLL <CODE> <CHOICE> -----------------------------------------------------------------
NO_PHONE = "Jajak pendapat lewat pesan hanya dari nomor telepon. Silakan jawab di web LAPOR!."


def _picked(answers: Answers) -> str:
    if len(answers) == 1:
        return ",".join(next(iter(answers.values())))
    return " ".join(f"{q}:{''.join(c)}" for q, c in answers.items())


async def answer_by_sms(
    desk: "ChannelDesk", sender: Sender, code: str, choice: str, key: str | None, cid: str
) -> tuple[str, str]:
    """`POLL <CODE> <CHOICE>` from a phone: the number the telco delivered is the verified
    identity. Returns the reply (GSM-7, one SMS) and the outcome for the channel metric."""
    phone = sender.phone
    if phone is None:
        return NO_PHONE, "poll_no_phone"
    repo = PollRepository(desk.ctx.store, desk.ctx.clock)
    now = desk.ctx.clock.now()
    state = await repo.state(code)
    if state is None:
        return (
            f"Jajak pendapat {code} tidak ditemukan. Periksa kodenya. Format: POLL KODE PILIHAN.",
            "poll_unknown",
        )
    closed = f"Jajak pendapat {code} sudah ditutup. Jawaban Anda tidak dihitung."
    upcoming = f"Jajak pendapat {code} belum dibuka. Silakan kirim lagi setelah dibuka."
    bad_choice = (
        f"Pilihan tidak dikenal untuk jajak pendapat {code}. Pilih {choice_keys(state.opened)},"
        f" mis. {sms_example(state.opened)}"
    )
    try:
        check_open(state, now)
        answers = parse_sms_choice(state.opened, choice)
        command = SubmitOpinion(
            voter_hash=voter_hash(desk.intake.secret, code, phone),
            answers=answers,
            channel=sender.channel,
            now=now,
        )
        meta = Meta(actor=VOTER, correlation_id=cid, idempotency_key=key and f"poll|{key}")
        events = await repo.execute(code, command, meta, retry_on_conflict=True)
    except PollNotOpen as error:
        return (upcoming, "poll_upcoming") if error.phase == "upcoming" else (closed, "poll_closed")
    except InvalidAnswer:
        return bad_choice, "poll_bad_choice"
    picked = _picked(answers)
    outcome = _outcome(events)
    log.info("poll_answered", poll=code, channel=sender.channel.value, outcome=outcome)
    if outcome == "submitted":
        text = (
            f"Terima kasih! Jawaban Anda untuk jajak pendapat {code} tercatat: {picked}."
            f" Bisa diubah sampai ditutup: POLL {code} PILIHAN."
        )
    elif outcome == "changed":
        text = (
            f"Jawaban Anda untuk {code} diubah menjadi {picked}. Hanya jawaban terakhir dihitung."
        )
    else:
        text = f"Jawaban Anda untuk {code} ({picked}) sudah tercatat. Satu nomor, satu jawaban."
    return text, f"poll_{outcome}"


# --- the routes -------------------------------------------------------------------------------
def build(ctx: Context, intake: "Intake") -> Service:
    """The polls part of intake: the API (`/api/v1/polls…`) and pages (`/jajak-pendapat…`), the
    polls view (kept by intake's consumer) and the job that closes polls on schedule."""
    polls = Polls(ctx, intake)
    return Service(
        routers=_routers(ctx, intake, polls),
        projectors=[polls.projector],
        periodic=[
            Periodic(
                "close-polls", lambda: polls.settings.polls_tick_seconds, polls.close_on_schedule
            )
        ],
        on_stop=[polls.close_resources],
    )


def _routers(ctx: Context, intake: "Intake", polls: "Polls") -> list[APIRouter]:
    api = APIRouter(prefix="/api/v1", tags=["polls"])
    Institution = Annotated[Principal, Depends(ctx.auth.require(Role.AGENCY, Role.ADMIN))]
    Code = Annotated[str, Depends(normalize_code)]

    def address(request: Request) -> str:
        return client_address(request, intake.limits.trust_forwarded_for)

    optional_officer = ctx.auth.optional()

    Officer = Annotated[Principal | None, Depends(optional_officer)]

    @api.get("/polls")
    async def list_polls(
        status: Annotated[str | None, Query(pattern=r"^(upcoming|open|closed)$")] = None,
        region: Annotated[str | None, Query(pattern=REGION_PATTERN)] = None,
        agency: Annotated[str | None, Query(pattern=AGENCY_PATTERN)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> list[dict[str, Any]]:
        """Polls, newest first: upcoming, open and closed (with `results_published`)."""
        return await polls.listing(status, region, agency, limit)

    @api.post("/polls", status_code=201)
    async def open_poll(body: PollIn, request: Request, officer: Institution) -> dict[str, Any]:
        """Open a consultation (agency or admin token). Answer it by SMS: `POLL <code> <choice>`."""
        return await polls.open_poll(body, officer, correlation_id(request))

    @api.get("/polls/{code}")
    async def get_poll(code: Code) -> dict[str, Any]:
        return await polls.one(code)

    @api.post("/polls/{code}/verification", status_code=202)
    async def verification(code: Code, body: VerificationIn, request: Request) -> dict[str, Any]:
        """Send a 6-digit one-time code to a phone (SMS) or e-mail address, to answer with."""
        field, raw = body.raw()
        return await polls.request_code(code, raw, field, address(request))

    @api.post("/polls/{code}/answers", status_code=201)
    async def answer(
        code: Code, body: AnswerIn, request: Request, response: Response
    ) -> dict[str, Any]:
        """Answer (or change your answer) with the code sent to `identity`. One answer per
        phone/e-mail; `outcome` is submitted (201), changed or unchanged (200)."""
        result = await polls.answer(code, body, address(request), correlation_id(request))
        if result["outcome"] != "submitted":
            response.status_code = 200
        return result

    @api.get("/polls/{code}/results")
    async def results(code: Code, request: Request, officer: Officer) -> dict[str, Any]:
        """Tallies and the breakdown by region, once the poll has closed. Before: 409 for
        everyone, administrators included."""
        return await polls.results(code, officer, correlation_id(request))

    @api.post("/polls/{code}/close")
    async def close(code: Code, request: Request, officer: Institution) -> dict[str, Any]:
        """Close now (the poll's institution or an admin); results are published at once."""
        return await polls.close(code, officer, correlation_id(request))

    @api.post("/polls/{code}/response", status_code=201)
    async def respond(
        code: Code, body: ResponseIn, request: Request, officer: Institution
    ) -> dict[str, Any]:
        """The institution's response to the consultation, after it closed."""
        return await polls.respond(code, body, officer, correlation_id(request))

    return [api, _pages(ctx, intake, polls)]


# --- the web pages ----------------------------------------------------------------------------
def _pages(ctx: Context, intake: "Intake", polls: Polls) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    csrf = Csrf(intake.secret, secure_cookies=intake.limits.secure_cookies)

    def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        token = csrf.token(request)
        html = env.get_template(template).render(
            csrf_token=token, base=WEB_BASE, region_name=regions.name_of, **context
        )
        response = HTMLResponse(html, status_code=status)
        response.headers.update(PUBLIC_PAGE_HEADERS)
        response.headers["Cache-Control"] = "no-store"
        csrf.remember(request, response, token)
        return response

    async def form_of(request: Request) -> FormData:
        form = await request.form(max_files=0, max_fields=40)
        if not csrf.matches(request, form.get(CSRF_FIELD)):
            raise HTTPException(403, "csrf_token: reload the page and try again")
        return form

    def voter_regions(poll: dict[str, Any]) -> list[tuple[str, str]]:
        found = regions.children(poll["region_code"]) or regions.provinces()
        return [(r.code, r.name) for r in found]

    async def page(
        request: Request,
        code: str,
        status: int = 200,
        message: str | None = None,
        error: str | None = None,
        form: Mapping[str, Any] | None = None,
    ) -> HTMLResponse:
        poll = await polls.one(code)
        results = None
        if poll["status"] == "closed":
            with contextlib.suppress(HTTPException):
                results = await polls.results(code, None, correlation_id(request))
        return render(
            request,
            "poll_page.html",
            status=status,
            poll=poll,
            results=results,
            message=message,
            error=error,
            form=form or {},
            voter_regions=voter_regions(poll),
        )

    def detail_text(error: HTTPException) -> str:
        detail = error.detail
        if isinstance(detail, list) and detail and isinstance(detail[0], dict):
            return "; ".join(f"{d.get('field')}: {d.get('msg')}" for d in detail)
        if isinstance(detail, dict):
            return str(detail.get("msg", detail))
        return str(detail)

    @router.get(WEB_BASE, response_class=HTMLResponse)
    async def poll_list(request: Request) -> HTMLResponse:
        items = await polls.listing(None, None, None, 100)
        return render(request, "poll_list.html", polls=items)

    @router.get(WEB_BASE + "/{code}", response_class=HTMLResponse)
    async def poll_page(request: Request, code: str) -> HTMLResponse:
        return await page(request, normalize_code(code))

    @router.post(WEB_BASE + "/{code}/kode", response_class=HTMLResponse)
    async def send_code(request: Request, code: str) -> HTMLResponse:
        code = normalize_code(code)
        form = await form_of(request)
        identity = str(form.get("identity") or "")[:254]
        try:
            sent = await polls.request_code(
                code,
                identity,
                "identity",
                client_address(request, intake.limits.trust_forwarded_for),
            )
        except HTTPException as error:
            return await page(request, code, error.status_code, error=detail_text(error), form=form)
        return await page(
            request,
            code,
            message=f"Kode dikirim ke {sent['sent_to']}. Berlaku {sent['expires_in'] // 60} menit.",
            form={"identity": identity, "step": "answer"},
        )

    @router.post(WEB_BASE + "/{code}/jawab", response_class=HTMLResponse)
    async def send_answer(request: Request, code: str) -> Response:
        code = normalize_code(code)
        form = await form_of(request)
        poll = await polls.one(code)
        answers: dict[str, list[str] | str] = {}
        for question in poll["questions"]:
            picked = [str(v) for v in form.getlist(f"q{question['key']}")]
            if picked:
                answers[question["key"]] = picked
        try:
            body = AnswerIn(
                identity=str(form.get("identity") or "")[:254],
                code=str(form.get("otp") or "")[:20],
                answers=answers,
                comment=str(form.get("comment") or "")[:MAX_COMMENT] or None,
                region_code=str(form.get("region_code") or "") or None,
            )
        except ValidationError:
            return await page(
                request,
                code,
                400,
                error="Periksa kode verifikasi (6 angka), nomor/e-mail dan jawaban Anda.",
                form={**form, "step": "answer"},
            )
        try:
            result = await polls.answer(
                code,
                body,
                client_address(request, intake.limits.trust_forwarded_for),
                correlation_id(request),
            )
        except HTTPException as error:
            return await page(
                request,
                code,
                error.status_code,
                error=detail_text(error),
                form={**form, "step": "answer"},
            )
        return RedirectResponse(f"{WEB_BASE}/{code}/terima-kasih?hasil={result['outcome']}", 303)

    @router.get(WEB_BASE + "/{code}/dokumen")
    async def draft_document(code: str) -> FileResponse:
        """The draft policy's document (linked as `attachment_url` in the API)."""
        return await polls.document(normalize_code(code), "draft")

    @router.get(WEB_BASE + "/{code}/tanggapan/dokumen")
    async def response_document(code: str) -> FileResponse:
        """The response's document (`response.attachment_url` in the API)."""
        return await polls.document(normalize_code(code), "response")

    @router.get(WEB_BASE + "/{code}/terima-kasih", response_class=HTMLResponse)
    async def thanks(request: Request, code: str, hasil: str = "submitted") -> HTMLResponse:
        poll = await polls.one(normalize_code(code))
        outcome = hasil if hasil in ("submitted", "changed", "unchanged") else "submitted"
        return render(request, "poll_done.html", poll=poll, outcome=outcome)

    return router
