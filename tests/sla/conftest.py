"""The sla service's stories: intake and sla, with an institution's own policy, and the test's own
hands on the store.

In process (`lapor`, `drive`, `story`): the services run in the test's event loop
(tests/harness.py); the ticker runs only when the test calls `story.tick()`, and the clock moves
when the test calls `lapor.set_clock(...)`, so a story puts every event exactly where it wants it.

Over real processes (`running`): relay, intake and sla on a nats-server of the test's own, for
what only processes can show (the sla service SIGKILLed and started again).

Either way the test drives the lifecycle past intake (verification, forwarding, follow-ups) by
appending to the same SQLite store through `ReportRepository`, with the services' file clock:
the sla service sees those events as it sees any other.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.sla.ticker import TickResult
from shared.clock import FileClock
from shared.events.base import Actor
from shared.reports.commands import Command, ForwardReport, VerifyReport
from shared.reports.lifecycle import stream_name
from shared.runtime.repository import Meta, ReportRepository
from shared.store.port import EventStore, RecordedEvent
from shared.store.sqlite import SqliteEventStore
from tests.driver import Driver, Submitted, driving, eventually
from tests.harness import InProcessSystem, in_process
from tests.support import NatsServer, System, start_system

ADMIN = Actor(kind="admin", id="admin-test")
# An institution with its own policy: reports it followed up close after 5 working days.
POLICY = {"agencies": {"DISHUB-KOTA-KUPANG": {"auto_close": 5}}}
START_CLOCK = "2026-03-01T08:00:00+07:00"
REPORTER = {"name": "Siti", "phone": "+6281234567890"}


def metric_value(text: str, name: str, labels: str = "") -> float | None:
    pattern = re.compile(rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+-]+)$", re.M)
    found = pattern.search(text)
    return float(found.group(1)) if found else None


def _data_dir(root: Path) -> tuple[Path, Path]:
    """A data directory with the start clock and the policy file."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "clock.txt").write_text(START_CLOCK)
    policy = root / "sla-policy.json"
    policy.write_text(json.dumps(POLICY))
    return root, policy


@dataclass
class Story:
    """What an sla story does beside the driver: act on reports as the administration and the
    institutions do (straight on the store), and read the store and the deadlines."""

    drive: Driver
    store: EventStore
    reports: ReportRepository
    settle: Callable[[], Awaitable[object]]

    async def submit(
        self, region: str = "3171", title: str = "Puskesmas tutup", **fields: Any
    ) -> Submitted:
        return await self.drive.submit(
            title=title,
            body="Puskesmas tutup pada jam layanan, warga tidak terlayani.",
            location={"region_code": region},
            reporter=REPORTER,
            **fields,
        )

    async def act(self, tracking_id: str, command: Command) -> list[RecordedEvent]:
        stored = await self.reports.execute(
            tracking_id, command, Meta(actor=ADMIN, correlation_id=f"test-{tracking_id}")
        )
        await self.settle()
        return stored

    async def forward(
        self, tracking_id: str, agency: str, due: str, inspection: bool = False
    ) -> None:
        await self.act(tracking_id, VerifyReport(requires_field_inspection=inspection))
        await self.act(
            tracking_id,
            ForwardReport(
                agency_code=agency, agency_name=agency, follow_up_due=date.fromisoformat(due)
            ),
        )

    async def events(self, tracking_id: str, event_type: str | None = None) -> list[RecordedEvent]:
        stream = await self.store.read(stream_name(tracking_id))
        return [e for e in stream if event_type is None or e.event_type == event_type]

    async def deadlines(self, **params: str) -> list[dict[str, Any]]:
        answer = await self.drive.client("sla", self.drive.token("admin")).get(
            "/api/v1/deadlines", params=params
        )
        assert answer.status_code == 200, answer.text
        result: list[dict[str, Any]] = answer.json()
        return result

    async def deadline(self, tracking_id: str, stage: str, cycle: int = 1) -> dict[str, Any] | None:
        for d in await self.deadlines(tracking_id=tracking_id):
            if d["stage"] == stage and d["cycle"] == cycle:
                return d
        return None

    async def metric(self, name: str, labels: str = "") -> float:
        text = (await self.drive.client("sla").get("/metrics")).text
        return metric_value(text, name, labels) or 0.0

    async def wait_deadline(
        self, tracking_id: str, stage: str, what: str, cycle: int = 1, **expected: Any
    ) -> dict[str, Any]:
        """The deadline once it shows `expected` (at once in process, where reads never lag)."""

        async def check() -> dict[str, Any] | None:
            found = await self.deadline(tracking_id, stage, cycle)
            if found and all(found.get(k) == v for k, v in expected.items()):
                return found
            return None

        return await eventually(check, timeout=30, what=what)

    async def wait_events(
        self, tracking_id: str, event_type: str, count: int
    ) -> list[RecordedEvent]:
        async def check() -> list[RecordedEvent] | None:
            found = await self.events(tracking_id, event_type)
            return found if len(found) >= count else None

        return await eventually(check, timeout=30, what=f"{count} {event_type} of {tracking_id}")


