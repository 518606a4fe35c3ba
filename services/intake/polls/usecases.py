"""What the poll routes, pages and the closing job do: load `poll-<CODE>`, decide, append.

- Commands go through `PollRepository` (load the stream, `shared.polls.lifecycle.decide`, append
  with the expected version); every rule lives in the domain module.
- Reads come from the polls view; a poll the view has not caught up with yet is read from its
  events, and whatever must not lag (is it open? are results sealed?) is read from the stream.
- Polls close at `closes_at` by a periodic job (`close-polls`, every `LAPOR_POLLS_TICK_SECONDS`)
  and lazily when someone asks for the results or the institution responds.

Errors are raised as HTTPException naming the field (the JSON routes answer them as they are; the
pages show them in the form).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from fastapi import HTTPException
from pydantic import ValidationError

import services.intake.regions as regions
from services.intake.polls.codes import (
    CodeSender,
    VerificationCodes,
    ballot_key,
    parse_identity,
    voter_hash,
)
from services.intake.polls.models import (
    AnswerIn,
    AnswerOut,
    AttachmentIn,
    ClosedOut,
    CodeSentOut,
    CommentOut,
    OwnerResultsOut,
    PollIn,
    PollOut,
    RespondedOut,
    ResponseIn,
    ResponseOut,
    ResultsOut,
)
from services.intake.polls.ports import IntakePart
from services.intake.polls.views import PollsView, Row, row_of
from shared.auth import Principal, Role
from shared.clock import Clock
from shared.errors import DomainError
from shared.events.base import Actor
from shared.http.limits import enforce, too_many
from shared.logs import get_logger
from shared.polls.ballots import NONCE_BYTES
from shared.polls.events import (
    MIN_GROUP,
    OTHER_REGIONS,
    OpinionChanged,
    PollOpened,
    PollQuestion,
    PollResultsPublished,
    RegionResult,
)
from shared.polls.lifecycle import (
    POLLS,
    ClosePoll,
    Command,
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
    decide,
    read_results,
    suppress_small_groups,
)
from shared.reports.tracking import ALPHABET
from shared.runtime.projection import Projector
from shared.runtime.repository import Meta, Repository
from shared.runtime.service import Context
from shared.store.port import EventStore, RecordedEvent, StoreError, WrongExpectedVersion
from shared.values import Attachment, Channel

log = get_logger(__name__)

CODE_LENGTH = 5
WEB_BASE = "/jajak-pendapat"
SYSTEM = Actor(kind="system", id="intake-polls")
VOTER = Actor(kind="citizen", id="voter")
Outcome = Literal["submitted", "changed", "unchanged"]


class PollRepository(Repository[PollState | None, Command]):
    """Load a poll's stream, decide, append with the expected version."""

    def __init__(self, store: EventStore, clock: Clock, secret: bytes) -> None:
        super().__init__(store, clock, POLLS)
        self.secret = secret

    def ballot_key(self, code: str) -> bytes:
        return ballot_key(self.secret, code)

    def opinion(
        self,
        code: str,
        *,
        voter_hash: str,
        answers: Mapping[str, Sequence[str]],
        channel: Channel,
        now: datetime,
        comment: str | None = None,
        region_code: str | None = None,
    ) -> SubmitOpinion:
        """An answer to store sealed with the poll's key (a fresh nonce each time)."""
        return SubmitOpinion(
            voter_hash=voter_hash,
            answers=answers,
            channel=channel,
            now=now,
            comment=comment,
            region_code=region_code,
            ballot_key=self.ballot_key(code),
            nonce=os.urandom(NONCE_BYTES),
        )

    def closing(self, code: str, now: datetime, by_agency: str | None = None) -> ClosePoll:
        """Close with the key that opens the answers; PollClosed releases it."""
        return ClosePoll(now=now, by_agency=by_agency, ballot_key=self.ballot_key(code))

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
        return await self.execute(code, self.closing(code, now), meta, retry_on_conflict=True)


def outcome_of(events: Sequence[RecordedEvent]) -> Outcome:
    """What an answer did: nothing new (the same answer again), a first answer, or a change."""
    if not events:
        return "unchanged"
    return "changed" if events[0].event_type == OpinionChanged.event_type else "submitted"


@dataclass(frozen=True)
class Document:
    """A poll's public document (the draft, or the response's) on disk."""

    path: Path
    media_type: str
    name: str


