"""Store append: SqliteEventStore against raw SQLite with the same durability, and against the
`eventsourcing` library's SQLite application, on the same ReportSubmitted events.

    .venv/bin/python -m bench.store_append [--concurrency 1 8 64] [--events 4000] [--seconds 6]

Every case appends one event to a new stream per call (a citizen's submission), from N
concurrent appenders, into a fresh file in WAL mode with synchronous=FULL (the store's own
settings; the peer's are checked and printed):
- `lapor`: `SqliteEventStore.append` from N asyncio tasks (validation, hash chain, group commit).
- `raw sqlite`: the same table, rows already serialised, one INSERT per transaction when N = 1
  and N rows per transaction when N > 1: the fsync-bound floor and the ideal group commit that
  N waiting writers allow. No validation, no hashing, no conflict check: the limit, not a peer.
- `asyncio → thread → raw sqlite (floor)`: what any async store with a writer thread pays before
  doing anything of its own: N asyncio tasks hand the same rows (already serialised) to one
  writer thread, one item per loop turn, the writer commits what waits in one transaction and
  wakes the loop once per group (the store's own hand-offs, without validation, hashing or the
  head lookup). Not a limit the store can beat: the fsync-bound raw case is.
- `raw sqlite, N connections`: N threads each committing its own INSERT (no group commit):
  what concurrency gives SQLite without a commit queue.
- `eventsourcing`: its SQLite application (PERSISTENCE_MODULE=eventsourcing.sqlite, a file
  SQLITE_DBNAME) saving one new aggregate per call (the same event data) from N threads; and
  `from asyncio`: N asyncio tasks awaiting `asyncio.to_thread(app.save, ...)`, as an async
  service has to call a blocking library (the thread hop our store's writer thread also pays).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import queue
import random
import sqlite3
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import (
    Sample,
    best,
    load_average,
    ms,
    print_header,
    rate,
    result,
    scratch,
    spread,
    submitted_event,
    table,
    verdict,
)
from shared.store.chain import canonical_json
from shared.store.port import NO_STREAM, NewEvent
from shared.store.sqlite import SCHEMA, SqliteEventStore


def make_events(count: int, seed: int) -> list[NewEvent]:
    rng = random.Random(seed)
    return [submitted_event(rng) for _ in range(count)]


# --- lapor ------------------------------------------------------------------------------------
def run_lapor(directory: Path, events: list[NewEvent], concurrency: int, seconds: float) -> Sample:
    async def go() -> Sample:
        store = SqliteEventStore(directory / "lapor.db")
        try:
            for event in make_events(5, 99):  # warm up: connections, statements, the file
                await store.append(f"report-warm{event.event_id.hex[:8]}", [event], NO_STREAM)
            latencies: list[float] = []
            queue = iter(events)
            deadline = time.perf_counter() + seconds

            async def appender() -> None:
                for event in queue:
                    if time.perf_counter() > deadline:
                        return
                    stream = f"report-{event.data['tracking_id']}"
                    began = time.perf_counter()
                    await store.append(stream, [event], NO_STREAM)
                    latencies.append(time.perf_counter() - began)

            began = time.perf_counter()
            await asyncio.gather(*(appender() for _ in range(concurrency)))
            return Sample(len(latencies), time.perf_counter() - began, latencies)
        finally:
            await store.close()

    return asyncio.run(go())


# --- raw sqlite -------------------------------------------------------------------------------
_INSERT = (
    "INSERT INTO events (event_id, stream, stream_version, event_type, schema_version,"
    " occurred_at, correlation_id, causation_id, actor, region_code, agency_code, data,"
    " prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def raw_rows(events: list[NewEvent]) -> list[tuple[Any, ...]]:
    """The rows the store would write, serialised beforehand (not timed)."""
    return [
        (
            str(e.event_id),
            f"report-{e.data['tracking_id']}",
            1,
            e.event_type,
            e.schema_version,
            e.occurred_at.isoformat(),
            e.correlation_id,
            e.causation_id,
            canonical_json(e.actor.model_dump(mode="json")),
            e.region_code,
            e.agency_code,
            canonical_json(e.data),
            "0" * 64,
            uuid.uuid4().hex * 2,
        )
        for e in events
    ]


def raw_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=60000")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def run_raw(directory: Path, rows: list[tuple[Any, ...]], batch: int, seconds: float) -> Sample:
    """One writer; `batch` rows per transaction (1: a transaction per insert)."""
    conn = raw_connect(directory / "raw.db")
    conn.executescript(SCHEMA)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    began = time.perf_counter()
    for start in range(0, len(rows), batch):
        if time.perf_counter() > deadline:
            break
        chunk = rows[start : start + batch]
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        for row in chunk:
            conn.execute(_INSERT, row)
        conn.execute("COMMIT")
        latencies.extend([time.perf_counter() - t0] * len(chunk))
    elapsed = time.perf_counter() - began
    conn.close()
    return Sample(len(latencies), elapsed, latencies)


def run_floor(
    directory: Path, rows: list[tuple[Any, ...]], concurrency: int, seconds: float
) -> Sample:
    """asyncio tasks -> one writer thread -> the loop again, with nothing but the INSERTs."""
    conn = raw_connect(directory / "floor.db")
    conn.executescript(SCHEMA)
    handed: queue.SimpleQueue[list[tuple[Any, ...]] | None] = queue.SimpleQueue()

    def writer() -> None:
        while (batch := handed.get()) is not None:
            items: list[list[tuple[Any, ...]] | None] = [batch]
            while not handed.empty():
                items.append(handed.get())
            done = [item for item in items if item is not None]
            conn.execute("BEGIN IMMEDIATE")
            for part in done:
                for row, _waiter, _loop in part:
                    conn.execute(_INSERT, row)
            conn.execute("COMMIT")
            loop = done[0][0][2]
            loop.call_soon_threadsafe(_resolve, [w for part in done for _r, w, _l in part])
            if len(done) < len(items):
                return

    def _resolve(waiters: list[asyncio.Future[None]]) -> None:
        for waiter in waiters:
            waiter.set_result(None)

    thread = threading.Thread(target=writer)
    thread.start()

    async def go() -> Sample:
        loop = asyncio.get_running_loop()
        pending: list[Any] = []
        latencies: list[float] = []
        source = iter(rows)
        deadline = time.perf_counter() + seconds

        def flush() -> None:
            handed.put(pending[:])
            pending.clear()

        async def appender() -> None:
            for row in source:
                if time.perf_counter() > deadline:
                    return
                began = time.perf_counter()
                waiter = loop.create_future()
                if not pending:
                    loop.call_soon(flush)
                pending.append((row, waiter, loop))
                await waiter
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(appender() for _ in range(concurrency)))
        return Sample(len(latencies), time.perf_counter() - began, latencies)

    try:
        return asyncio.run(go())
    finally:
        handed.put(None)
        thread.join()
        conn.close()


def run_raw_threads(
    directory: Path, rows: list[tuple[Any, ...]], concurrency: int, seconds: float
) -> Sample:
    """N threads, N connections, each INSERT its own transaction: SQLite's lock serialises them."""
    setup = raw_connect(directory / "rawn.db")
    setup.executescript(SCHEMA)
    setup.close()
    latencies: list[float] = []
    lock = threading.Lock()
    source = iter(rows)
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        conn = raw_connect(directory / "rawn.db")
        mine: list[float] = []
        while time.perf_counter() < deadline:
            with lock:
                row = next(source, None)
            if row is None:
                break
            t0 = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(_INSERT, row)
            conn.execute("COMMIT")
            mine.append(time.perf_counter() - t0)
        conn.close()
        with lock:
            latencies.extend(mine)

    return _threads(worker, concurrency, latencies)


