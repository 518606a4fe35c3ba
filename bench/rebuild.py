"""Rebuild: events/s replaying the store into each service's read models (`Projector.rebuild`
with each services/<name>/app.py `create_projector(settings)`), beside the store's read rate.

    .venv/bin/python -m bench.rebuild [--events 50000] [--runs 2] [--services ...]
    .venv/bin/python -m bench.rebuild --events 1000000 --runs 1     # the target's size
    .venv/bin/python -m bench.rebuild --events 1000000 --runs 1 --services sla --no-floors

The events come from one cached generated store of realistic lifecycles
(bench/.data/store-events-1000000-*.db, made once through SqliteEventStore.append: about 200k
reports, 5 events each on average, interleaved in global order); `--events` replays its first N.
Views go to a fresh directory per run (the same disk). The limits beside them, same run:
- `raw SELECT`: the rows read with plain sqlite3 in pages of 5000 (no decoding);
- `store.read_all`: the rows read and decoded into RecordedEvent as every rebuild must;
- `view floor`: what the least of LAPOR's views does per event on top of that: the events read
  and decoded as above, and one history row per report event written into a table shaped like
  routing's `history` (its primary key and its index by report), a transaction per page; no
  fold, no report row, no deadlines. A view that keeps a history of every event cannot be
  cheaper than this in CPython with SQLite.
`--no-floors` leaves these three out and runs only the services' rebuilds (a before/after of one
service at 1M, also through `bench.ab`): the RESULT line then has no floor figures.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import json
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import (
    Sample,
    best,
    generated_store,
    load_average,
    print_header,
    rate,
    result,
    scratch,
    spread,
    table,
    verdict,
)
from shared.settings import SERVICE_NAMES, Settings
from shared.store.port import RecordedEvent
from shared.store.sqlite import COLUMNS, SqliteEventStore

SOURCE_EVENTS = 1_000_000
# The limits measured beside the rebuilds (left out with --no-floors).
RAW = "raw SELECT (limit)"
DECODE = "store.read_all -> RecordedEvent"
FLOOR = "view floor: read_all + one history row per event"


class FirstEvents:
    """The store seen up to its Nth event (positions are 1..N in a generated store)."""

    def __init__(self, store: SqliteEventStore, limit: int) -> None:
        self.store = store
        self.limit = limit

    async def read_all(self, from_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        if from_position >= self.limit:
            return []
        events = await self.store.read_all(from_position, min(limit, self.limit - from_position))
        return [e for e in events if e.position <= self.limit]

    async def last_position(self) -> int:
        return min(self.limit, await self.store.last_position())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def raw_scan(path: Path, limit: int) -> Sample:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    cpu = time.process_time()
    began = time.perf_counter()
    position = count = 0
    while count < limit:
        rows = conn.execute(
            f"SELECT {COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT 5000",
            (position,),
        ).fetchall()
        if not rows:
            break
        position = rows[-1][0]
        count += len(rows)
    elapsed = time.perf_counter() - began
    conn.close()
    return Sample(min(count, limit), elapsed, extra={"cpu_us": _cpu_us(cpu, count)})


def _cpu_us(since: float, count: int) -> float:
    return (time.process_time() - since) / max(1, count) * 1e6


def read_all(
    path: Path,
    limit: int,
    each_page: Callable[[list[RecordedEvent]], None] | None = None,
    page: int = 5000,
) -> Sample:
    """The store's first `limit` events read and decoded a page at a time, each page handed to
    `each_page` (timed with the reading) when given."""

    async def go() -> Sample:
        store = SqliteEventStore(path)
        view = FirstEvents(store, limit)
        cpu = time.process_time()
        began = time.perf_counter()
        position = count = 0
        while True:
            events = await view.read_all(position, page)
            if not events:
                break
            if each_page is not None:
                each_page(events)
            position = events[-1].position
            count += len(events)
        elapsed = time.perf_counter() - began
        await store.close()
        return Sample(count, elapsed, extra={"cpu_us": _cpu_us(cpu, count)})

    return asyncio.run(go())


FLOOR_SCHEMA = """
CREATE TABLE history (
    position INTEGER PRIMARY KEY,
    tracking_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX history_by_report ON history (tracking_id, position);
CREATE TABLE checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), position INTEGER NOT NULL);
"""
FLOOR_INSERT = (
    "INSERT OR IGNORE INTO history (position, tracking_id, event_type, occurred_at, actor_kind,"
    " details) VALUES (?, ?, ?, ?, ?, ?)"
)


def view_floor(path: Path, limit: int, directory: Path) -> Sample:
    """`read_all` plus one history row per report event, a transaction per page of 10,000."""
    conn = sqlite3.connect(directory / "floor.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(FLOOR_SCHEMA)

    def write(events: list[RecordedEvent]) -> None:
        conn.execute("BEGIN")
        conn.executemany(
            FLOOR_INSERT,
            [
                (
                    e.position,
                    e.stream.removeprefix("report-"),
                    e.event_type,
                    e.occurred_at.isoformat(),
                    e.actor.kind,
                    json.dumps({"version": e.stream_version}),
                )
                for e in events
                if e.stream.startswith("report-")
            ],
        )
        conn.execute(
            "INSERT OR REPLACE INTO checkpoint (id, position) VALUES (1, ?)", (events[-1].position,)
        )
        conn.execute("COMMIT")

    try:
        return read_all(path, limit, write, page=10_000)
    finally:
        conn.close()


def rebuild(service: str, path: Path, limit: int, directory: Path) -> Sample:
    module = importlib.import_module(f"services.{service}.bootstrap")
    settings = Settings(data_dir=directory, event_store=f"sqlite:///{path}")

    async def go() -> Sample:
        projector = module.create_projector(settings)
        if projector is None:
            return Sample(0, float("nan"))
        store = SqliteEventStore(path)
        try:
            cpu = time.process_time()
            began = time.perf_counter()
            count = await projector.rebuild(FirstEvents(store, limit))
            elapsed = time.perf_counter() - began
            sample = Sample(count, elapsed)
            sample.extra = {
                "cpu_us": (time.process_time() - cpu) / max(1, count) * 1e6,
                "size_mb": settings.view_db(service).stat().st_size / 2**20,
            }
            return sample
        finally:
            projector.close()
            await store.close()

    return asyncio.run(go())


def available_services() -> list[str]:
    names = []
    for name in SERVICE_NAMES:
        try:
            module = importlib.import_module(f"services.{name}.bootstrap")
        except Exception as error:  # a service being written right now may not import yet
            print(f"  {name}: not importable ({type(error).__name__}: {error})", file=sys.stderr)
            continue
        if hasattr(module, "create_projector"):
            names.append(name)
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=50_000, help="At most 1,000,000")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--services", nargs="+", default=None)
    parser.add_argument(
        "--source-events", type=int, default=SOURCE_EVENTS, help="Size of the generated store"
    )
    parser.add_argument(
        "--no-floors",
        action="store_true",
        help="Only the services' rebuilds (no raw SELECT, store.read_all or view floor)",
    )
    args = parser.parse_args()
    print_header("Rebuild: replaying the store into each service's views")
    path = generated_store(events=args.source_events)
    limit = min(args.events, args.source_events)
    services = args.services or available_services()
    print(f"{limit:,} events (the first of a generated {args.source_events:,}); {services}\n")
    cases: dict[str, Callable[[Path], Sample]] = {}
    if not args.no_floors:
        cases[RAW] = lambda _: raw_scan(path, limit)
        cases[DECODE] = lambda _: read_all(path, limit)
        cases[FLOOR] = functools.partial(view_floor, path, limit)
    for service in services:
        cases[f"rebuild {service}"] = functools.partial(rebuild, service, path, limit)
    results: dict[str, list[Sample]] = {}
    for run in range(args.runs):
        for name, case in cases.items():
            with scratch("rebuild") as directory:
                sample = case(directory)
            results.setdefault(name, []).append(sample)
            print(f"  run {run + 1} {name}: {sample.per_second:,.0f} events/s", file=sys.stderr)
    rows = []
    checks = []
    per_cpu: dict[str, int] = {}
    for name, samples in results.items():
        s = best(samples)
        rows.append(
            [
                name,
                f"{s.count:,}",
                f"{s.elapsed:.1f}",
                rate(s.per_second),
                spread([x.per_second for x in samples]),
                f"{s.extra['cpu_us']:.0f}" if "cpu_us" in s.extra else "",
                rate(1e6 / s.extra["cpu_us"]) if "cpu_us" in s.extra else "",
                f"{s.extra['size_mb']:.0f}" if "size_mb" in s.extra else "",
            ]
        )
        if name.startswith("rebuild"):
            per_cpu[name.removeprefix("rebuild ")] = round(1e6 / s.extra["cpu_us"])
            checks.append(
                f"{name}: {s.per_second:,.0f} events/s"
                f" (target >= 30,000: {verdict(s.per_second >= 30_000)});"
                f" with a whole core: {1e6 / s.extra['cpu_us']:,.0f} events/s"
            )
    print(
        table(
            [
                "what",
                "events",
                "seconds",
                "events/s (best)",
                "spread",
                "CPU µs/event",
                "events/s per CPU-second",
                "view MB",
            ],
            rows,
        )
    )
    print()
    for line in checks:
        print("- " + line)
    print(f"\nload average at end: {load_average()}")
    floors: dict[str, object] = {}
    if not args.no_floors:
        decode = best(results[DECODE])
        floor = best(results[FLOOR])
        floors = {
            "view_floor_events_per_cpu_second": round(1e6 / floor.extra["cpu_us"]),
            "read_all_events_per_cpu_second": round(1e6 / decode.extra["cpu_us"])
            if "cpu_us" in decode.extra
            else None,
        }
    result(**floors, rebuild_events_per_cpu_second=per_cpu, events=limit)


if __name__ == "__main__":
    main()