class Polls:
    """The polls' use cases."""

    def __init__(
        self,
        ctx: Context,
        intake: IntakePart,
        projector: Projector,
        codes: VerificationCodes,
        sender: CodeSender,
    ) -> None:
        self.ctx = ctx
        self.intake = intake
        self.secret = intake.secret
        self.repo = PollRepository(ctx.store, ctx.clock, intake.secret)
        self.projector = projector
        self.view = PollsView(projector.path)
        self.codes = codes
        self.sender = sender

    def now(self) -> datetime:
        return self.ctx.clock.now()

    async def row(self, code: str) -> Row | None:
        """The poll as the view has it, else (the view lagging) from its events; None: unknown."""
        row = await self.view.poll(code)
        if row is not None:
            return row
        state = await self.repo.state(code)
        return None if state is None else row_of(state.opened, state.closed)

    async def require_open(self, code: str) -> PollState:
        """The poll from its stream (not the view, which may lag behind a close): 404 unknown,
        409 not open."""
        state = await self.repo.state(code)
        with http_errors():
            if state is None:
                raise PollNotFound(code)
            check_open(state, self.now())
        return state

    # --- citizens -----------------------------------------------------------------------------
    async def request_code(self, code: str, raw: str, field: str, address: str) -> CodeSentOut:
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
        return CodeSentOut(
            poll=code,
            sent_to=identity.masked,
            channel="sms" if identity.kind == "phone" else "email",
            expires_in=int(self.codes.ttl),
        )

    async def answer(self, code: str, body: AnswerIn, address: str, cid: str) -> AnswerOut:
        await self.require_open(code)  # a late answer is refused before any code is tried
        identity = parse_identity(body.identity)
        # One try reserved before the check is awaited, given back unless the code was wrong:
        # the budget holds however many tries arrive at once.
        wait = self.intake.failed_codes.hit(address)
        if wait > 0:
            raise too_many(wait, "code")
        checked = await asyncio.to_thread(
            self.codes.check, code, identity, body.code, self.now().timestamp()
        )
        if checked != "wrong":
            self.intake.failed_codes.refund(address)
        if checked != "ok":
            raise HTTPException(
                403,
                {
                    "wrong": "code: wrong verification code",
                    "expired": "code: no valid code for this identity; request a new one",
                    "locked": "code: too many wrong tries; request a new code",
                }[checked],
            )
        command = self.repo.opinion(
            code,
            voter_hash=voter_hash(self.secret, code, identity.value),
            answers=body.raw_answers(),
            channel=Channel.WEB,
            now=self.now(),
            comment=body.comment,
            region_code=known_region(body.region_code),
        )
        with http_errors():
            events = await self.repo.execute(
                code, command, Meta(actor=VOTER, correlation_id=cid), retry_on_conflict=True
            )
        await asyncio.to_thread(self.codes.consume, code, identity)
        outcome = outcome_of(events)
        log.info("poll_answered", poll=code, channel="web", outcome=outcome)
        return AnswerOut(poll=code, outcome=outcome)

    # --- everyone -----------------------------------------------------------------------------
    async def listing(
        self, status: str | None, region: str | None, agency: str | None, limit: int
    ) -> list[PollOut]:
        rows = await self.view.polls(region, agency)
        now = self.now()
        published = await self.view.published_codes()
        out = [poll_out(r, now, published=r["code"] in published) for r in rows]
        if status:
            out = [p for p in out if p.status == status]
        return out[:limit]

    async def one(self, code: str) -> PollOut:
        row = await self.row(code)
        if row is None:
            raise HTTPException(404, "poll not found")
        response = await self.view.response(code)
        published = await self.view.published(code)
        return poll_out(row, self.now(), response, published)

    async def results(
        self, code: str, officer: Principal | None, cid: str
    ) -> ResultsOut | OwnerResultsOut:
        """Published results; 409 while sealed, for everyone."""
        row = await self.row(code)
        if row is None:
            raise HTTPException(404, "poll not found")
        owner = officer is not None and (
            (officer.role is Role.ADMIN and officer.covers_region(row["region_code"]))
            or (officer.role is Role.AGENCY and officer.agency == row["agency_code"])
        )
        questions = json.loads(row["questions"])
        stored = await self.view.results(code)
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

    async def document(self, code: str, which: Literal["draft", "response"]) -> Document:
        """The draft policy's document or the response's, for anyone (they are public)."""
        row = await self.row(code) if which == "draft" else await self.view.response(code)
        meta = json.loads(row["attachment"]) if row is not None and row["attachment"] else None
        path = self.intake.attachments.path_of(meta["sha256"]) if meta else None
        if meta is None or path is None or not path.is_file():
            raise HTTPException(404, "attachment not found")
        return Document(path, meta["media_type"], meta["name"])

    # --- institutions -------------------------------------------------------------------------
    async def open_poll(self, body: PollIn, officer: Principal, cid: str) -> PollOut:
        if officer.role is Role.AGENCY:
            if body.agency_code is not None and body.agency_code != officer.agency:
                raise HTTPException(403, "agency_code: an agency opens polls for itself only")
            agency = officer.agency
        else:
            agency = body.agency_code
            if not officer.covers_region(body.region_code):
                raise HTTPException(403, "region_code: outside your region")
        if agency is None:
            raise field_error("agency_code", "an administrator names the consulting institution")
        now = self.now()
        questions = questions_of(body)
        attachment = self.attachment(body.attachment)
        meta = Meta(actor=officer_actor(officer), correlation_id=cid)
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
                region_code=known_region(body.region_code),
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
            await self.caught_up(events)
            opened = decide(None, command)[0]
            assert isinstance(opened, PollOpened)
            return poll_out(row_of(opened), now)
        raise HTTPException(503, "code: no free poll code found; try again")

    async def close(self, code: str, officer: Principal, cid: str) -> ClosedOut:
        by = officer.agency if officer.role is Role.AGENCY else None
        meta = Meta(actor=officer_actor(officer), correlation_id=cid)
        await self.require_in_region(code, officer)
        with http_errors():
            events = await self.repo.execute(code, self.repo.closing(code, self.now(), by), meta)
            state = await self.repo.state(code)
        if state is None or state.closed is None:  # pragma: no cover - decide closed it
            raise HTTPException(404, "poll not found")
        await self.caught_up(events)
        return ClosedOut(
            code=code,
            status="closed",
            closed_at=state.closed.closed_at.isoformat(),
            close_reason=state.closed.reason,
            results_published=state.results is not None,
        )

    async def respond(
        self, code: str, body: ResponseIn, officer: Principal, cid: str
    ) -> RespondedOut:
        by = officer.agency if officer.role is Role.AGENCY else None
        attachment = self.attachment(body.attachment)
        meta = Meta(actor=officer_actor(officer), correlation_id=cid)
        await self.require_in_region(code, officer)
        with http_errors():
            state = await self.repo.state(code)
            if state is not None and by is not None and by != state.opened.agency_code:
                raise NotYourPoll(f"poll {code} belongs to {state.opened.agency_code}")
            await self.repo.close_if_due(code, cid)
            command = PublishResponse(
                text=body.text, now=self.now(), by_agency=by, attachment=attachment
            )
            events = await self.repo.execute(code, command, meta)
        await self.caught_up(events)
        return RespondedOut(code=code, published=bool(events), text=body.text.strip())

    async def require_in_region(self, code: str, officer: Principal) -> None:
        """A regional administrator acts only on the polls of their region (403 elsewhere, and
        on national polls); 404 for a poll that does not exist."""
        if officer.role is not Role.ADMIN or officer.region is None:
            return
        state = await self.repo.state(code)
        if state is None:
            raise HTTPException(404, "poll not found")
        if not officer.covers_region(state.opened.region_code):
            raise HTTPException(
                403, f"Authorization: poll {code} is outside your region {officer.region}"
            )

    def attachment(self, ref: AttachmentIn | None) -> Attachment | None:
        if ref is None:
            return None
        try:
            return self.intake.attachments.resolve(ref.sha256, ref.name, ref.upload_token)
        except DomainError:  # nothing uploaded under this sha256 by this caller
            raise HTTPException(
                400,
                "attachment: no file uploaded by you with this sha256 and upload_token"
                " (POST /api/v1/attachments answers both)",
            ) from None

    async def caught_up(self, events: Sequence[RecordedEvent]) -> None:
        """Read your writes: the view shows what was just appended before the answer goes out."""
        if events:
            await self.ctx.caught_up(events[-1].position)

    # --- the closing job ----------------------------------------------------------------------
    async def close_due(self) -> int:
        """Close every poll past its closes_at; returns how many were closed."""
        closed = 0
        for code in await self.view.due(self.now().timestamp()):
            try:
                closed += bool(await self.repo.close_if_due(code, f"poll-close-{code}"))
            except (PollError, StoreError) as error:
                log.warning("poll_close_failed", poll=code, error_type=type(error).__name__)
        return closed

    async def close_on_schedule(self) -> int:
        """The periodic job (`close-polls`): close every poll whose closing time has passed."""
        closed = await self.close_due()
        if closed:
            log.info("polls_closed_on_schedule", count=closed)
        return closed

    async def close_resources(self) -> None:
        await self.sender.close()
        self.codes.close()


