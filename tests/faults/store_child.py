"""Processes that append to the SQLite event store until they are killed or the disk is full.

    python -m tests.faults.store_child crash STORE ACKS ROUND TASKS
    python -m tests.faults.store_child fill STORE ACKS [FSIZE_LIMIT]

crash: each task owns one stream and appends 1-3 events at a time with the expected version.
Only after `append` returned does it write one line to ACKS (`stream first_version id,id,...`),
with a single `os.write` on an O_APPEND descriptor, so a SIGKILL leaves whole lines. The
correlation id of every event names its append and how many events it has, so a half-stored
append would show.

fill: appends 4 KB events one at a time until the store refuses, acknowledging each stored one
the same way, then tries three more; prints the refusals (`type: message`, a JSON list) on its
last line. With FSIZE_LIMIT the process may not grow any file beyond that many bytes
(RLIMIT_FSIZE): a full disk for a machine where the test cannot mount a small file system.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from shared.events.base import Actor
from shared.reports.events import ReportAmended
from shared.store.port import NewEvent, StoreError
from shared.store.sqlite import SqliteEventStore

ACTOR = Actor(kind="system", id="store-child")


def correlation(round_: str, task: int, number: int, size: int) -> str:
    return f"append-{round_}-{task}-{number}-of-{size}"


async def appender(store: SqliteEventStore, acks: int, round_: str, task: int) -> None:
    stream = f"crash-{task}"
    version = len(await store.read(stream))
    number = 0
    while True:
        size = 1 + (number + task) % 3
        cid = correlation(round_, task, number, size)
        events = [
            NewEvent.of(
                ReportAmended(text=f"{cid} event {k} " + "x" * 200),
                occurred_at=datetime.now(UTC),
                actor=ACTOR,
                correlation_id=cid,
            )
            for k in range(size)
        ]
        stored = await store.append(stream, events, expected_version=version)
        line = f"{stream} {version + 1} {','.join(str(e.event_id) for e in stored)}\n"
        os.write(acks, line.encode())
        version += size
        number += 1


async def crash(path: Path, acks_path: Path, round_: str, tasks: int) -> None:
    store = SqliteEventStore(path)
    acks = os.open(acks_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    await asyncio.gather(*(appender(store, acks, round_, task) for task in range(tasks)))


async def fill(path: Path, acks_path: Path) -> None:
    store = SqliteEventStore(path)
    acks = os.open(acks_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    refusals: list[str] = []
    number = 0
    while len(refusals) < 4 and number < 100_000:
        cid = correlation("fill", 0, number, 1)
        event = NewEvent.of(
            ReportAmended(text=f"{cid} " + "y" * 4000),
            occurred_at=datetime.now(UTC),
            actor=ACTOR,
            correlation_id=cid,
        )
        try:
            stored = await store.append(f"fill-{number % 7}", [event], expected_version=None)
        except StoreError as error:
            refusals.append(f"{type(error).__name__}: {error}")
        else:
            os.write(
                acks, f"{stored[0].stream} {stored[0].stream_version} {event.event_id}\n".encode()
            )
        number += 1
    await store.close()
    print(json.dumps(refusals), flush=True)


if __name__ == "__main__":
    mode, store_path, acks_file = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    if mode == "crash":
        asyncio.run(crash(store_path, acks_file, sys.argv[4], int(sys.argv[5])))
    else:
        if len(sys.argv) > 4:
            limit = int(sys.argv[4])
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG from write(), not death
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        asyncio.run(fill(store_path, acks_file))
