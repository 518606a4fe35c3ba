"""The dispatcher: sends what the outbox holds, retries with backoff, records the outcome.

Decoupled from the event consumer on purpose: a channel that is down for an hour must not stall
the event stream (or make JetStream redeliver it). Reactions only plan notices into the outbox;
the periodic job "dispatch" sends them: the runtime runs it every `POLL_SECONDS`, and a test that
runs notify in process calls it when it wants (`await lapor.run("notify", "dispatch")`).

A run sends what is due now. It takes every notice whose turn has come (notices to the same
recipient about the same report go out one at a time, in the report's order) and whose backoff
has passed, each at most once per run, until none is left; a notice that becomes due during the
run (the next one to a recipient whose previous notice just went out) is taken in the same run.

Per notice: (1) if the event store already holds its outcome, adopt it and send nothing; (2)
resolve the address (decrypt; erased key -> NotificationSkipped "cannot reach reporter (identity
erased)"); (3) one attempt, written to the outbox before the message leaves and taking a token
from the channel's bucket. A transient error (gateway down, timeout) leaves the notice `retrying`
until its backoff has passed (exponential: `LAPOR_NOTIFY_RETRY_BASE_SECONDS` doubled per attempt,
at most `LAPOR_NOTIFY_RETRY_MAX_SECONDS`), up to `LAPOR_NOTIFY_MAX_ATTEMPTS` attempts; a permanent
one fails at once. (4) The outcome event (NotificationSent / NotificationFailed /
NotificationSkipped, with a fixed event id) into `notifications-<tracking_id>`: after an attempt,
once the outcome is in the outbox; a notice that ends without one (the report page, a channel
not configured, no reachable contact) stores its event first and then finishes and marks it in
one outbox write (dying in between, step 1 of the next run adopts it).

The at-least-once window: if the process dies after a message left (Kannel answered 202, the
SMTP server said 250) but before that was written down, the restart cannot know whether it left,
so it sends it again and records NotificationSent with `possible_duplicate=true`. Kannel's
sendsms has no idempotency key; e-mails carry a Message-ID derived from the notification id, so
a mail client can fold the copy. The window is one request long; everything else resumes
without resending.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.notify.contacts import Contacts, Unreachable
from services.notify.metrics import NOTIFICATIONS, OUTBOX_OPEN
from services.notify.outbox import Outbox, OutboxRow
from services.notify.ratelimit import TokenBucket
from services.notify.rendering import Renderer
from services.notify.settings import NotifySettings
from shared.clock import Clock
from shared.events.base import Actor, DomainEvent
from shared.logs import get_logger
from shared.notifications.events import (
    NotificationChannel,
    NotificationFailed,
    NotificationSent,
    NotificationSkipped,
    SkipReason,
    notification_stream,
)
from shared.privacy import scrub
from shared.runtime.repository import fixed_event_id
from shared.senders.base import (
    Address,
    Message,
    PermanentSendError,
    Sender,
    SendError,
    TransientSendError,
)
from shared.store.port import EventStore, NewEvent

log = get_logger(__name__)

POLL_SECONDS = 1.0
# Notices looked at per query of the outbox (the first one of each recipient's queue).
HEADS = 2000
NOTIFY_ACTOR = Actor(kind="system", id="notify")


def outcome_event_id(tracking_id: str, notification_id: uuid.UUID) -> uuid.UUID:
    return fixed_event_id(notification_stream(tracking_id), f"notify:{notification_id}", 0)


def outcome_event(row: OutboxRow, occurred_at: datetime) -> NewEvent:
    common = {
        "notification_id": row.notification_id,
        "tracking_id": row.tracking_id,
        "cause_event_id": row.cause_event_id,
        "cause_event_type": row.cause_event_type,
        "recipient_kind": row.recipient_kind,
        "agency_code": row.agency_code,
        "channel": NotificationChannel(row.channel),
        "template": row.template,
        "language": row.language if row.language in ("id", "en") else "id",
        "attempts": row.attempts,
    }
    payload: DomainEvent
    if row.state == "sent":
        payload = NotificationSent(**common, possible_duplicate=row.possible_duplicate)
    elif row.state == "failed":
        payload = NotificationFailed(**common, error=(row.detail or "failed")[:500])
    elif row.state == "skipped":
        payload = NotificationSkipped(
            **common,
            reason=SkipReason(row.skip_reason or SkipReason.NO_CONTACT.value),
            detail=(row.detail or "")[:500],
        )
    else:
        raise ValueError(f"notice {row.notification_id} is not finished ({row.state})")
    return NewEvent.of(
        payload,
        occurred_at=occurred_at,
        actor=NOTIFY_ACTOR,
        correlation_id=row.correlation_id,
        causation_id=str(row.cause_event_id),
        event_id=outcome_event_id(row.tracking_id, row.notification_id),
        agency_code=row.agency_code,
    )


def _about(row: OutboxRow) -> dict[str, str]:
    """What a log line says of a notice: which one and where, never the address."""
    return {
        "tracking_id": row.tracking_id,
        "notification_id": str(row.notification_id),
        "channel": row.channel,
    }


class Dispatcher:
    def __init__(
        self,
        *,
        outbox: Outbox,
        store: EventStore,
        clock: Clock,
        renderer: Renderer,
        contacts: Contacts,
        senders: Mapping[str, Sender],
        unconfigured: Mapping[str, str],
        settings: NotifySettings,
    ) -> None:
        self.outbox = outbox
        self.store = store
        self.clock = clock
        self.renderer = renderer
        self.contacts = contacts
        self.senders = dict(senders)
        self.unconfigured = dict(unconfigured)
        self.settings = settings
        self._one_run = asyncio.Lock()
        # Deliveries between "attempt written down" and "outcome written down": a graceful stop
        # lets them finish, so only a crash (SIGKILL, power loss) can leave a "maybe sent".
        self._critical: set[asyncio.Task[Any]] = set()
        self._slots = {
            c.value: asyncio.Semaphore(settings.notify_concurrency) for c in NotificationChannel
        }
        self._buckets = {
            c.value: TokenBucket(settings.rate_for(c.value), settings.notify_rate_burst)
            for c in NotificationChannel
        }

    # -- a run ----------------------------------------------------------------------------
    async def dispatch(self) -> int:
        """One run (the periodic job "dispatch"): deliver what is due now, each notice at most
        once; returns how many notices it took. Cancelling it is a graceful stop."""
        async with self._one_run:
            taken: set[str] = set()  # notification ids, as the outbox writes them
            running: set[asyncio.Task[None]] = set()
            try:
                while True:
                    for row in await self._due(taken):
                        taken.add(str(row.notification_id))
                        running.add(
                            asyncio.create_task(
                                self._deliver(row), name=f"notify-{row.notification_id}"
                            )
                        )
                    if not running:
                        return len(taken)
                    # Each delivery that ends may bring the next notice of its recipient due.
                    _, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                await self._stop(running)
                raise
            except Exception:
                await asyncio.gather(*running, return_exceptions=True)
                raise

    async def _due(self, taken: set[str]) -> list[OutboxRow]:
        """The first unrecorded notice of each (report, recipient), if its backoff has passed
        and this run has not taken it yet."""
        rows = await asyncio.to_thread(self.outbox.heads, HEADS, taken)
        if not taken:  # the gauges once a run, not after every delivery
            counts = await asyncio.to_thread(self.outbox.open_by_channel)
            for channel in NotificationChannel:
                OUTBOX_OPEN.labels(channel.value).set(counts.get(channel.value, 0))
        now = time.time()
        return [
            row
            for row in rows  # in the order of the report events
            if (row.finished or row.next_attempt_epoch is None or row.next_attempt_epoch <= now)
        ]

    async def _stop(self, running: set[asyncio.Task[None]]) -> None:
        """Cancel deliveries that wait (for a token, a slot, the store); let the ones whose
        message is on its way finish, within the send timeout."""
        for task in running - self._critical:
            task.cancel()
        sending = [t for t in running if t in self._critical]
        if sending:
            log.info("notify_stopping_waits_for_sends", count=len(sending))
            await asyncio.wait(sending, timeout=self.settings.notify_send_timeout_seconds)
        for task in running:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _deliver(self, row: OutboxRow) -> None:
        try:
            finished = None if row.finished else await self._complete(row)
            if finished is not None or row.finished:
                await self._record(row.notification_id, finished)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the store may be down: the next run tries again
            log.error(
                "notification_delivery_error",
                tracking_id=row.tracking_id,
                notification_id=str(row.notification_id),
                error_type=type(error).__name__,
            )
        finally:
            self._release()

    # -- one notice -----------------------------------------------------------------------
    def _release(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._critical.discard(task)

    def _now(self) -> str:
        return self.clock.now().isoformat()

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1, 2, …): exponential."""
        base = self.settings.notify_retry_base_seconds
        return min(self.settings.notify_retry_max_seconds, base * 2.0 ** (attempt - 1))

    async def _finish(
        self,
        row: OutboxRow,
        state: str,
        outcome: str,
        *,
        detail: str | None = None,
        skip_reason: str | None = None,
    ) -> OutboxRow | None:
        finished = await self.outbox.finish_soon(
            row.notification_id,
            state,
            self._now(),
            detail=detail,
            skip_reason=skip_reason,
        )
        self._release()
        _told(row, outcome, detail)
        return finished

    async def _settle(
        self,
        row: OutboxRow,
        state: str,
        outcome: str,
        *,
        detail: str | None = None,
        skip_reason: str | None = None,
    ) -> OutboxRow | None:
        """A notice that ends without an attempt (nothing left LAPOR): its outcome event first,
        then the outbox finishes and marks it recorded in one write. A crash in between leaves
        it open with its outcome in the store, which the next run adopts (sending nothing).
        Returns None: nothing is left to record."""
        now = self._now()
        finished = dataclasses.replace(
            row,
            state=state,
            completed_at=now,
            detail=detail,
            skip_reason=skip_reason,
            next_attempt_epoch=None,
        )
        await self._append_outcome(finished)
        if not await self.outbox.settle_soon(
            row.notification_id, state, now, detail=detail, skip_reason=skip_reason
        ):
            return None
        _told(row, outcome, detail)
        return None

    async def _complete(self, row: OutboxRow) -> OutboxRow | None:
        """Deliver one notice; the row as it finished (None when it did not, or was adopted)."""
        if await self._adopt_recorded_outcome(row):
            return None
        if row.channel == NotificationChannel.WEB.value:
            # Web reporters read their notices on the report page: recording it is delivering it.
            return await self._settle(row, "sent", "sent")
        sender = self.senders.get(row.channel)
        if sender is None:
            reason = self.unconfigured.get(row.channel, f"channel {row.channel} is not configured")
            return await self._settle(row, "failed", "failed", detail=reason)
        try:
            address = await self.contacts.address(row)
        except Unreachable as unreachable:
            return await self._settle(
                row,
                "skipped",
                "unreachable",
                detail=unreachable.detail,
                skip_reason=unreachable.reason.value,
            )
        except PermanentSendError as error:
            return await self._settle(row, "failed", "failed", detail=scrub(str(error)))
        await asyncio.to_thread(self.outbox.set_masked, row.notification_id, address.masked)
        try:
            message = self.renderer.render(row.template, row.language, row.context)
        except Exception as error:
            return await self._settle(
                row, "failed", "failed", detail=f"template {row.template}: {type(error).__name__}"
            )
        if row.state == "sending":
            # The last run died during an attempt: the message may have left. Send again rather
            # than lose it, and say so.
            await asyncio.to_thread(self.outbox.mark_possible_duplicate, row.notification_id)
            log.warning("notification_resent_after_interrupted_attempt", **_about(row))
        remaining = self.settings.notify_max_attempts - row.attempts
        if remaining <= 0:
            return await self._settle(
                row,
                "failed",
                "failed",
                detail=row.detail or f"gave up after {row.attempts} attempts",
            )
        try:
            await self._attempt(row, sender, address, message)
        except TransientSendError as error:
            if remaining > 1:
                await self._retry_later(row, error)
                return None
            return await self._finish(row, "failed", "failed", detail=scrub(str(error)))
        except SendError as error:
            return await self._finish(row, "failed", "failed", detail=scrub(str(error)))
        return await self._finish(row, "sent", "sent")

    async def _retry_later(self, row: OutboxRow, error: SendError) -> None:
        """A transient failure: the notice waits out its backoff in the outbox (a later run
        takes it again)."""
        attempt = row.attempts + 1
        wait = self.backoff(attempt)
        detail = scrub(str(error))
        NOTIFICATIONS.labels(row.channel, "retry").inc()
        log.info(
            "notification_retry",
            **_about(row),
            attempt=attempt,
            wait_seconds=round(wait, 3),
            error=detail,
        )
        await asyncio.to_thread(
            self.outbox.attempt_failed, row.notification_id, detail, time.time() + wait
        )
        self._release()

    async def _attempt(
        self, row: OutboxRow, sender: Sender, address: Address, message: Message
    ) -> None:
        async with self._slots[row.channel]:
            await self._buckets[row.channel].acquire()
            task = asyncio.current_task()
            if task is not None:
                self._critical.add(task)  # until the outcome of this attempt is written down
            # On disk before the message leaves: a crash from here on is "maybe sent".
            await asyncio.to_thread(self.outbox.begin_attempt, row.notification_id, self._now())
            try:
                await sender.send(address, message, row.notification_id)
            except SendError:
                raise
            except Exception as error:  # a bug or an unexpected library error: retry, stay safe
                raise TransientSendError(f"unexpected {type(error).__name__}") from None

    # -- the record ---------------------------------------------------------------------
    async def _outcome_in_store(self, row: OutboxRow) -> DomainEvent | None:
        wanted = outcome_event_id(row.tracking_id, row.notification_id)
        for event in await self.store.read(notification_stream(row.tracking_id)):
            if event.event_id == wanted:
                return event.payload()
        return None

    async def _adopt_recorded_outcome(self, row: OutboxRow) -> bool:
        """The store already tells how this notice ended (the outbox was lost): send nothing."""
        payload = await self._outcome_in_store(row)
        if payload is None:
            return False
        state = {
            NotificationSent: "sent",
            NotificationFailed: "failed",
            NotificationSkipped: "skipped",
        }.get(type(payload), "sent")
        detail = getattr(payload, "error", None) or getattr(payload, "detail", None)
        attempts = int(getattr(payload, "attempts", 0))
        await asyncio.to_thread(
            self.outbox.adopt, row.notification_id, state, attempts, self._now(), detail
        )
        return True

    async def _record(self, notification_id: uuid.UUID, finished: OutboxRow | None = None) -> None:
        """Append the notice's outcome event (`finished`: its row as it just finished, else it
        is read from the outbox)."""
        row = finished or await asyncio.to_thread(self.outbox.get, notification_id)
        if row is None or row.recorded or not row.finished:
            return
        await self._append_outcome(row)
        await self.outbox.mark_recorded_soon(notification_id)

    async def _append_outcome(self, row: OutboxRow) -> None:
        at = datetime.fromisoformat(row.completed_at) if row.completed_at else self.clock.now()
        await self.store.append(
            notification_stream(row.tracking_id), [outcome_event(row, at)], expected_version=None
        )


def _told(row: OutboxRow, outcome: str, detail: str | None) -> None:
    """A notice's end, counted and logged (without its recipient)."""
    NOTIFICATIONS.labels(row.channel, outcome).inc()
    log.info(
        f"notification_{outcome}",
        **_about(row),
        template=row.template,
        recipient_kind=row.recipient_kind,
        correlation_id=row.correlation_id,
        detail=detail,
    )
