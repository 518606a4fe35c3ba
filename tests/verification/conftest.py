"""The desk's tests run in process (tests/harness.py): intake and verification, their real apps on a
real SQLite store in the test's own event loop, driven over HTTP by the one driver
(tests/driver.py). Routing is left out on purpose, so a verified report stays verified (nothing
forwards it) and a test sees only what the desk did."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from shared.calendar import WIB
from shared.regions import regions
from tests.driver import Driver
from tests.harness import InProcessSystem, in_process

SERVICES = ("intake", "verification")

_villages: dict[str, Iterator[str]] = {}


def _villages_of(province: str) -> Iterator[str]:
    """The province's real village codes, from a random place on (regions are checked now)."""
    every = [
        village.code
        for regency in regions().children(province)
        for district in regions().children(regency.code)
        for village in regions().children(district.code)
    ]
    start = random.randrange(len(every))
    return itertools.cycle(every[start:] + every[:start])


@pytest.fixture
async def lapor(tmp_path: Path) -> AsyncIterator[InProcessSystem]:
    """Intake and the desk in this event loop (the `drive` fixture drives them)."""
    async with in_process(tmp_path / "lapor", SERVICES) as system:
        yield system


def fresh_region(province: str = "32") -> str:
    """A region code no other report of the test uses (a real village of the province)."""
    if province not in _villages:
        _villages[province] = _villages_of(province)
    return next(_villages[province])


def days_from_now(days: int) -> str:
    """A date `days` after today in WIB (the desk's "today" for a report without a region)."""
    return (datetime.now(WIB) + timedelta(days=days)).date().isoformat()


async def stored(lapor: InProcessSystem, tracking_id: str) -> list[str]:
    """The report's events as the store holds them (the source of truth)."""
    return [e.event_type for e in await lapor.store.read(f"report-{tracking_id}")]


async def history(drive: Driver, tracking_id: str) -> list[str]:
    """The event types of the report's history, as the desk shows it."""
    return [e["event_type"] for e in (await drive.desk_report(tracking_id))["history"]]


async def queue_ids(drive: Driver, token: str | None = None, **params: str) -> list[str]:
    return [row["tracking_id"] for row in await drive.queue(token, **params)]


Call = tuple[str, str, dict[str, object], str, str | None]  # tracking id, action, body, token, key


async def at_once(drive: Driver, *calls: Call) -> list[httpx.Response]:
    """Send the desk actions concurrently (the desk interleaves them at every await)."""
    return list(
        await asyncio.gather(
            *(drive.desk(tid, action, body, token, key) for tid, action, body, token, key in calls)
        )
    )
