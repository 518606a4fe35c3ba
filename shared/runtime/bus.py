"""The one way a service consumes events.

JetStream tells a service that events exist; the event store says what they are. A delivery (a
batch from the service's durable pull consumer on `LAPOR_EVENTS`) is a wake-up: the consumer
reads every event from the store after its views' checkpoint up to the newest position delivered,
in global order, and handles them: first the service's reactions (idempotent side effects:
appending events, sending notices), then each of its projections, each with its checkpoint in the
same transaction as its views. A batch that JetStream redelivers late or out of order can never
leave a gap behind a checkpoint.

The same path runs on a timer (`keep_up`): events the store held a whole period ago that no
delivery has brought (JetStream gave up redelivering them while a disk was full) are taken from
the store the same way; and on request (`advance_to`), when a person must see in their next read
what they just did. There is no other way in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import structlog
from fastapi import APIRouter
from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import ServiceUnavailableError

from shared import tracing
from shared.logs import get_logger
from shared.metrics import CONSUMER_REDELIVERIES, DEAD_LETTERS, EVENTS_HANDLED, PROJECTION_POSITION
from shared.runtime.messaging import ALL_EVENTS, DEAD_LETTER_PREFIX, POSITION_HEADER, STREAM_NAME
from shared.runtime.projection import Projector, disk_trouble
from shared.store.port import EventStore, RecordedEvent, StoreError

log = get_logger(__name__)

MAX_DELIVER = 10
BATCH_SIZE = 200
# How long one pull request waits on the server while nothing happens. It answers at once with
# what is pending (up to BATCH_SIZE) or with the first event published meanwhile, so this bounds
# only how often an idle service asks again, not how long a view lags behind the store.
IDLE_PULL_SECONDS = 5.0
HANDLER_ATTEMPTS = 3
# After handling a delivery, a consumer waits until this long after it began before it handles
# the next: what arrives meanwhile comes as one batch (one store read, one transaction per view)
# instead of one wake-up per event or two. An event after a quiet spell is handled at once; a
# busy service's views lag at most this much more. Halves the CPU a view costs per event under
# load (bench/RESULTS.md, round 3b); read-your-writes (`advance_to`) never waits for it.
COALESCE_SECONDS = 0.05
# Reports whose reactions run at once within a batch (each report's own events stay in order).
REACT_CONCURRENCY = 32
# How often a consumer checks that its views have not been left behind the store.
CATCH_UP_SECONDS = 5.0
# Events read from the store and handled at once when a service catches up.
ADVANCE_PAGE = 1000
# Positions a service without views remembers having handled (copies arrive right after).
RECENT_POSITIONS = 10_000
# Events a service remembers having appended until its views have taken them.
RECENT_APPENDED = 1_000
# Errors worth waiting out (NACK and redeliver) rather than dead-lettering an event for.
TRANSIENT = (StoreError, OSError, asyncio.TimeoutError, ConnectionError)

React = Callable[[RecordedEvent], Awaitable[None]]
Observer = Callable[[RecordedEvent], None]


def event_log_context(event: RecordedEvent) -> dict[str, str]:
    """What the log lines of an event's handling carry: its correlation id, and its report."""
    context = {"correlation_id": event.correlation_id, "event_type": event.event_type}
    stream = event.stream
    for prefix in ("report-", "notifications-", "access-"):
        if stream.startswith(prefix):
            context["tracking_id"] = stream.removeprefix(prefix)
    return context


def transient(error: BaseException) -> bool:
    """TRANSIENT, or SQLite saying its disk is full, read-only or failing (a view or outbox)."""
    return isinstance(error, TRANSIENT) or disk_trouble(error)


@dataclass(frozen=True)
class Periodic:
    """A job the runtime runs every `seconds` (tests that run a service in process call `run`
    themselves, when they want it). A failing run is logged; the next one comes on time."""

    name: str
    seconds: Callable[[], float]
    run: Callable[[], Awaitable[object]]


async def every(job: Periodic) -> None:
    while True:
        try:
            await job.run()
        except Exception as error:  # the next run may succeed (a full disk, a busy peer)
            log.warning("periodic_job_failed", job=job.name, error_type=type(error).__name__)
        await asyncio.sleep(job.seconds())