def officer_actor(officer: Principal) -> Actor:
    return Actor(kind="agency" if officer.role is Role.AGENCY else "admin", id=officer.subject)


def new_poll_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def field_error(field: str, msg: str) -> HTTPException:
    """400 naming one field of the body, in the shape of FastAPI's validation errors."""
    return HTTPException(400, [{"loc": ["body", field], "field": field, "msg": msg}])


def known_region(code: str | None) -> str | None:
    if code is not None and regions.name_of(code) is None:
        raise field_error("region_code", "unknown region code")
    return code


def questions_of(body: PollIn) -> tuple[PollQuestion, ...]:
    try:
        return body.poll_questions()
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise HTTPException(400, f"questions: {where} {first.get('msg', 'invalid')}") from None


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


# --- the answers' shapes ----------------------------------------------------------------------
def _phase_of_row(row: Row, now: datetime) -> Literal["upcoming", "open", "closed"]:
    if row["closed_at"] is not None or now.timestamp() >= row["closes_ts"]:
        return "closed"
    if now.timestamp() < row["opens_ts"]:
        return "upcoming"
    return "open"


def poll_out(
    row: Row, now: datetime, response: Row | None = None, published: bool = False
) -> PollOut:
    questions = json.loads(row["questions"])
    code = row["code"]
    return PollOut(
        code=code,
        title=row["title"],
        policy_text=row["policy_text"],
        attachment=json.loads(row["attachment"]) if row["attachment"] else None,
        attachment_url=f"{WEB_BASE}/{code}/dokumen" if row["attachment"] else None,
        questions=questions,
        allow_comment=bool(row["allow_comment"]),
        region_code=row["region_code"],
        region_name=regions.name_of(row["region_code"]),
        agency_code=row["agency_code"],
        opens_at=row["opens_at"],
        closes_at=row["closes_at"],
        status=_phase_of_row(row, now),
        closed_at=row["closed_at"],
        close_reason=row["close_reason"],
        results_published=published,
        response=None
        if response is None
        else ResponseOut(
            agency_code=response["agency_code"],
            text=response["text"],
            attachment=json.loads(response["attachment"]) if response["attachment"] else None,
            attachment_url=f"{WEB_BASE}/{code}/tanggapan/dokumen"
            if response["attachment"]
            else None,
            published_at=response["published_at"],
        ),
        sms="POLL " + code + " " + " ".join(q["choices"][0]["key"] for q in questions),
    )


