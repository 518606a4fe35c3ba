"""The runtime every service shares: one composition root per service plugs into it.

A service is a FastAPI app (its HTTP surface) whose lifespan opens the event store, connects a
FastStream NATS broker, and consumes LAPOR_EVENTS with a durable pull consumer (explicit acks,
NACK on error, bounded redelivery). Each batch of events is handled in global order: first the
service's reactions (idempotent side effects: appending events, sending notices), then its read
models and checkpoint in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI
from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub

from shared.clock import Clock, clock_from
from shared.http.common import Auth, install_common
from shared.logs import configure_logging, get_logger
from shared.metrics import (
    CONSUMER_REDELIVERIES,
    DEAD_LETTERS,
    EVENTS_HANDLED,
    PROJECTION_POSITION,
    TimedAppends,
)
from shared.runtime.consumer_metrics import poll_consumer_metrics
from shared.runtime.messaging import (
    ALL_EVENTS,
    DEAD_LETTER_PREFIX,
    STREAM_NAME,
    connection_options,
    mark_shutting_down,
    release_unacked,
    wait_for_event_stream,
)
from shared.runtime.projection import Projector, disk_trouble
from shared.runtime.repository import ReportRepository
from shared.settings import Settings, get_settings
from shared.store import open_store
from shared.store.port import EventStore, RecordedEvent, StoreError

log = get_logger(__name__)

MAX_DELIVER = 10
BATCH_SIZE = 200
# How long a pull waits to fill a batch: the floor of a view's latency behind the store.
BATCH_WAIT_SECONDS = 0.02
HANDLER_ATTEMPTS = 3
# Reports whose reactions run at once within a batch (each report's own events stay in order).
REACT_CONCURRENCY = 32
# How often a consumer checks that its views have not been left behind the store.
CATCH_UP_SECONDS = 5.0
# Errors worth waiting out (NACK and redeliver) rather than dead-lettering an event for.
TRANSIENT = (StoreError, OSError, asyncio.TimeoutError, ConnectionError)


def transient(error: BaseException) -> bool:
    """TRANSIENT, or SQLite saying its disk is full, read-only or failing (a view or outbox)."""
    return isinstance(error, TRANSIENT) or disk_trouble(error)


@dataclass
class Context:
    """What a service's composition root gets to wire its handlers with."""

    name: str
    settings: Settings
    store: EventStore
    clock: Clock
    reports: ReportRepository
    auth: Auth
    broker: NatsBroker


@dataclass
class Service:
    routers: list[APIRouter] = field(default_factory=list)
    projector: Projector | None = None
    react: Callable[[RecordedEvent], Awaitable[None]] | None = None
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    consume: bool = True


async def read_range(store: EventStore, after: int, upto: int) -> list[RecordedEvent]:
    """Every event with after < position <= upto, in global order."""
    events: list[RecordedEvent] = []
    position = after
    while position < upto:
        page = await store.read_all(position, 1000)
        if not page:
            break
        for event in page:
            if event.position > upto:
                return events
            events.append(event)
        position = page[-1].position
    return events