# --- in process -------------------------------------------------------------------------------
@dataclass
class InProcessStory(Story):
    lapor: InProcessSystem

    async def tick(self) -> TickResult:
        """One run of the sla ticker at the clock's now (and what it stored delivered)."""
        result = await self.lapor.run("sla", "tick")
        assert isinstance(result, TickResult)
        return result


@pytest.fixture
async def lapor(tmp_path: Path) -> AsyncIterator[InProcessSystem]:
    """intake and sla in this event loop, the clock at START_CLOCK, DISHUB's own policy."""
    data, policy = _data_dir(tmp_path / "lapor")
    async with in_process(
        data, ("intake", "sla"), env={"LAPOR_SLA_POLICY_FILE": str(policy)}
    ) as system:
        yield system


@pytest.fixture
def story(lapor: InProcessSystem, drive: Driver) -> InProcessStory:
    return InProcessStory(
        drive,
        lapor.store,
        ReportRepository(lapor.store, FileClock(lapor.data_dir / "clock.txt")),
        lapor.settle,
        lapor,
    )


# --- real processes ---------------------------------------------------------------------------
async def _nothing() -> None:
    return None


@dataclass
class Running(Story):
    """The running system (relay, intake, sla) and the test's own hands on its store."""

    system: System

    def set_clock(self, iso: str) -> None:
        self.system.set_clock(iso)

    async def ticks(self, n: int = 2) -> None:
        """Wait until n more ticks have completed: at least one started after this call."""
        start = await self.metric("lapor_sla_ticks_total")

        async def check() -> bool:
            return await self.metric("lapor_sla_ticks_total") >= start + n

        await eventually(check, timeout=30, what=f"{n} ticks of the sla ticker")

    async def caught_up(self) -> None:
        """Wait until the sla view has applied everything in the store (nothing in flight)."""
        last = await self.store.last_position()

        async def check() -> bool:
            position = await self.metric("lapor_projection_position", '{service="sla"}')
            return position >= last

        await eventually(check, timeout=30, what=f"sla view at position {last}")

    async def restart_sla(self, clock: str | None = None) -> None:
        """SIGKILL the sla service once its view is quiet, move the clock, start it again."""
        await self.caught_up()
        self.system.kill("sla")
        if clock is not None:
            self.set_clock(clock)
        self.system.start("sla")
        self.system.wait_ready("sla")


@pytest.fixture
async def running(tmp_path: Path, fresh_nats: NatsServer) -> AsyncIterator[Running]:
    data, policy = _data_dir(tmp_path / "data")
    system = start_system(
        data,
        fresh_nats.url,
        services=("intake", "sla"),
        extra_env={"LAPOR_SLA_POLICY_FILE": str(policy), "LAPOR_SLA_TICK_SECONDS": "0.2"},
    )
    store = SqliteEventStore(data / "events.db")
    try:
        async with driving(system) as drive:
            reports = ReportRepository(store, FileClock(data / "clock.txt"))
            yield Running(drive, store, reports, _nothing, system)
    finally:
        await store.close()
        system.stop_all()
        print(system.log("sla")[-4000:])
