"""The verification desk's use cases: who may act on what, one command per action, and what to
tell an administrator when someone else acted first.

Edges (the JSON API in `api.py` and the HTML console in `pages.py`) parse input, call these, and
translate the errors: `Forbidden` → 403, `Conflict` → 409 with the report's current state,
`Invalid` → 422 naming the field, `ReportNotFound` → 404. The answers are the response models of
`models.py`.

Idempotency: an `Idempotency-Key` becomes fixed event ids (a retry returns the first answer).
Without a key, a repeated action is harmless too: the domain decides nothing new, and the desk
answers 200 "unchanged" when the same administrator did it, and 409 when another administrator
made that decision first (so nobody believes their different category or reason was applied).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import structlog
from prometheus_client import Counter, Gauge, Histogram

from services.verification import views
from services.verification.errors import Forbidden as Forbidden  # re-exported for the edges
from services.verification.errors import Invalid as Invalid
from services.verification.models import (
    ActionOutcome,
    ActorOut,
    Amendment,
    BulkConflict,
    BulkDone,
    BulkNotFound,
    BulkResult,
    BulkVerifyOut,
    ConflictDetail,
    DeskLocation,
    DuplicateLink,
    DuplicateSuggestion,
    EventSummary,
    HistoryEntry,
    ProtectionIn,
    QueueRow,
    ReportDetail,
    ReturnedInfo,
    StateSummary,
    TimeLeft,
    VerifyIn,
)
from services.verification.process import (
    closes_on,
    completion_note,
    forward_choices,
    forward_command,
    verification_due,
)
from services.verification.similarity import (
    NEARBY_METRES,
    WINDOW_DAYS,
    Similarity,
    haversine_metres,
    jaccard,
)
from services.verification.views import QueueFilter
from shared.auth import Principal
from shared.calendar import WorkingDayCalendar, local_date, timezone_for_region
from shared.clock import Clock
from shared.directory.model import load_categories
from shared.errors import DomainError
from shared.events.base import Actor
from shared.logs import get_logger
from shared.reports.commands import (
    ChangeProtection,
    Command,
    ForwardReport,
    PostponeReport,
    ReferReport,
    RejectReport,
    ReplyAsAdministrator,
    RequestCompletion,
    SetPublicText,
    VerifyReport,
)
from shared.reports.events import RejectionReason, Status
from shared.reports.lifecycle import InvalidTransition, ReportNotFound, ReportState, decide
from shared.reports.policy import DEFAULT_POLICY, SlaPolicy
from shared.runtime.access_audit import record_confidential_read  # security hook (issue 12)
from shared.runtime.directory import LiveDirectory
from shared.runtime.projection import Projector, ViewReader
from shared.runtime.repository import Meta, ReportRepository
from shared.store.port import RecordedEvent, WrongExpectedVersion

log = get_logger(__name__)

ACTIONS_TOTAL = Counter(
    "lapor_verification_actions_total",
    "Administrators' actions at the verification desk, by outcome",
    ["action", "outcome"],
)
QUEUE_DEPTH = Gauge(
    "lapor_verification_queue_depth",
    "Reports waiting at the verification desk, by status",
    ["status"],
)
TIME_TO_VERIFY = Histogram(
    "lapor_time_to_verify_seconds",
    "From submission to verification",
    buckets=(3600, 4 * 3600, 8 * 3600, 86400, 2 * 86400, 3 * 86400, 5 * 86400, 10 * 86400),
)


@dataclass(frozen=True)
class Action:
    name: str
    event_type: str
    # A decision (verify, reject, request completion) that another admin already took is a
    # conflict; setting a value that is already set (postpone, refer, protection) is not.
    decision: bool


ACTIONS: dict[type[Command], Action] = {
    VerifyReport: Action("verify", "ReportVerified", True),
    RejectReport: Action("reject", "ReportRejected", True),
    RequestCompletion: Action("request-completion", "ReportCompletionRequested", True),
    PostponeReport: Action("postpone", "ReportPostponed", False),
    ReferReport: Action("not-our-authority", "ReportReferred", False),
    ChangeProtection: Action("protection", "ProtectionChanged", False),
    # A returned report forwarded again (a different institution than another admin chose is a
    # conflict the domain reports: the report is with an institution again).
    ForwardReport: Action("forward", "ForwardedToOPD", False),
    ReplyAsAdministrator: Action("reply", "AdministratorReplied", False),
    SetPublicText: Action("public-text", "PublicTextSet", False),
}


class Conflict(Exception):
    """Someone else changed the report first, or its status does not allow the action (409)."""

    def __init__(self, msg: str, state: ReportState | None, last: RecordedEvent | None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.state = state
        self.last = last

    def detail(self) -> ConflictDetail:
        return ConflictDetail(
            msg=self.msg,
            status=self.state.status if self.state else None,
            current_version=self.state.version if self.state else 0,
            current=state_summary(self.state) if self.state else None,
            last_event=event_summary(self.last) if self.last else None,
        )


def state_summary(s: ReportState) -> StateSummary:
    return StateSummary.model_validate(s, from_attributes=True)


def event_summary(e: RecordedEvent) -> EventSummary:
    return EventSummary(
        event_type=e.event_type,
        occurred_at=e.occurred_at.isoformat(),
        actor=ActorOut(kind=e.actor.kind, id=e.actor.id),
    )


@dataclass(frozen=True)
class Outcome:
    tracking_id: str
    action: str
    status: str
    changed: bool
    events: tuple[str, ...]
    version: int
    position: int | None = None

    def answer(self) -> ActionOutcome:
        return ActionOutcome.model_validate(
            {
                "tracking_id": self.tracking_id,
                "action": self.action,
                "status": self.status,
                "changed": self.changed,
                "events": list(self.events),
                "version": self.version,
            }
        )


def admin_actor(principal: Principal) -> Actor:
    return Actor(kind="admin", id=principal.subject)


def scoped_region(principal: Principal, region: str | None) -> str | None:
    """The region filter a principal may use: theirs, or a part of it; 403 outside it."""
    if principal.region is None:
        return region
    if region is None or principal.region.startswith(region):
        return principal.region
    if region.startswith(principal.region):
        return region
    raise Forbidden(f"region: {region} is outside your region {principal.region}")


# --- from a request to a command ----------------------------------------------------------------
def categories() -> list[dict[str, str]]:
    """The shared category list (code and name); empty if it cannot be read."""
    try:
        return [{"code": c.code, "name": c.name} for c in load_categories()]
    except (OSError, ValueError):
        return []


@lru_cache(maxsize=1)
def category_codes() -> frozenset[str]:
    """The category codes of the shared category list (empty if it cannot be read)."""
    return frozenset(c["code"] for c in categories())


def check_category(code: str | None) -> None:
    known = category_codes()
    if code is not None and known and code not in known:
        raise Invalid("category", f"unknown category {code!r}")


def verify_command(body: VerifyIn) -> VerifyReport:
    """A region given on its own wins over the region of a corrected location."""
    check_category(body.category)
    region = body.region_code or (body.location.region_code if body.location else None)
    location = body.location
    if location is not None and region is not None and location.region_code != region:
        location = location.model_copy(update={"region_code": region})
    # The command has the request's fields, the region and location reconciled.
    return VerifyReport(**dict(body) | {"region_code": region, "location": location})


def protection_command(body: ProtectionIn) -> ChangeProtection:
    if body.anonymous is None and body.confidential is None:
        raise Invalid("anonymous", "give anonymous, confidential or both")
    return ChangeProtection(
        anonymous=body.anonymous, confidential=body.confidential, note=body.note
    )


# --- the desk ------------------------------------------------------------------------------------
class Desk:
    def __init__(
        self,
        reports: ReportRepository,
        projector: Projector,
        clock: Clock,
        calendar: WorkingDayCalendar | None = None,
        caught_up: Callable[[int | None], Awaitable[bool]] | None = None,
        directory: LiveDirectory | None = None,
        policy: SlaPolicy = DEFAULT_POLICY,
    ) -> None:
        self.reports = reports
        self.caught_up = caught_up or _nothing_to_wait_for
        self.projector = projector
        self.reader = ViewReader(projector.path)
        self.clock = clock
        # The calendar the deadlines were derived with (for the working days left until them).
        self.calendar = calendar or WorkingDayCalendar.default()
        self.directory = directory or LiveDirectory(reports.store)
        self.policy = policy

    # -- commands that carry the process's dates (see process.py) --
    async def completion_command(self, tracking_id: str, note: str) -> RequestCompletion:
        """The request, saying when the report closes as incomplete without an answer."""
        state, _ = await self.reports.load(tracking_id)
        region = state.region_code if state is not None else None
        closing = closes_on(self.now(), region, self.calendar, self.policy)
        days = self.policy.national.completion_expiry.days
        return RequestCompletion(note=completion_note(note, closing, days))

    async def postpone_command(
        self, tracking_id: str, until: date, note: str | None
    ) -> PostponeReport:
        """Postponing hides the report from the queue until `until`, never past its due date."""
        self.check_postpone(until)
        _, events = await self.reports.load(tracking_id)
        due = verification_due(tracking_id, events, self.calendar, self.policy)
        return PostponeReport(until=until, note=note, due=due)

    async def agency_choices(self, report: ReportDetail) -> list[tuple[str, str]]:
        """Where the console offers to forward a returned report (code, name), best first."""
        suggested = report.returned.suggested_agency if report.returned else None
        region = report.location.region_code
        return forward_choices(await self.directory.get(), region, suggested)

    async def forward_command(self, tracking_id: str, agency_code: str) -> ForwardReport:
        state, _ = await self.reports.load(tracking_id)
        region = state.region_code if state is not None else None
        return forward_command(
            await self.directory.get(), agency_code, region, self.now(), self.calendar, self.policy
        )

    # -- commands --
    async def load_for(
        self, principal: Principal, tracking_id: str
    ) -> tuple[ReportState, list[RecordedEvent]]:
        state, history = await self.reports.load(tracking_id)
        if state is None:
            raise ReportNotFound("no such report")
        if not principal.covers_region(state.region_code):
            raise Forbidden(
                f"tracking_id: report {tracking_id} is outside your region {principal.region}"
            )
        return state, history

    def check_target(self, principal: Principal, command: Command) -> None:
        """A regional admin may not verify a report into another region."""
        region = command.region_code if isinstance(command, VerifyReport) else None
        if region is not None and not principal.covers_region(region):
            raise Forbidden(f"region_code: {region} is outside your region {principal.region}")

    async def act(
        self,
        tracking_id: str,
        command: Command,
        principal: Principal,
        correlation_id: str,
        idempotency_key: str | None = None,
        *,
        client_key: bool = False,
    ) -> Outcome:
        """One action on one report; answers once this service's views show it (read your
        writes), so the next page the admin opens includes it. `client_key`: the key is the
        client's own `Idempotency-Key`; sent before with another request it is refused
        (`KeyReused`) rather than answered with what the first one did."""
        outcome = await self._attempt(
            tracking_id, command, principal, correlation_id, idempotency_key, client_key
        )
        await self.caught_up(outcome.position)
        return outcome

    async def _attempt(
        self,
        tracking_id: str,
        command: Command,
        principal: Principal,
        correlation_id: str,
        idempotency_key: str | None,
        client_key: bool = False,
    ) -> Outcome:
        action = ACTIONS[type(command)]
        structlog.contextvars.bind_contextvars(tracking_id=tracking_id)
        try:
            outcome = await self._act(
                tracking_id, command, action, principal, correlation_id, idempotency_key, client_key
            )
        except Conflict:
            ACTIONS_TOTAL.labels(action.name, "conflict").inc()
            log.info("action_conflict", action=action.name, admin=principal.subject)
            raise
        except Forbidden:
            ACTIONS_TOTAL.labels(action.name, "forbidden").inc()
            raise
        ACTIONS_TOTAL.labels(action.name, "changed" if outcome.changed else "unchanged").inc()
        log.info(
            "action_done", action=action.name, changed=outcome.changed, admin=principal.subject
        )
        return outcome

    async def _act(
        self,
        tracking_id: str,
        command: Command,
        action: Action,
        principal: Principal,
        correlation_id: str,
        idempotency_key: str | None,
        client_key: bool,
    ) -> Outcome:
        state, _ = await self.load_for(principal, tracking_id)
        self.check_target(principal, command)
        actor = admin_actor(principal)
        meta = Meta(
            actor=actor,
            correlation_id=correlation_id,
            idempotency_key=(
                f"verification:{action.name}:{principal.subject}:{idempotency_key}"
                if idempotency_key
                else None
            ),
        )
        raced = False
        try:
            if client_key:  # a forward's due date is worked out anew by a retry
                stored = await self.reports.execute_once(
                    tracking_id, command, meta, worked_out=("follow_up_due",)
                )
            else:
                stored = await self.reports.execute(tracking_id, command, meta)
        except WrongExpectedVersion:
            raced, stored = True, []
        except InvalidTransition as error:
            now_state, history = await self.reports.load(tracking_id)
            raise Conflict(str(error), now_state, history[-1] if history else None) from error
        if stored:
            if isinstance(command, VerifyReport) and stored[-1].stream_version > state.version:
                TIME_TO_VERIFY.observe(
                    (stored[-1].occurred_at - state.submitted_at).total_seconds()
                )
            return await self._outcome(tracking_id, action, stored)
        # Nothing new was stored: a repeat, or someone else got there first.
        current, history = await self.reports.load(tracking_id)
        assert current is not None
        last = history[-1] if history else None
        if raced:
            try:
                would = decide(current, command)
            except InvalidTransition as error:
                raise Conflict(str(error), current, last) from error
            except DomainError:
                would = []
            if would:
                raise Conflict(
                    "someone else changed this report first; reload and decide again",
                    current,
                    last,
                )
        if action.decision:
            previous = next(
                (e for e in reversed(history) if e.event_type == action.event_type), None
            )
            if previous is not None and previous.actor != actor:
                raise Conflict(
                    f"another administrator ({previous.actor.id}) already did this",
                    current,
                    previous,
                )
        return Outcome(
            tracking_id=tracking_id,
            action=action.name,
            status=current.status.value,
            changed=False,
            events=(),
            version=current.version,
        )

    async def _outcome(
        self, tracking_id: str, action: Action, stored: Sequence[RecordedEvent]
    ) -> Outcome:
        current, _ = await self.reports.load(tracking_id)
        assert current is not None
        return Outcome(
            tracking_id=tracking_id,
            action=action.name,
            status=current.status.value,
            changed=True,
            events=tuple(e.event_type for e in stored),
            version=current.version,
            position=max(e.position for e in stored),
        )

    async def bulk_verify(
        self,
        tracking_ids: Sequence[str],
        principal: Principal,
        correlation_id: str,
        idempotency_key: str | None = None,
    ) -> BulkVerifyOut:
        """Verify each report as submitted. Authorization is all or nothing; the rest per report.
        Answers once this service's views show every change."""
        unique = list(dict.fromkeys(tracking_ids))
        found: dict[str, ReportState] = {}
        outside: list[str] = []
        for tracking_id in unique:
            state, _ = await self.reports.load(tracking_id)
            if state is None:
                continue
            found[tracking_id] = state
            if not principal.covers_region(state.region_code):
                outside.append(tracking_id)
        if outside:
            ACTIONS_TOTAL.labels("bulk-verify", "forbidden").inc()
            raise Forbidden(
                f"tracking_ids: {', '.join(outside)} outside your region {principal.region}"
            )
        results: list[BulkResult] = []
        positions: list[int] = []
        for tracking_id in unique:
            if tracking_id not in found:
                results.append(
                    BulkNotFound(tracking_id=tracking_id, outcome="not_found", status=None)
                )
                continue
            try:
                outcome = await self._attempt(
                    tracking_id,
                    VerifyReport(),
                    principal,
                    correlation_id,
                    f"bulk:{idempotency_key}" if idempotency_key else None,
                )
            except Conflict as conflict:
                results.append(
                    BulkConflict(
                        tracking_id=tracking_id,
                        outcome="conflict",
                        status=conflict.state.status if conflict.state else None,
                        detail=conflict.msg,
                    )
                )
                continue
            if outcome.position is not None:
                positions.append(outcome.position)
            results.append(
                BulkDone.model_validate(
                    {
                        "tracking_id": tracking_id,
                        "outcome": "verified" if outcome.changed else "unchanged",
                        "status": outcome.status,
                        "events": list(outcome.events),
                    }
                )
            )
        await self.caught_up(max(positions) if positions else None)
        return BulkVerifyOut(
            results=results,
            verified=sum(1 for r in results if r.outcome == "verified"),
        )

    async def reject_command(
        self,
        reason: RejectionReason | None,
        note: str | None,
        duplicate_of: str | None,
        tracking_id: str,
    ) -> RejectReport:
        """A rejection, checked: a duplicate names an existing, different report."""
        if duplicate_of is not None:
            if duplicate_of == tracking_id:
                raise Invalid("duplicate_of", "a report cannot duplicate itself")
            original, _ = await self.reports.load(duplicate_of)
            if original is None:
                raise Invalid("duplicate_of", f"no report {duplicate_of}")
            if reason is None:
                reason = RejectionReason.DUPLICATE
            elif reason is not RejectionReason.DUPLICATE:
                raise Invalid("duplicate_of", "only a rejection as duplicate names an original")
        if reason is None:
            raise Invalid("reason", "a rejection needs a reason")
        if reason is RejectionReason.DUPLICATE and duplicate_of is None:
            raise Invalid("duplicate_of", "a duplicate must name the report it duplicates")
        return RejectReport(reason=reason, note=note, duplicate_of=duplicate_of)

    def check_postpone(self, until: date) -> None:
        today = self.today()
        if until <= today:
            raise Invalid("until", f"must be after today ({today.isoformat()})")
        if until > today + timedelta(days=366):
            raise Invalid("until", "must be within a year")

    # -- reads --
    def now(self) -> datetime:
        return self.clock.now()

    def today(self, region_code: str | None = None) -> date:
        return local_date(self.now(), timezone_for_region(region_code))

    def time_left(self, row: Any, now: datetime) -> TimeLeft | None:
        """The desk's deadline of a report (verification, or re-forwarding a returned one), as
        the view derived it (with ``shared.reports.deadlines``), counted down to `now` in the
        report's region."""
        if row["deadline_stage"] is None:
            return None
        if row["paused"]:
            return TimeLeft(
                due_date=None,
                due_at=None,
                seconds_left=None,
                working_days_left=row["clock_days"],
                overdue=False,
                paused=True,
            )
        if row["due_date"] is None:
            return None
        region = row["region_code"]
        zone = timezone_for_region(region)
        due = date.fromisoformat(row["due_date"])
        end = datetime.fromisoformat(row["due_at"]).astimezone(zone)
        return TimeLeft(
            due_date=due,
            due_at=end.isoformat(),
            seconds_left=round((end - now).total_seconds(), 3),
            working_days_left=self.calendar.working_days_between(
                local_date(now, zone), due, region
            ),
            overdue=now > end,
            paused=False,
        )

    def row_fields(self, row: Any, now: datetime) -> dict[str, Any]:
        return {
            "tracking_id": row["tracking_id"],
            "status": row["status"],
            "classification": row["classification"],
            "title": row["title"],
            "body": row["body"],
            "amendments": [Amendment.model_validate(a) for a in json.loads(row["amendments"])],
            "category": row["category"],
            "suggested_category": row["suggested_category"],
            "suggested_region": row["suggested_region"],
            "location": DeskLocation(
                lat=row["lat"],
                lon=row["lon"],
                region_code=row["region_code"],
                address=row["address"],
            ),
            "channel": row["channel"],
            "anonymous": bool(row["anonymous"]),
            "confidential": bool(row["confidential"]),
            "requires_field_inspection": bool(row["requires_field_inspection"]),
            "agency_code": row["agency_code"],
            "submitted_at": row["submitted_at"],
            "updated_at": row["updated_at"],
            "version": row["version"],
            "postponed_until": row["postponed_until"],
            "completion_requested_at": row["completion_requested_at"],
            "completion_note": row["completion_note"],
            "verification_breached": bool(row["breached"]),
            "time_left": self.time_left(row, now),
            "deadline_stage": row["deadline_stage"],
            "reforward_breached": bool(row["reforward_breached"]),
            "amended_after_request": bool(row["amended_after_request"]),
            "returned": (
                ReturnedInfo(
                    by=row["returned_from"],
                    reason=row["return_reason"],
                    note=row["return_note"],
                    suggested_agency=row["suggested_agency"],
                )
                if row["status"] == Status.RETURNED.value
                else None
            ),
            "public_title": row["public_title"],
            "public_body": row["public_body"],
        }

    async def queue(self, principal: Principal, f: QueueFilter) -> tuple[list[QueueRow], int]:
        region = scoped_region(principal, f.region)
        f = replace(f, region=region)
        now = self.now()
        rows, total = await views.queue(self.reader, f, now, self.today(principal.region))
        return [QueueRow.model_validate(self.row_fields(r, now)) for r in rows], total

    async def visible_row(self, principal: Principal, tracking_id: str) -> Any:
        row = await views.report(self.reader, tracking_id)
        if row is None:
            raise ReportNotFound("no such report")
        if not principal.covers_region(row["region_code"]):
            raise Forbidden(
                f"tracking_id: report {tracking_id} is outside your region {principal.region}"
            )
        return row

    async def detail(self, principal: Principal, tracking_id: str) -> ReportDetail:
        row = await self.visible_row(principal, tracking_id)
        if row["confidential"]:
            # Security hook (issue 12, access audit): recorded before the detail is returned.
            await record_confidential_read(
                self.reports.store,
                principal,
                tracking_id,
                service="verification",
                what="desk_detail",
                at=self.now(),
            )
        events = await views.history(self.reader, tracking_id)
        links = await views.duplicates_of(self.reader, tracking_id)
        return ReportDetail.model_validate(
            self.row_fields(row, self.now())
            | {
                "verified_at": row["verified_at"],
                "rejected_reason": row["rejected_reason"],
                "duplicate_of": row["duplicate_of"],
                "decided_by": row["decided_by"],
                "duplicates": [
                    DuplicateLink(tracking_id=link["tracking_id"], linked_at=link["linked_at"])
                    for link in links
                ],
                "history": [
                    HistoryEntry(
                        event_type=e["event_type"],
                        occurred_at=e["occurred_at"],
                        stream_version=e["stream_version"],
                        actor=ActorOut(kind=e["actor_kind"], id=e["actor_id"]),
                        details=json.loads(e["details"]),
                    )
                    for e in events
                ],
            }
        )

    async def duplicates(
        self, principal: Principal, tracking_id: str, limit: int = 10
    ) -> list[DuplicateSuggestion]:
        """Likely duplicates: similar words or within ~500 m, submitted within 30 days either
        side, from any channel and in any status, that the caller may see; best first (ties:
        closest in time first)."""
        target = await self.visible_row(principal, tracking_id)
        words = set(target["tokens"].split())
        found: list[tuple[Similarity, Any]] = []
        for row in await views.candidates(
            self.reader, target, timedelta(days=WINDOW_DAYS), NEARBY_METRES
        ):
            if not principal.covers_region(row["region_code"]):
                continue
            distance = None
            if None not in (target["lat"], target["lon"], row["lat"], row["lon"]):
                distance = haversine_metres(target["lat"], target["lon"], row["lat"], row["lon"])
            similarity = Similarity(
                text=round(jaccard(words, row["tokens"].split()), 4),
                distance_m=round(distance, 1) if distance is not None else None,
                same_category=bool(target["category"]) and target["category"] == row["category"],
            )
            if similarity.likely:
                found.append((similarity, row))
        submitted = datetime.fromisoformat(target["submitted_at"])

        def apart(row: Any) -> float:
            return abs((datetime.fromisoformat(row["submitted_at"]) - submitted).total_seconds())

        found.sort(key=lambda pair: (-pair[0].score, apart(pair[1])))
        return [
            DuplicateSuggestion.model_validate(
                {
                    "tracking_id": row["tracking_id"],
                    "title": row["title"],
                    "status": row["status"],
                    "channel": row["channel"],
                    "category": row["category"],
                    "region_code": row["region_code"],
                    "submitted_at": row["submitted_at"],
                    "text_similarity": s.text,
                    "distance_m": s.distance_m,
                    "score": s.score,
                    "reasons": s.reasons,
                }
            )
            for s, row in found[:limit]
        ]

    async def refresh_queue_depth(self) -> None:
        counts = {r["status"]: r["n"] for r in await views.count_open(self.reader)}
        for status in (Status.SUBMITTED, Status.COMPLETION_REQUESTED, Status.RETURNED):
            QUEUE_DEPTH.labels(status.value).set(counts.get(status.value, 0))


async def _nothing_to_wait_for(position: int | None) -> bool:
    return True