def _threads(worker: Callable[[], None], n: int, latencies: list[float]) -> Sample:
    threads = [threading.Thread(target=worker) for _ in range(n)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Sample(len(latencies), time.perf_counter() - began, latencies)


# --- eventsourcing ----------------------------------------------------------------------------
@functools.cache
def _es_classes() -> tuple[Any, Any]:
    """The peer's aggregate and application (defined once: the library registers topics)."""
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    class Report(Aggregate):
        @event("Submitted")
        def __init__(self, data: dict[str, Any]) -> None:
            self.data = data

    class Reports(Application[uuid.UUID]):
        pass

    return Report, Reports


def run_eventsourcing(
    directory: Path,
    events: list[NewEvent],
    concurrency: int,
    seconds: float,
    from_asyncio: bool = False,
) -> Sample:
    """N threads calling `save`; or (`from_asyncio`) N asyncio tasks each awaiting
    `asyncio.to_thread(save)`, as an async service must call a blocking library."""
    Report, Reports = _es_classes()
    app = Reports(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(directory / "eventsourcing.db"),
            "SQLITE_LOCK_TIMEOUT": "60",
        }
    )
    # Equal durability: WAL (set by the library) and synchronous=FULL (SQLite's default here).
    conn = sqlite3.connect(directory / "eventsourcing.db")
    modes = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.close()
    sync = _es_synchronous(app)
    for e in make_events(5, 98):
        app.save(Report(dict(e.data)))
    payloads = [dict(e.data) for e in events]
    latencies: list[float] = []
    lock = threading.Lock()
    source = iter(payloads)
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        mine: list[float] = []
        while time.perf_counter() < deadline:
            with lock:
                data = next(source, None)
            if data is None:
                break
            t0 = time.perf_counter()
            app.save(Report(data))
            mine.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(mine)

    async def task() -> None:
        while time.perf_counter() < deadline:
            data = next(source, None)
            if data is None:
                return
            t0 = time.perf_counter()
            await asyncio.to_thread(app.save, Report(data))
            latencies.append(time.perf_counter() - t0)

    async def tasks() -> Sample:
        began = time.perf_counter()
        await asyncio.gather(*(task() for _ in range(concurrency)))
        return Sample(len(latencies), time.perf_counter() - began, latencies)

    sample = asyncio.run(tasks()) if from_asyncio else _threads(worker, concurrency, latencies)
    sample.extra.update(journal_mode=modes, synchronous=sync)
    app.close()
    return sample


