"""A writer process for the multi-process store test (run through multiprocessing, spawn)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path

from shared.events.base import Actor
from shared.reports.events import ReportAmended
from shared.store.port import ANY, NewEvent, WrongExpectedVersion
from shared.store.sqlite import SqliteEventStore

SHARED_STREAM = "report-SHARED"


def event(text: str) -> NewEvent:
    return NewEvent.of(
        ReportAmended(text=text),
        occurred_at=datetime.now(UTC),
        actor=Actor(kind="system", id="writer"),
        correlation_id=text,
    )


def write(path: str, name: str, count: int, barrier: Barrier) -> None:
    store = SqliteEventStore(Path(path))  # both processes may create the file at once
    barrier.wait(120)  # start appending together (a crashed partner must not hang this one)
    asyncio.run(_write(store, name, count))


async def _write(store: SqliteEventStore, name: str, count: int) -> None:
    try:
        for i in range(count):
            await store.append(f"report-{name}-{i % 5}", [event(f"{name}-own-{i}")], ANY)
            # the contended stream: optimistic concurrency with a retry, as services do
            while True:
                head = len(await store.read(SHARED_STREAM))
                try:
                    await store.append(SHARED_STREAM, [event(f"{name}-shared-{i}")], head)
                    break
                except WrongExpectedVersion:
                    continue
    finally:
        await store.close()
