"""The runtime every service shares: one composition root per service plugs into it.

A service is a FastAPI app (its HTTP surface) whose lifespan opens the event store, connects a
FastStream NATS broker, and consumes LAPOR_EVENTS with a durable pull consumer (explicit acks,
NACK on error, bounded redelivery) through `shared.runtime.bus`, the one way events come in.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from faststream.nats import NatsBroker, TestNatsBroker
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from shared import tracing
from shared.access.events import TOKENS_STREAM
from shared.clock import Clock, clock_from
from shared.http.auth import Auth
from shared.http.common import install_common
from shared.http.openapi import document_errors
from shared.logs import configure_logging, get_logger
from shared.metrics import (
    TimedAppends,
)
from shared.runtime.bus import EventConsumer, Service, every, subscribe
from shared.runtime.consumer_metrics import poll_consumer_metrics
from shared.runtime.messaging import (
    connection_options,
    mark_shutting_down,
    release_unacked,
    wait_for_event_stream,
)
from shared.runtime.nats_auth import nats_security
from shared.runtime.rebuild import rebuild_in_child
from shared.runtime.repository import ReportRepository
from shared.settings import Settings, get_settings
from shared.store import open_store
from shared.store.port import EventStore, RecordedEvent

log = get_logger(__name__)


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
    consumer: EventConsumer | None = None  # set by the runtime once the service is built

    async def caught_up(
        self,
        position: int | None,
        timeout: float = 2.0,
        appended: Sequence[RecordedEvent] = (),
    ) -> bool:
        """Read your writes: bring this service's views up to `position` (an event it has just
        appended) before answering. Bounded: False if that took longer than `timeout`, or the
        views cannot take it now (the write itself stands; the next delivery catches up).

        `appended`: the events just stored, as the store answered (the views take them as they
        are when nothing else came in between, instead of reading them back)."""
        if position is None or self.consumer is None:
            return True
        self.consumer.remember(appended)
        try:
            await asyncio.wait_for(self.consumer.advance_to(position), timeout)
        except TimeoutError:
            log.warning("read_your_writes_timeout", position=position)
            return False
        except Exception as error:  # the views cannot take it now (a full disk): the write stands
            log.warning(
                "read_your_writes_failed", position=position, error_type=type(error).__name__
            )
            return False
        return True


def create_app(
    name: str,
    build: Callable[[Context], Service],
    settings: Settings | None = None,
    title: str | None = None,
    description: str = "",
    *,
    in_process: bool = False,
) -> FastAPI:
    """The composition root's shell: wires the store, clock, auth and broker, then the service.

    `in_process`: for tests that drive the service inside their own event loop. The broker is
    FastStream's test broker (no NATS): whoever holds `app.state.consumer` delivers events by
    publishing them to it (`tests/harness.py` does, from the store), and nothing runs by itself:
    no background loop, no periodic job (the test calls `service.periodic` jobs when it wants).
    """
    settings = settings or get_settings()
    configure_logging(name, settings.log_level)
    store = TimedAppends(open_store(settings.event_store_url), name)
    clock = clock_from(settings.clock_file)
    broker = NatsBroker(
        settings.nats_url.split(","),
        # FastStream's per-message log lines go to DEBUG; our own JSON logs say what matters.
        # Its own logger would print coloured text to stdout: ours goes through the JSON handler.
        logger=logging.getLogger(f"lapor.{name}.faststream"),
        middlewares=tracing.broker_middlewares(name),
        log_level=logging.DEBUG,
        security=nats_security(settings.nats_url, settings.master_secret, name),
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

    def revocations(event: RecordedEvent) -> None:
        context.auth.observe(event.event_type, event.data)

    consumer = subscribe(name, service, broker, store, [revocations]) if service.consume else None
    context.consumer = consumer
    ready = asyncio.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for event in await store.read(TOKENS_STREAM):  # revocations made before this start
            revocations(event)
        for projector in service.projectors:
            if projector.stale:  # a view file of an older schema, dropped: rebuild it first
                if in_process:  # the tests' store may be one this process alone can see
                    count = await projector.rebuild(store)
                else:  # the replay's memory leaves with the child
                    count = await rebuild_in_child(build.__module__, settings, projector.name)
                projector.stale = False
                log.warning("views_rebuilt_after_upgrade", projector=projector.name, events=count)
        if in_process:
            async with TestNatsBroker(broker):
                ready.set()
                try:
                    yield
                finally:
                    ready.clear()
                    await stop()
            return
        await broker.connect()
        if service.consume:
            js = broker.config.connection_state.stream
            await wait_for_event_stream(js)
            await release_unacked(broker.config.connection_state.connection, js, name)
        await broker.start()
        tasks = [asyncio.create_task(job(), name=f"{name}-bg") for job in service.background]
        tasks += [
            asyncio.create_task(every(job), name=f"{name}-{job.name}") for job in service.periodic
        ]
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
            await stop()
            tracing.shutdown(name)

    async def stop() -> None:
        for hook in service.on_stop:
            await hook()
        for projector in service.projectors:
            projector.close()
        await store.close()

    # /docs and /redoc with Swagger UI and ReDoc served by LAPOR itself: they work offline and
    # load nothing from a CDN.
    app = FastAPIOffline(
        title=title or f"LAPOR {name}",
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        static_url="/docs-static",
    )
    document_errors(app)
    tracing.instrument_app(app, name)
    app.state.context = context
    app.state.service = service
    app.state.consumer = consumer

    async def is_ready() -> bool:
        return ready.is_set()

    install_common(app, name, is_ready, service.home)
    # The client's address (rate limits, logs) and scheme come from X-Forwarded-For/-Proto only
    # when the peer is one of LAPOR_TRUSTED_PROXIES (in the app, so every way of serving it and
    # the in-process tests behave alike; uvicorn's own handling is off).
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted_proxies(settings))
    for router in service.routers:
        app.include_router(router)
    return app


def trusted_proxies(settings: Settings) -> list[str]:
    return [part.strip() for part in settings.trusted_proxies.split(",") if part.strip()]


def run(name: str, app: FastAPI, settings: Settings | None = None) -> None:
    import uvicorn

    from shared.http.server import server_config

    settings = settings or get_settings()
    uvicorn.Server(server_config(app, settings.host, settings.port_of(name))).run()