@dataclass
class Service:
    """What a service's composition root hands to the runtime."""

    routers: list[APIRouter] = field(default_factory=list)
    projectors: list[Projector] = field(default_factory=list)
    react: React | None = None
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    periodic: list[Periodic] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    consume: bool = True
    # Where a person opening the service's address lands (its staff pages); None: a plain line
    # naming the API docs.
    home: str | None = None

    def including(self, part: Service) -> Service:
        """This service with a part of it built on its own (intake's polls)."""
        return Service(
            routers=[*self.routers, *part.routers],
            projectors=[*self.projectors, *part.projectors],
            react=self.react or part.react,
            background=[*self.background, *part.background],
            periodic=[*self.periodic, *part.periodic],
            on_stop=[*self.on_stop, *part.on_stop],
            consume=self.consume or part.consume,
            home=self.home or part.home,
        )

    @property
    def projector(self) -> Projector | None:
        """The service's main projection (its first)."""
        return self.projectors[0] if self.projectors else None


async def read_range(
    store: EventStore, after: int, upto: int, limit: int | None = None
) -> list[RecordedEvent]:
    """Every event with after < position <= upto, in global order (the first `limit` of them)."""
    events: list[RecordedEvent] = []
    position = after
    while position < upto and (limit is None or len(events) < limit):
        # Positions only grow (gaps allowed): never more than upto - position events to read. A
        # delivery one event at a time after a big append (a directory import) reads one row,
        # not the next thousand each time.
        wanted = min(1000, upto - position, limit - len(events) if limit else 1000)
        page = await store.read_all(position, wanted)
        if not page:
            break
        for event in page:
            if event.position > upto:
                return events
            events.append(event)
        position = page[-1].position
    return events


def apply_in_turn(
    projectors: Sequence[Projector], start: int, events: Sequence[RecordedEvent]
) -> tuple[int, Exception | None]:
    """Apply `events` to `projectors[start:]` one after the other, up to the first that fails:
    its index and error (or the number of projectors and None)."""
    for index in range(start, len(projectors)):
        try:
            projectors[index].apply_batch(events)
        except Exception as error:
            return index, error
    return len(projectors), None