def results_out(
    code: str, questions: list[dict[str, Any]], results: dict[str, Any], owner: bool
) -> ResultsOut | OwnerResultsOut:
    shown = suppress_small_groups(
        {k: RegionResult.model_validate(v) for k, v in results["by_region"].items()}
    )
    public = ResultsOut(
        code=code,
        total_voters=results["total_voters"],
        tallies=results["tallies"],
        questions=[
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
        by_region={
            region: {"name": region_name(region), **counts.model_dump(mode="json")}
            for region, counts in shown.items()
        },
        by_channel=results["by_channel"],
        comment_count=len(results["comments"]),
        published_at=results.get("published_at"),
    )
    if not owner:
        return public
    # free text may name people: the institution and administrators read it
    comments = [
        CommentOut.model_validate(c if c.get("region_code") in shown else c | {"region_code": None})
        for c in results["comments"]
    ]
    return OwnerResultsOut(**dict(public), comments=comments)


def region_name(code: str) -> str | None:
    if code == OTHER_REGIONS:
        return OTHER_REGIONS_NAME
    return regions.name_of(code)


# What the smaller groups are called together (results by region show no group under 5 voters).
OTHER_REGIONS_NAME = f"Wilayah lain (masing-masing < {MIN_GROUP} orang) / other regions"


def _results_dict(payload: PollResultsPublished, at: str | None) -> dict[str, Any]:
    return {
        "total_voters": payload.total_voters,
        "tallies": payload.tallies,
        "by_region": {k: v.model_dump(mode="json") for k, v in payload.by_region.items()},
        "by_channel": payload.by_channel,
        "comments": [c.model_dump(mode="json") for c in payload.comments],
        "published_at": at,
    }
