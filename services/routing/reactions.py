"""Routing's reactions: forward every verified report, and keep the live directory current.

Idempotent: the forward for a ReportVerified uses the key `routing:forward:<event_id>`, so a
redelivered event finds its ForwardedToOPD already stored and appends nothing. Its due date is
counted from the ReportVerified's own time, so a redelivery decides exactly the same thing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import Counter

from services.routing.decisions import choose, usable_region
from shared.calendar import WorkingDayCalendar
from shared.directory.events import DIRECTORY_STREAM
from shared.events.base import Actor
from shared.logs import get_logger
from shared.reports.commands import ForwardReport
from shared.reports.events import ReportVerified, Status
from shared.reports.lifecycle import InvalidTransition
from shared.reports.policy import DEFAULT_POLICY, SlaPolicy
from shared.runtime.directory import LiveDirectory
from shared.runtime.repository import Meta, ReportRepository, done_before
from shared.store.port import RecordedEvent

log = get_logger(__name__)
ROUTING_ACTOR = Actor(kind="system", id="routing")
FORWARDED = Counter(
    "lapor_routing_forwarded_total",
    "Verified reports forwarded automatically, by how the institution was chosen",
    ["routed_by"],
)


def make_react(
    reports: ReportRepository,
    directory: LiveDirectory,
    calendar: WorkingDayCalendar,
    policy: SlaPolicy = DEFAULT_POLICY,
) -> Callable[[RecordedEvent], Awaitable[None]]:
    async def react(event: RecordedEvent) -> None:
        if event.stream == DIRECTORY_STREAM:
            if not directory.observe(event):
                await directory.refresh()
            return
        if event.event_type == ReportVerified.event_type and event.stream.startswith("report-"):
            await forward_verified(reports, directory, calendar, event, policy)

    return react


async def forward_verified(
    reports: ReportRepository,
    directory: LiveDirectory,
    calendar: WorkingDayCalendar,
    event: RecordedEvent,
    policy: SlaPolicy = DEFAULT_POLICY,
) -> None:
    verified = event.payload()
    assert isinstance(verified, ReportVerified)
    tracking_id = event.stream.removeprefix("report-")
    key = f"routing:forward:{event.event_id}"
    state, history = await reports.load(tracking_id)
    done = bool(done_before(event.stream, history, key))
    if state is None or (state.status is not Status.VERIFIED and not done):
        # Forwarded by hand (and maybe returned since) before this reaction ran: a late
        # automatic forward must not undo what people decided.
        log.info("forward_skipped", tracking_id=tracking_id, status=str(state and state.status))
        return
    choice = choose(
        await directory.get(), verified.region_code, verified.category, verified.agency_code
    )
    if verified.agency_code and choice.routed_by != "admin":
        log.warning(
            "admin_choice_unknown",
            tracking_id=tracking_id,
            agency_code=verified.agency_code,
            routed_to=choice.agency_code,
        )
    limits = policy.policy_for(choice.agency_code)
    command = ForwardReport(
        agency_code=choice.agency_code,
        agency_name=choice.agency_name,
        follow_up_due=limits.follow_up.due_after(
            event.occurred_at, calendar, usable_region(verified.region_code)
        ),
        routed_by=choice.routed_by,
    )
    meta = Meta(
        actor=ROUTING_ACTOR,
        correlation_id=event.correlation_id,
        causation_id=str(event.event_id),
        idempotency_key=key,
    )
    try:
        stored = await reports.execute(tracking_id, command, meta, retry_on_conflict=True)
    except InvalidTransition as error:
        # The report moved on before we got here (rejected, closed, forwarded by hand): a fact.
        log.info("forward_skipped", tracking_id=tracking_id, status=str(error.status))
        return
    if stored:
        FORWARDED.labels(choice.routed_by).inc()
        log.info(
            "report_forwarded",
            tracking_id=tracking_id,
            agency_code=choice.agency_code,
            routed_by=choice.routed_by,
        )