class EventConsumer:
    """Brings a service's reactions and views up to a position of the store, in order."""

    def __init__(
        self,
        name: str,
        service: Service,
        broker: NatsBroker,
        store: EventStore,
        observers: Sequence[Observer] = (),
    ) -> None:
        self.name = name
        self.service = service
        self.broker = broker
        self.store = store
        # What every service keeps up with whatever it is (revoked tokens): shown each event.
        self.observers = tuple(observers)
        # Deliveries and the timer take turns: one stretch of the store at a time.
        self._turn = asyncio.Lock()
        self._behind: int | None = None
        self._recent: OrderedDict[int, None] = OrderedDict()
        # The position every view is known to have reached: read from the views once, then moved
        # by this consumer as it handles events (only it writes them while the service runs).
        # Never ahead of the views: a view applies only what is above its own checkpoint, so a
        # lower figure costs a read, never an event.
        self._reached: int | None = None
        # Events this process has just appended (the store's answer), by position: a read of
        # your writes that needs only these applies them as they are, without reading them back.
        self._appended: dict[int, RecordedEvent] = {}

    def checkpoint(self) -> int:
        """The position every projection has reached (0 without projections)."""
        projectors = self.service.projectors
        return min(p.checkpoint() for p in projectors) if projectors else 0

    async def _done(self) -> int:
        if self._reached is None:
            self._reached = await asyncio.to_thread(self.checkpoint)
        return self._reached

    async def handle(self, bodies: list[dict[str, Any]]) -> None:
        """A JetStream delivery: handle the store up to the newest event delivered."""
        if not bodies:
            return
        if self.service.projectors:
            # Views are brought up to the newest position delivered, from the store: the
            # delivered bodies say only how far (no need to validate each as an event).
            await self.delivered(max(int(body["position"]) for body in bodies), len(bodies))
            return
        # Nothing to keep in step: react to exactly what was delivered, once. The relay publishes
        # some events twice (a copy on the subject of the institution a report leaves): one store
        # position is one event, whatever the deliveries.
        unique = {event.position: event for event in map(RecordedEvent.model_validate, bodies)}
        events = sorted(unique.values(), key=lambda e: e.position)
        async with self._turn:
            fresh = [e for e in events if e.position not in self._recent]
            self._recent.update((e.position, None) for e in fresh)
            while len(self._recent) > RECENT_POSITIONS:
                self._recent.popitem(last=False)
            await self.handle_events(fresh)

    async def delivered(self, newest: int, count: int) -> None:
        """`count` deliveries whose newest event is at `newest`: the views are brought up to it
        from the store (for a service with views, a delivery is a wake-up and a position)."""
        async with self._turn:
            done = await self._done()
            if newest <= done:
                CONSUMER_REDELIVERIES.labels(self.name).inc(count)
                return
            await self._advance(done, newest)

    def remember(self, appended: Sequence[RecordedEvent]) -> None:
        """Events this process has just appended, as the store answered the append."""
        if not self.service.projectors:
            return
        for event in appended:
            self._appended[event.position] = event
        while len(self._appended) > RECENT_APPENDED:
            del self._appended[min(self._appended)]

    def _known(self, done: int, upto: int) -> list[RecordedEvent] | None:
        """Every event after `done` up to `upto` (a page at most), when this process appended
        them all itself: positions follow one another, so none can be missing in between."""
        if upto - done > ADVANCE_PAGE or not self._appended:
            return None
        known = [self._appended.get(position) for position in range(done + 1, upto + 1)]
        if None in known:
            return None
        return known  # type: ignore[return-value]

    def _forget(self, done: int) -> None:
        for position in [p for p in self._appended if p <= done]:
            del self._appended[position]

    async def advance_to(self, position: int) -> None:
        """Read your writes: bring this service's views up to `position` straight from the store,
        without waiting for JetStream to deliver what this service has just appended."""
        if not self.service.projectors:
            return
        async with self._turn:
            done = await self._done()
            if done < position:
                await self._advance(done, self._reach(position))

    def _reach(self, position: int) -> int:
        """`position`, or further while this process appended the events that follow it: those
        are stored already, and the requests waiting behind this turn for them (concurrent
        submissions) then find their views up to date: one view transaction and one thread trip
        for all of them instead of one each."""
        while position + 1 in self._appended:
            position += 1
        return position

    async def catch_up(self) -> int:
        """The timer's turn: what the store held a whole period ago and no delivery brought.
        Returns how many events were handled."""
        if not self.service.projectors:
            return 0
        last = await self.store.last_position()
        async with self._turn:
            done = await self._done()
            target, self._behind = self._behind, (last if last > done else None)
            if target is None or target <= done:
                return 0
            log.warning("caught_up_from_store", after=done, upto=target)
            return await self._advance(done, target)

    async def keep_up(self) -> None:
        while True:
            await asyncio.sleep(CATCH_UP_SECONDS)
            try:
                await self.catch_up()
            except Exception as error:  # still failing (the disk is still full): next period
                log.warning("catch_up_failed", error_type=type(error).__name__, error=str(error))

    async def _advance(self, done: int, upto: int) -> int:
        """Handle the store's events after `done` up to `upto`, a page at a time: a service far
        behind (a view added by an upgrade, views restored from an old backup) never holds the
        whole store in memory, and each page's checkpoint is kept as it goes."""
        handled = 0
        while done < upto:
            page = self._known(done, upto) or await read_range(
                self.store, done, upto, limit=ADVANCE_PAGE
            )
            if not page:
                break
            await self.handle_events(page)
            handled += len(page)
            done = page[-1].position
            if self.service.projectors:
                self._reached = max(self._reached or 0, done)
                self._forget(done)
        return handled

    async def handle_events(self, fresh: Sequence[RecordedEvent]) -> None:
        if not fresh:
            return
        with tracing.handling_all(self.name, fresh):
            await self._handle_events(fresh)

    async def _handle_events(self, fresh: Sequence[RecordedEvent]) -> None:
        for event in fresh:
            for observe in self.observers:
                observe(event)
        if self.service.react is not None:
            await self._react_all(fresh)
        projectors = self.service.projectors
        start = 0
        while start < len(projectors):
            # Every projection in one trip to a worker thread (each in its own transaction).
            failed, error = await asyncio.to_thread(apply_in_turn, projectors, start, fresh)
            if error is None:
                PROJECTION_POSITION.labels(self.name).set(fresh[-1].position)
                break
            if transient(error):
                raise error
            # One bad event must not sink the batch: apply one by one, dead-letter the culprit.
            for event in fresh:
                await self._project_one(projectors[failed], event)
            PROJECTION_POSITION.labels(self.name).set(fresh[-1].position)
            start = failed + 1
        for event in fresh:
            EVENTS_HANDLED.labels(self.name, event.event_type).inc()

    async def _react_all(self, events: Sequence[RecordedEvent]) -> None:
        """Reactions in global order within each report; different reports at the same time, so
        their appends share the store's group commits instead of waiting one fsync each.

        An event outside the report streams (the directory, polls) is a barrier: it waits for
        every reaction before it and holds back every one after it. A transient error still fails
        the whole batch (after the reactions already running finish), to be redelivered."""
        pending: list[RecordedEvent] = []
        for event in events:
            if event.stream.startswith("report-"):
                pending.append(event)
                continue
            await self._react_reports(pending)
            pending = []
            await self._react(event)
        await self._react_reports(pending)

    async def _react_reports(self, events: list[RecordedEvent]) -> None:
        by_stream: dict[str, list[RecordedEvent]] = {}
        for event in events:
            by_stream.setdefault(event.stream, []).append(event)
        if len(by_stream) <= 1:
            for event in events:
                await self._react(event)
            return
        slots = asyncio.Semaphore(REACT_CONCURRENCY)

        async def one_report(stream_events: list[RecordedEvent]) -> None:
            async with slots:
                for event in stream_events:
                    await self._react(event)

        outcomes = await asyncio.gather(
            *(one_report(group) for group in by_stream.values()), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _react(self, event: RecordedEvent) -> None:
        # Every line logged while handling the event (ours, a library's) carries its ids.
        with structlog.contextvars.bound_contextvars(**event_log_context(event)):
            await self._react_bound(event)

    async def _react_bound(self, event: RecordedEvent) -> None:
        assert self.service.react is not None
        for attempt in range(1, HANDLER_ATTEMPTS + 1):
            try:
                await self.service.react(event)
                return
            except Exception as error:
                if transient(error):
                    raise
                if attempt == HANDLER_ATTEMPTS:
                    await self._dead_letter(event, error)
                    return
                await asyncio.sleep(0.05 * 2**attempt)

    async def _project_one(self, projector: Projector, event: RecordedEvent) -> None:
        try:
            await asyncio.to_thread(projector.apply_batch, [event])
        except Exception as error:
            if transient(error):
                raise
            await self._dead_letter(event, error, projector)

    async def _dead_letter(
        self, event: RecordedEvent, error: Exception, projector: Projector | None = None
    ) -> None:
        DEAD_LETTERS.labels(self.name, event.event_type).inc()
        log.error(
            "dead_letter",
            event_type=event.event_type,
            position=event.position,
            error_type=type(error).__name__,
            exc_info=error,
        )
        # A failed projection moves its view past the event; a failed reaction is only recorded
        # (the views still apply the event, and the events before it in the batch).
        reason = f"{type(error).__name__}: {error}"
        if projector is not None:
            await asyncio.to_thread(projector.record_dead_letter, event, reason)
        elif self.service.projectors:
            await asyncio.to_thread(
                self.service.projectors[0].record_dead_letter, event, reason, advance=False
            )
        with contextlib.suppress(Exception):
            await self.broker.publish(
                {
                    "service": self.name,
                    "event_id": str(event.event_id),
                    "event_type": event.event_type,
                    "position": event.position,
                    "error": type(error).__name__,
                },
                f"{DEAD_LETTER_PREFIX}.{self.name}",
            )


def delivered_position(message: Msg) -> int:
    """The store position a delivery carries: the relay's header, else the event's body (a copy
    published by someone else)."""
    header = (message.headers or {}).get(POSITION_HEADER)
    if header:
        return int(header)
    return int(json.loads(message.data)["position"])


async def take_delivery(consumer: EventConsumer, messages: Sequence[Msg]) -> None:
    """One pull's messages, for a service with views, without FastStream's per-message pipeline
    (context, middlewares, dependency injection, a decoded body each: ≈ 40% of a consumer's
    CPU): the positions are read from the headers, the store does the rest. Acked when handled
    (all of them), NAKed when not (JetStream redelivers, up to MAX_DELIVER), as
    AckPolicy.NACK_ON_ERROR does."""
    try:
        newest = max(map(delivered_position, messages))
        await consumer.delivered(newest, len(messages))
    except asyncio.CancelledError:
        raise
    except Exception as error:
        # As FastStream logged it: which subject, what went wrong (ops read "disk is full").
        log.error(
            "delivery_failed",
            subject=messages[-1].subject,
            error_type=type(error).__name__,
            error=str(error),
            exc_info=error,
        )
        for message in messages:
            if not message._ackd:
                with contextlib.suppress(Exception):
                    await message.nak()
        return
    for message in messages:
        if not message._ackd:
            await message.ack()


async def pull_promptly(subscriber: Any, consumer: EventConsumer | None = None) -> None:
    """The consumer's loop: one pull at a time, handled as soon as it brings anything (and at
    most one delivery per COALESCE_SECONDS while events keep coming)."""
    # Tracing continues each event's trace through FastStream's middleware: keep its path then.
    direct = consumer is not None and bool(consumer.service.projectors) and not tracing.enabled()
    while subscriber.running:
        try:
            messages = await subscriber.subscription.fetch(
                batch=subscriber.pull_sub.batch_size, timeout=subscriber.pull_sub.timeout
            )
        except (TimeoutError, NatsTimeoutError):
            continue  # nothing happened for a whole period: ask again
        except (ConnectionClosedError, ServiceUnavailableError):
            # NATS is away: what was pulled and not acked comes again after ack_wait.
            await asyncio.sleep(0.1)
            continue
        if messages and subscriber.running:
            started = asyncio.get_running_loop().time()
            if direct:
                assert consumer is not None
                await take_delivery(consumer, messages)
            else:
                await subscriber.consume(messages)
            rest = COALESCE_SECONDS - (asyncio.get_running_loop().time() - started)
            if rest > 0 and len(messages) < subscriber.pull_sub.batch_size:
                await asyncio.sleep(rest)


def subscribe(
    name: str,
    service: Service,
    broker: NatsBroker,
    store: EventStore,
    observers: Sequence[Observer] = (),
) -> EventConsumer:
    """The service's durable pull consumer on every event, and its dead-letter advisory."""
    consumer = EventConsumer(name, service, broker, store, observers)
    subscriber = broker.subscriber(
        ALL_EVENTS,
        stream=JStream(STREAM_NAME, declare=False),
        durable=name,
        pull_sub=PullSub(batch_size=BATCH_SIZE, timeout=IDLE_PULL_SECONDS, batch=True),
        config=ConsumerConfig(max_deliver=MAX_DELIVER, ack_wait=120, max_ack_pending=BATCH_SIZE),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=f"{name}.events",
        description=f"Every LAPOR event, consumed by the {name} service",
    )
    subscriber(consumer.handle)
    # FastStream's batch loop keeps pulling until a batch is full or its timeout ends, so a short
    # timeout (low latency) means an idle service asking 50 times a second (≈ 4% of a core each,
    # and nats-server answering all of them). One pull that returns with whatever arrived first
    # gives both: batches grow by themselves under load, and idle costs one request per period.
    setattr(subscriber, "_consume_pull", partial(pull_promptly, subscriber, consumer))  # noqa: B010

    async def on_max_deliveries(body: dict[str, Any]) -> None:
        DEAD_LETTERS.labels(name, "max_deliveries").inc()
        log.error("max_deliveries_reached", stream_seq=body.get("stream_seq"))

    broker.subscriber(
        f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{STREAM_NAME}.{name}",
        include_in_schema=False,
    )(on_max_deliveries)
    return consumer
