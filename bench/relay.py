"""Relay: events/s from the SQLite store to JetStream through `Relay`, against raw nats-py
`publish_async` of the same messages on the same kind of server.

    .venv/bin/python -m bench.relay [--events 50000] [--runs 2]

Each case gets its own fresh nats-server (JetStream, file storage in a temp dir, the
LAPOR_EVENTS stream as the relay declares it: file storage, 15 min duplicate window).
- `lapor Relay`: the relay's own loop from position 0 until it has published and checkpointed
  every event of a generated store (read pages of 500, decode, encode, publish_async, wait for
  the acks, checkpoint with synchronous=FULL).
- `raw publish_async, 500 per batch`: the same subjects, bodies and headers (encoded beforehand,
  not timed), published in batches of 500 waiting for each batch's acks, as the relay does.
- `raw publish_async, pipelined`: every message published without waiting, then all acks
  awaited (nats-py's pending window): the server's and client's ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import (
    Sample,
    best,
    generated_store,
    load_average,
    ms,
    print_header,
    rate,
    result,
    scratch,
    spread,
    table,
    verdict,
)
from services.relay.audit import Checkpointer, StandingFile
from services.relay.relay import Checkpoint, Relay, encode
from shared.logs import configure_logging
from shared.runtime.messaging import connect, declare_event_stream, mark_shutting_down, subject_for
from shared.signing import Signer
from shared.store.port import RecordedEvent
from shared.store.sqlite import SqliteEventStore
from tests.support import nats_server

Message = tuple[str, bytes, dict[str, str]]


async def _messages(store_path: Path) -> list[Message]:
    store = SqliteEventStore(store_path)
    try:
        out: list[Message] = []
        position = 0
        while True:
            page = await store.read_all(position, 5000)
            if not page:
                return out
            for event in page:
                body, headers = encode(event)
                out.append((subject_for(event), body, headers))
            position = page[-1].position
    finally:
        await store.close()


def run_relay(
    store_path: Path, directory: Path, lifecycle_metrics: bool = True, audited: bool = False
) -> Sample:
    """`lifecycle_metrics=False` (a diagnostic): the relay without counting the lifecycle.
    `audited`: with the signed audit checkpoints the production relay writes (on a copy of the
    store, which they are appended to; the stream then holds them as well)."""
    from services.relay.lifecycle import LifecycleMetrics

    original = LifecycleMetrics.observe
    if not lifecycle_metrics:
        LifecycleMetrics.observe = lambda self, events: None  # type: ignore[method-assign]
    try:
        if audited:
            copy = directory / "events.db"
            shutil.copy(store_path, copy)
            store_path = copy
        return _run_relay(store_path, directory, audited)
    finally:
        LifecycleMetrics.observe = original  # type: ignore[method-assign]


def _run_relay(store_path: Path, directory: Path, audited: bool = False) -> Sample:
    async def go() -> Sample:
        with nats_server(directory) as server:
            nc = await connect(server.url, "bench-relay")
            js = nc.jetstream(timeout=30)
            await declare_event_stream(js)
            store = SqliteEventStore(store_path)
            checkpoint = Checkpoint(directory / "relay.db")
            auditor = None
            if audited:
                auditor = Checkpointer(
                    store, Signer(directory / "keys"), StandingFile(checkpoint.connection)
                )
            relay = Relay(store, js, checkpoint, auditor=auditor)
            batch_times: list[float] = []
            publish = relay.publish_batch

            async def timed(events: list[RecordedEvent]) -> None:
                t0 = time.perf_counter()
                await publish(events)
                batch_times.append(time.perf_counter() - t0)

            relay.publish_batch = timed  # type: ignore[method-assign]
            last = await store.last_position()
            stop = asyncio.Event()
            cpu0 = time.process_time()
            began = time.perf_counter()
            task = asyncio.create_task(relay.run(stop))
            while relay.position < last:
                await asyncio.sleep(0.005)
                if task.done():
                    task.result()
            elapsed = time.perf_counter() - began
            cpu = time.process_time() - cpu0
            stop.set()
            await task
            info = await js.stream_info("LAPOR_EVENTS")
            published = relay.position
            checkpoints = sum(
                1 for e in await store.read("audit-checkpoints") if e.position <= published
            )
            await nc.drain()
            checkpoint.close()
            await store.close()
            sample = Sample(last, elapsed, batch_times)
            # The stream holds the events and the checkpoints appended while relaying them.
            stored = info.state.messages - checkpoints
            sample.extra = {"cpu_us": cpu / last * 1e6, "stored": stored}
            return sample

    return asyncio.run(go())


def run_raw(messages: list[Message], directory: Path, batch: int | None) -> Sample:
    async def go() -> Sample:
        with nats_server(directory) as server:
            nc = await connect(server.url, "bench-raw")
            js = nc.jetstream(timeout=30)
            await declare_event_stream(js)
            batch_times: list[float] = []
            cpu0 = time.process_time()
            began = time.perf_counter()
            size = batch or len(messages)
            for start in range(0, len(messages), size):
                t0 = time.perf_counter()
                futures = [
                    await js.publish_async(subject, body, headers=headers)
                    for subject, body, headers in messages[start : start + size]
                ]
                await asyncio.wait_for(asyncio.gather(*futures), timeout=60)
                batch_times.append(time.perf_counter() - t0)
            elapsed = time.perf_counter() - began
            cpu = time.process_time() - cpu0
            info = await js.stream_info("LAPOR_EVENTS")
            await nc.drain()
            sample = Sample(len(messages), elapsed, batch_times if batch else [])
            sample.extra = {"cpu_us": cpu / len(messages) * 1e6, "stored": info.state.messages}
            return sample

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    configure_logging("bench", "WARNING")
    mark_shutting_down()  # our connections close on purpose: not a reason to stop the process
    print_header("Relay: store -> JetStream")
    store_path = generated_store(events=args.events)
    messages = asyncio.run(_messages(store_path))
    size = sum(len(body) for _, body, _ in messages) / len(messages)
    print(
        f"{len(messages):,} events of realistic report lifecycles, {size:.0f} bytes per message\n"
    )
    cases: dict[str, Callable[[Path], Sample]] = {
        "lapor Relay (batch 500)": lambda d: run_relay(store_path, d),
        "lapor Relay without lifecycle metrics (diagnostic)": lambda d: run_relay(
            store_path, d, lifecycle_metrics=False
        ),
        "lapor Relay + audit checkpoints (as in production)": lambda d: run_relay(
            store_path, d, audited=True
        ),
        "raw publish_async, 500 per batch (limit)": lambda d: run_raw(messages, d, 500),
        "raw publish_async, pipelined (ceiling)": lambda d: run_raw(messages, d, None),
    }
    results: dict[str, list[Sample]] = {}
    for run in range(args.runs):
        for name, case in cases.items():
            with scratch("relay") as directory:
                sample = case(directory)
            if sample.extra["stored"] != len(messages):
                raise SystemExit(f"{name}: {sample.extra['stored']} messages in the stream")
            results.setdefault(name, []).append(sample)
            print(f"  run {run + 1} {name}: {sample.per_second:,.0f}/s", file=sys.stderr)
    top = {name: best(samples) for name, samples in results.items()}
    raw = top["raw publish_async, 500 per batch (limit)"].per_second
    rows = [
        [
            name,
            rate(s.per_second),
            spread([x.per_second for x in results[name]]),
            ms(s.p50) if s.latencies else "–",
            ms(s.p99) if s.latencies else "–",
            f"{s.extra['cpu_us']:.0f}",
            f"{s.per_second / raw:.0%}",
        ]
        for name, s in top.items()
    ]
    print(
        table(
            [
                "publisher",
                "events/s (best)",
                "spread",
                "batch p50 ms",
                "batch p99 ms",
                "CPU µs/event (this process)",
                "of raw",
            ],
            rows,
        )
    )
    relay = top["lapor Relay (batch 500)"].per_second
    print(f"\n- relay/raw = {relay / raw:.0%} (target >= 50%: {verdict(relay >= raw / 2)})")
    print(f"- nats-server CPUs: {os.cpu_count()} shared with this process")
    print(f"\nload average at end: {load_average()}")
    bare = top["lapor Relay without lifecycle metrics (diagnostic)"].per_second
    audited = top["lapor Relay + audit checkpoints (as in production)"].per_second
    print(f"- relay with audit checkpoints/raw = {audited / raw:.0%}")
    result(
        relay_of_raw=round(relay / raw, 3),
        relay_audited_of_raw=round(audited / raw, 3),
        relay_without_lifecycle_of_raw=round(bare / raw, 3),
        relay_events_per_second=round(relay),
        raw_events_per_second=round(raw),
    )


if __name__ == "__main__":
    main()
