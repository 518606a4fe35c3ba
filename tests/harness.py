"""LAPOR in one event loop: the fast layer of the tests.

The services' real apps (their routes, use cases, reactions and views) run in the test's own event
loop on one real SQLite store in a temporary directory. Instead of the relay and nats-server,
`settle()` reads the store and publishes every new event to each service's FastStream test broker
(`TestNatsBroker`), which calls the service's real consumer: the same path a JetStream delivery
takes. Reactions append more events; `settle()` goes on until every service has seen everything.

HTTP goes through httpx's `ASGITransport` straight into the apps. Each client settles the system
after every response, so a test reads what it just did without waiting, and nothing runs behind
its back: periodic jobs (the sla ticker, notify's dispatcher) run when the test calls `run()`.

Real processes (relay, crashes, channels with real peers, the whole system) are in `support.py`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import import_module
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from shared.auth import Role, create_token
from shared.runtime.bus import EventConsumer, Periodic, read_range
from shared.runtime.messaging import STREAM_NAME, subject_for
from shared.settings import SERVICE_NAMES, Settings
from shared.store.sqlite import SqliteEventStore
from tests.support import SMS_WEBHOOK_TOKEN

SECRET = "test-secret-for-lapor"


@dataclass
class InProcessService:
    name: str
    app: FastAPI
    delivered: int = 0

    @property
    def consumer(self) -> EventConsumer | None:
        consumer: EventConsumer | None = self.app.state.consumer
        return consumer

    def periodic(self, name: str) -> Periodic:
        for job in self.app.state.service.periodic:
            if job.name == name:
                return job  # type: ignore[no-any-return]
        raise KeyError(f"{self.name} has no periodic job {name!r}")


@dataclass
class InProcessSystem:
    """Several LAPOR services in this event loop, sharing one store (see the module docstring)."""

    data_dir: Path
    services: dict[str, InProcessService] = field(default_factory=dict)
    secret: str = SECRET
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    _store: SqliteEventStore | None = None
    _settling: bool = False

    @property
    def settings(self) -> Settings:
        return Settings(
            data_dir=self.data_dir,
            nats_url="nats://in-process.invalid:4222",
            secret_key=self.secret,
            clock_file=self.data_dir / "clock.txt",
        )

    @property
    def store(self) -> SqliteEventStore:
        assert self._store is not None
        return self._store

    async def start(self, names: tuple[str, ...] = SERVICE_NAMES) -> InProcessSystem:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._store = SqliteEventStore(self.data_dir / "events.db")
        self._stack.push_async_callback(self._store.close)
        for name in names:
            module = import_module(f"services.{name}.bootstrap")
            app: FastAPI = module.create_app(self.settings, in_process=True)
            await self._stack.enter_async_context(app.router.lifespan_context(app))
            self.services[name] = InProcessService(name, app)
        await self.settle()
        return self

    async def stop(self) -> None:
        await self._stack.aclose()

    async def settle(self) -> int:
        """Deliver every stored event to every service until nothing new happens; returns how
        many deliveries were made."""
        if self._settling:  # a client's hook inside a reaction's own request
            return 0
        self._settling = True
        deliveries = 0
        try:
            while True:
                last = await self.store.last_position()
                behind = [s for s in self.services.values() if s.delivered < last]
                if not behind:
                    return deliveries
                for service in behind:
                    deliveries += await self._deliver(service, last)
        finally:
            self._settling = False

    async def _deliver(self, service: InProcessService, upto: int) -> int:
        events = await read_range(self.store, service.delivered, upto)
        broker = service.app.state.context.broker
        if service.consumer is not None:
            for event in events:
                await broker.publish(
                    event.model_dump(mode="json"), subject_for(event), stream=STREAM_NAME
                )
        service.delivered = upto
        return len(events)

    async def run(self, service: str, job: str) -> object:
        """Run one periodic job of a service now (the sla ticker, notify's dispatcher…), then
        settle what it did."""
        result = await self.services[service].periodic(job).run()
        await self.settle()
        return result

    def set_clock(self, at: datetime | str | None) -> None:
        text = at.isoformat() if isinstance(at, datetime) else (at or "")
        (self.data_dir / "clock.txt").write_text(text)

    def token(self, role: str, agency: str | None = None, region: str | None = None) -> str:
        return create_token(self.secret.encode(), Role(role), agency=agency, region=region)

    def client(self, service: str, token: str | None = None, **headers: str) -> httpx.AsyncClient:
        """An HTTP client of one service that settles the system after every response."""
        if token:
            headers["Authorization"] = f"Bearer {token}"

        async def settled(_: httpx.Response) -> None:
            await self.settle()

        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.services[service].app),
            base_url=f"http://{service}.lapor.test",
            headers=headers,
            event_hooks={"response": [settled]},
            timeout=30,
        )


@contextlib.asynccontextmanager
async def in_process(
    data_dir: Path, names: tuple[str, ...] = SERVICE_NAMES, env: dict[str, str] | None = None
) -> AsyncIterator[InProcessSystem]:
    """`async with in_process(tmp_path, ("intake", "verification")) as lapor: …`"""
    env = {"LAPOR_SMS_WEBHOOK_TOKEN": SMS_WEBHOOK_TOKEN} | (env or {})
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    system = InProcessSystem(data_dir)
    try:
        await system.start(names)
        yield system
    finally:
        await system.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


Check = Callable[[], Awaitable[Any]]