class EventConsumer:
    """Handles batches from JetStream: reactions, then views; retries; dead letters."""

    def __init__(self, name: str, service: Service, broker: NatsBroker, store: EventStore) -> None:
        self.name = name
        self.service = service
        self.broker = broker
        self.store = store
        # Deliveries and the catch-up below take turns: one batch of events at a time.
        self._turn = asyncio.Lock()
        self._behind: int | None = None

    def _checkpoint(self) -> int:
        projector = self.service.projector
        return projector.checkpoint() if projector else 0

    async def handle(self, bodies: list[dict[str, Any]]) -> None:
        events = sorted((RecordedEvent.model_validate(b) for b in bodies), key=lambda e: e.position)
        if not events:
            return
        async with self._turn:
            await self._handle_delivered(events)

    async def catch_up(self) -> int:
        """The safety net under JetStream: events the store held a whole period ago that no
        delivery has brought (JetStream gave up redelivering them while a disk was full, or a
        trigger was lost) are taken straight from the store. Returns how many were handled."""
        if self.service.projector is None:
            return 0
        last = await self.store.last_position()
        async with self._turn:
            done = await asyncio.to_thread(self._checkpoint)
            target, self._behind = self._behind, (last if last > done else None)
            if target is None or target <= done:
                return 0
            fresh = await read_range(self.store, done, target)
            log.warning("caught_up_from_store", after=done, upto=target, events=len(fresh))
            await self.handle_events(fresh)
            return len(fresh)

    async def keep_up(self) -> None:
        while True:
            await asyncio.sleep(CATCH_UP_SECONDS)
            try:
                await self.catch_up()
            except Exception as error:  # still failing (the disk is still full): next period
                log.warning("catch_up_failed", error_type=type(error).__name__, error=str(error))

    async def _handle_delivered(self, events: list[RecordedEvent]) -> None:
        done = await asyncio.to_thread(self._checkpoint)
        newest = events[-1].position
        if newest <= done:
            CONSUMER_REDELIVERIES.labels(self.name).inc(len(events))
            return
        if self.service.projector is None:
            fresh = events
        else:
            # JetStream is the trigger, the store is the truth: take every event up to the newest
            # one delivered straight from the store, in order. A batch that JetStream redelivers
            # late, or out of order, can then never leave a gap behind the checkpoint.
            fresh = await read_range(self.store, done, newest)
        await self.handle_events(fresh)

    async def handle_events(self, fresh: list[RecordedEvent]) -> None:
        if not fresh:
            return
        if self.service.react is not None:
            await self._react_all(fresh)
        projector = self.service.projector
        if projector is not None:
            try:
                await asyncio.to_thread(projector.apply_batch, fresh)
            except Exception as error:
                if transient(error):
                    raise
                # One bad event must not sink the batch: apply one by one, dead-letter the culprit.
                for event in fresh:
                    await self._project_one(projector, event)
            PROJECTION_POSITION.labels(self.name).set(fresh[-1].position)
        for event in fresh:
            EVENTS_HANDLED.labels(self.name, event.event_type).inc()

    async def _react_all(self, events: list[RecordedEvent]) -> None:
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
            await self._dead_letter(event, error)

    async def _dead_letter(self, event: RecordedEvent, error: Exception) -> None:
        DEAD_LETTERS.labels(self.name, event.event_type).inc()
        log.error(
            "dead_letter",
            event_type=event.event_type,
            position=event.position,
            error_type=type(error).__name__,
            exc_info=error,
        )
        if self.service.projector is not None:
            await asyncio.to_thread(
                self.service.projector.record_dead_letter, event, f"{type(error).__name__}: {error}"
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


def create_app(
    name: str,
    build: Callable[[Context], Service],
    settings: Settings | None = None,
    title: str | None = None,
    description: str = "",
) -> FastAPI:
    """The composition root's shell: wires the store, clock, auth and broker, then the service."""
    settings = settings or get_settings()
    configure_logging(name, settings.log_level)
    store = TimedAppends(open_store(settings.event_store_url), name)
    clock = clock_from(settings.clock_file)
    broker = NatsBroker(
        settings.nats_url.split(","),
        # FastStream's per-message log lines go to DEBUG; our own JSON logs say what matters.
        log_level=logging.DEBUG,
        **connection_options(f"lapor-{name}"),
    )
    context = Context(
        name=name,
        settings=settings,
        store=store,
        clock=clock,
        reports=ReportRepository(store, clock),
        auth=Auth(settings.master_secret),
        broker=broker,
    )
    service = build(context)
    consumer = _subscribe(name, service, broker, store) if service.consume else None
    ready = asyncio.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await broker.connect()
        if service.consume:
            js = broker.config.connection_state.stream
            await wait_for_event_stream(js)
            await release_unacked(broker.config.connection_state.connection, js, name)
        await broker.start()
        tasks = [asyncio.create_task(job(), name=f"{name}-bg") for job in service.background]
        if service.consume:
            js = broker.config.connection_state.stream
            tasks.append(asyncio.create_task(poll_consumer_metrics(js, name), name=f"{name}-lag"))
        if consumer is not None:
            tasks.append(asyncio.create_task(consumer.keep_up(), name=f"{name}-catch-up"))
        # What start-up made (modules, routes, schemas: over 100k objects) lives as long as the
        # process: keep it out of the garbage collector's full passes, which otherwise stop
        # every request for 30-70 ms now and then (a p99 of list and search queries).
        gc.collect()
        gc.freeze()
        ready.set()
        log.info("service_started", port=settings.port_of(name))
        try:
            yield
        finally:
            ready.clear()
            mark_shutting_down()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await broker.stop()
            for hook in service.on_stop:
                await hook()
            if service.projector is not None:
                service.projector.close()
            await store.close()

    app = FastAPI(
        title=title or f"LAPOR {name}",
        description=description,
        version="1.0.0",
        lifespan=lifespan,
    )
    app.state.context = context
    app.state.service = service

    async def is_ready() -> bool:
        return ready.is_set()

    install_common(app, name, is_ready)
    for router in service.routers:
        app.include_router(router)
    return app


def _subscribe(name: str, service: Service, broker: NatsBroker, store: EventStore) -> EventConsumer:
    consumer = EventConsumer(name, service, broker, store)
    broker.subscriber(
        ALL_EVENTS,
        stream=JStream(STREAM_NAME, declare=False),
        durable=name,
        pull_sub=PullSub(batch_size=BATCH_SIZE, timeout=BATCH_WAIT_SECONDS, batch=True),
        config=ConsumerConfig(max_deliver=MAX_DELIVER, ack_wait=120, max_ack_pending=BATCH_SIZE),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=f"{name}.events",
        description=f"Every LAPOR event, consumed by the {name} service",
    )(consumer.handle)

    async def on_max_deliveries(body: dict[str, Any]) -> None:
        DEAD_LETTERS.labels(name, "max_deliveries").inc()
        log.error("max_deliveries_reached", stream_seq=body.get("stream_seq"))

    broker.subscriber(
        f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{STREAM_NAME}.{name}",
        include_in_schema=False,
    )(on_max_deliveries)
    return consumer


def run(name: str, app: FastAPI, settings: Settings | None = None) -> None:
    import uvicorn

    settings = settings or get_settings()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port_of(name),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
    )