def _es_synchronous(app: Any) -> str:
    """The synchronous setting on the library's own pooled connection (2 = FULL)."""
    datastore = app.recorder.datastore
    with datastore.get_connection(commit=False) as conn:
        value = conn._sqlite_conn.execute("PRAGMA synchronous").fetchone()[0]
    return {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(int(value), str(value))


# --- main -------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--events", type=int, default=4000, help="Per case and run, at most")
    parser.add_argument("--seconds", type=float, default=6.0, help="Per case and run, at most")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--skip-peer", action="store_true", help="Leave eventsourcing out")
    args = parser.parse_args()
    print_header("Store append (one ReportSubmitted per call, new stream)")
    events_all = make_events(args.events, 1)
    size = sum(len(json.dumps(e.data)) for e in events_all) / len(events_all)
    print(f"event data: {size:.0f} bytes of JSON on average (ReportSubmitted)\n")
    rows_out: list[list[object]] = []
    checks: list[str] = []
    figures: dict[str, object] = {}
    for n in args.concurrency:
        results: dict[str, list[Sample]] = {}
        for run in range(args.runs):
            # A fresh set of events per run (unique ids), the same events for every contender.
            events = make_events(args.events, 1000 * n + run)
            rows = raw_rows(events)
            seconds: float = args.seconds
            cases: dict[str, Callable[[Path], Sample]] = {
                "lapor SqliteEventStore": functools.partial(
                    run_lapor, events=events, concurrency=n, seconds=seconds
                ),
                "raw sqlite (limit)": functools.partial(
                    run_raw, rows=rows, batch=n, seconds=seconds
                ),
            }
            cases["asyncio → thread → raw sqlite (floor)"] = functools.partial(
                run_floor, rows=rows, concurrency=n, seconds=seconds
            )
            if n > 1:
                cases["raw sqlite, N connections"] = functools.partial(
                    run_raw_threads, rows=rows, concurrency=n, seconds=seconds
                )
            if not args.skip_peer:
                cases["eventsourcing 9.5.6 (peer)"] = functools.partial(
                    run_eventsourcing, events=events, concurrency=n, seconds=seconds
                )
                cases["eventsourcing from asyncio (to_thread)"] = functools.partial(
                    run_eventsourcing,
                    events=events,
                    concurrency=n,
                    seconds=seconds,
                    from_asyncio=True,
                )
            # Every other run backwards: the disk is shared, and a contender that always ran
            # just after another would always meet the same state of it.
            order = list(cases.items())
            if run % 2:
                order.reverse()
            for name, case in order:
                with scratch("append") as directory:
                    cpu = time.process_time()
                    sample = case(directory)
                    sample.extra["cpu_us"] = (
                        (time.process_time() - cpu) / max(1, sample.count) * 1e6
                    )
                results.setdefault(name, []).append(sample)
                print(
                    f"  N={n} run {run + 1} {name}: {sample.per_second:,.0f}/s"
                    f" p50 {ms(sample.p50)} ms p99 {ms(sample.p99)} ms",
                    file=sys.stderr,
                )
        top = {name: best(samples) for name, samples in results.items()}
        raw = top["raw sqlite (limit)"].per_second
        lapor = top["lapor SqliteEventStore"].per_second
        peer = top.get("eventsourcing 9.5.6 (peer)")
        peer_async = top.get("eventsourcing from asyncio (to_thread)")
        for name, samples in results.items():
            s = top[name]
            note = ""
            if name.startswith("raw sqlite (limit)"):
                note = "1 txn per insert" if n == 1 else f"{n} rows per txn"
            if name.startswith("eventsourcing 9"):
                note = f"WAL={s.extra['journal_mode']}, synchronous={s.extra['synchronous']}"
            rows_out.append(
                [
                    n,
                    name,
                    rate(s.per_second),
                    spread([x.per_second for x in samples]),
                    ms(s.p50),
                    ms(s.p99),
                    f"{s.extra['cpu_us']:.0f}",
                    f"{s.per_second / raw:.0%}",
                    note,
                ]
            )
        figures[f"store_of_raw_n{n}"] = round(lapor / raw, 3)
        # Each run's store beside the same run's raw case (seconds apart), the median over runs:
        # steadier than the ratio of two bests when the disk's speed moves between runs.
        paired = statistics.median(
            mine.per_second / limit.per_second
            for mine, limit in zip(
                results["lapor SqliteEventStore"], results["raw sqlite (limit)"], strict=True
            )
        )
        figures[f"store_of_raw_paired_n{n}"] = round(paired, 3)
        floor = top["asyncio → thread → raw sqlite (floor)"].per_second
        figures[f"floor_of_raw_n{n}"] = round(floor / raw, 3)
        figures[f"store_events_per_second_n{n}"] = round(lapor)
        if peer:
            figures[f"store_vs_eventsourcing_n{n}"] = round(lapor / peer.per_second, 2)
        if peer_async:
            figures[f"store_vs_eventsourcing_asyncio_n{n}"] = round(
                lapor / peer_async.per_second, 2
            )
        checks.append(
            f"N={n}: lapor/raw = {lapor / raw:.0%} (target >= 50%: {verdict(lapor >= raw / 2)};"
            f" run by run: {paired:.0%})"
            + (
                f"; lapor/eventsourcing = {lapor / peer.per_second:.1f}x"
                f" (target >= 2x: {verdict(lapor >= 2 * peer.per_second)})"
                if peer
                else ""
            )
            + (
                f"; lapor/eventsourcing-from-asyncio = {lapor / peer_async.per_second:.1f}x"
                if peer_async
                else ""
            )
        )
    print(
        table(
            [
                "N",
                "store",
                "events/s (best)",
                "spread",
                "p50 ms",
                "p99 ms",
                "CPU µs/event",
                "of raw",
                "notes",
            ],
            rows_out,
        )
    )
    print()
    for line in checks:
        print("- " + line)
    print(f"\nload average at end: {load_average()}")
    result(**figures)


if __name__ == "__main__":
    main()
