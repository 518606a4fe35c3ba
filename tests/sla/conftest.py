"""One running LAPOR (relay, intake, sla) per test module, on a nats-server of its own.

Like `fresh_nats` in tests/conftest.py, but module-scoped: the module's tests share one system and
walk simulated time forward together (each test uses its own reports), so the processes start
once per module. The test process drives the lifecycle by appending to the same SQLite store
through `ReportRepository`, with the same file clock as the services.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from shared.clock import FileClock
from shared.events.base import Actor
from shared.reports.commands import Command
from shared.reports.lifecycle import stream_name
from shared.runtime.repository import Meta, ReportRepository
from shared.store.port import RecordedEvent
from shared.store.sqlite import SqliteEventStore
from tests.support import NatsServer, System, async_wait_for, nats_server, start_system

ADMIN = Actor(kind="admin", id="admin-test")
# An institution with its own policy: reports it followed up close after 5 working days.
POLICY = {"agencies": {"DISHUB-KOTA-KUPANG": {"auto_close": 5}}}
START_CLOCK = "2026-03-01T08:00:00+07:00"


@pytest.fixture(scope="module")
def module_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    with nats_server(tmp_path_factory.mktemp("sla-nats")) as server:
        yield server


def _metric(text: str, name: str, labels: str = "") -> float | None:
    pattern = re.compile(rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+-]+)$", re.M)
    found = pattern.search(text)
    return float(found.group(1)) if found else None


@dataclass
class Lapor:
    """The running system and the test's own hands on its store."""

    system: System
    store: SqliteEventStore
    reports: ReportRepository
    http: httpx.AsyncClient

    @property
    def sla(self) -> str:
        return self.system.url("sla")

    @property
    def intake(self) -> str:
        return self.system.url("intake")

    def set_clock(self, iso: str) -> None:
        self.system.set_clock(iso)

    def token(self, role: str, agency: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.system.token(role, agency=agency)}"}

    async def submit(self, region: str = "3171", title: str = "Puskesmas tutup") -> tuple[str, str]:
        answer = await self.http.post(
            f"{self.intake}/api/v1/reports",
            json={
                "title": title,
                "body": "Puskesmas tutup pada jam layanan, warga tidak terlayani.",
                "location": {"region_code": region},
                "reporter": {"name": "Siti", "phone": "+6281234567890"},
            },
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        return body["tracking_id"], body["access_code"]

    async def run(self, tracking_id: str, command: Command) -> list[RecordedEvent]:
        return await self.reports.execute(
            tracking_id, command, Meta(actor=ADMIN, correlation_id=f"test-{tracking_id}")
        )

    async def events(self, tracking_id: str, event_type: str | None = None) -> list[RecordedEvent]:
        stream = await self.store.read(stream_name(tracking_id))
        return [e for e in stream if event_type is None or e.event_type == event_type]

    async def deadlines(self, **params: str) -> list[dict[str, Any]]:
        answer = await self.http.get(
            f"{self.sla}/api/v1/deadlines", params=params, headers=self.token("admin"), timeout=10
        )
        assert answer.status_code == 200, answer.text
        result: list[dict[str, Any]] = answer.json()
        return result

    async def deadline(self, tracking_id: str, stage: str, cycle: int = 1) -> dict[str, Any] | None:
        for d in await self.deadlines(tracking_id=tracking_id):
            if d["stage"] == stage and d["cycle"] == cycle:
                return d
        return None

    async def metrics(self) -> str:
        return (await self.http.get(f"{self.sla}/metrics", timeout=5)).text

    async def metric(self, name: str, labels: str = "") -> float:
        return _metric(await self.metrics(), name, labels) or 0.0

    async def wait_deadline(
        self, tracking_id: str, stage: str, what: str, cycle: int = 1, **expected: Any
    ) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            found = await self.deadline(tracking_id, stage, cycle)
            if found and all(found.get(k) == v for k, v in expected.items()):
                return found
            return None

        return await async_wait_for(check, timeout=30, what=what)

    async def wait_events(
        self, tracking_id: str, event_type: str, count: int
    ) -> list[RecordedEvent]:
        async def check() -> list[RecordedEvent] | None:
            found = await self.events(tracking_id, event_type)
            return found if len(found) >= count else None

        return await async_wait_for(
            check, timeout=30, what=f"{count} {event_type} of {tracking_id}"
        )

    async def ticks(self, n: int = 2) -> None:
        """Wait until n more ticks have completed: at least one started after this call."""
        start = await self.metric("lapor_sla_ticks_total")

        async def check() -> bool:
            return await self.metric("lapor_sla_ticks_total") >= start + n

        await async_wait_for(check, timeout=30, what=f"{n} ticks of the sla ticker")

    async def caught_up(self) -> None:
        """Wait until the sla view has applied everything in the store (nothing in flight)."""
        last = await self.store.last_position()

        async def check() -> bool:
            position = _metric(await self.metrics(), "lapor_projection_position", '{service="sla"}')
            return position is not None and position >= last

        await async_wait_for(check, timeout=30, what=f"sla view at position {last}")

    async def restart_sla(self, clock: str | None = None) -> None:
        """SIGKILL the sla service once its view is quiet, move the clock, start it again."""
        await self.caught_up()
        self.system.kill("sla")
        if clock is not None:
            self.set_clock(clock)
        self.system.start("sla")
        self.system.wait_ready("sla")


@pytest.fixture(scope="module")
async def lapor(
    tmp_path_factory: pytest.TempPathFactory, module_nats: NatsServer
) -> AsyncIterator[Lapor]:
    data = tmp_path_factory.mktemp("sla-system") / "data"
    data.mkdir(parents=True)
    (data / "clock.txt").write_text(START_CLOCK)
    policy = data / "sla-policy.json"
    policy.write_text(json.dumps(POLICY))
    system = start_system(
        data,
        module_nats.url,
        services=("intake", "sla"),
        extra_env={"LAPOR_SLA_POLICY_FILE": str(policy), "LAPOR_SLA_TICK_SECONDS": "0.2"},
    )
    store = SqliteEventStore(data / "events.db")
    http = httpx.AsyncClient(timeout=10)
    try:
        yield Lapor(system, store, ReportRepository(store, FileClock(data / "clock.txt")), http)
    finally:
        await http.aclose()
        await store.close()
        system.stop_all()
        print(system.log("sla")[-4000:])
