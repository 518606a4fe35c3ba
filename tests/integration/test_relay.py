"""The relay under SIGKILL: every stored event reaches JetStream exactly once, in store order."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest

from services.relay.relay import BUSY_MIN_SECONDS, Checkpoint, Relay
from shared.events.base import Actor
from shared.reports.events import ReportCompletionRequested
from shared.runtime.messaging import (
    POSITION_HEADER,
    STREAM_NAME,
    declare_event_stream,
    subject_for,
)
from shared.store.port import NewEvent
from shared.store.sqlite import SqliteEventStore
from tests.support import ROOT, NatsServer, async_wait_for

pytestmark = pytest.mark.asyncio


def _event(i: int) -> NewEvent:
    return NewEvent.of(
        ReportCompletionRequested(note=f"note {i}"),
        occurred_at=datetime.now(UTC),
        actor=Actor(kind="admin", id="test"),
        correlation_id=str(uuid.uuid4()),
        region_code="5371",
        agency_code="DINKES-KOTA-KUPANG" if i % 2 else None,
    )


def _start_relay(data_dir: Path, nats_url: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
    env.update(LAPOR_DATA_DIR=str(data_dir), LAPOR_NATS_URL=nats_url)
    log = (data_dir / "relay.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "run", "relay"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def test_relay_killed_at_any_moment_loses_and_duplicates_nothing(
    tmp_path: Path, fresh_nats: NatsServer
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    store = SqliteEventStore(data_dir / "events.db")
    total = 0
    relay = _start_relay(data_dir, fresh_nats.url)
    rng = random.Random(1708)
    try:
        for round_ in range(6):
            # Keep writing while the relay runs, then kill it mid-flight and start it again.
            for _ in range(10):
                batch = [_event(total + k) for k in range(rng.randint(20, 60))]
                await store.append(f"report-R{round_}{total}", batch, expected_version=0)
                total += len(batch)
            await asyncio.sleep(rng.uniform(0.0, 0.3))  # a random moment to kill, not a sync
            relay.send_signal(signal.SIGKILL)
            relay.wait(10)
            relay = _start_relay(data_dir, fresh_nats.url)

        nc = await nats.connect(fresh_nats.url)
        js = nc.jetstream()

        async def all_published() -> bool:
            info = await js.stream_info(STREAM_NAME)
            return info.state.messages >= total

        await async_wait_for(all_published, timeout=60, what=f"{total} events in JetStream")
        info = await js.stream_info(STREAM_NAME)
        assert info.state.messages == total, "JetStream holds a duplicate or lost an event"

        stored = await store.read_all(0, limit=total + 10)
        assert len(stored) == total
        positions: list[int] = []
        ids: set[str] = set()
        subjects_ok = True
        for seq in range(1, total + 1):
            msg = await js.get_msg(STREAM_NAME, seq=seq)
            assert msg.headers is not None
            positions.append(int(msg.headers[POSITION_HEADER]))
            ids.add(msg.headers["Nats-Msg-Id"])
            subjects_ok &= msg.subject == subject_for(stored[seq - 1])
        assert positions == [e.position for e in stored], "published out of store order"
        assert ids == {str(e.event_id) for e in stored}
        assert subjects_ok
        await nc.close()
    finally:
        relay.send_signal(signal.SIGTERM)
        relay.wait(10)
        await store.close()


async def test_a_forged_message_at_the_end_of_the_stream_does_not_stall_the_relay(
    tmp_path: Path, fresh_nats: NatsServer
) -> None:
    """Someone publishes `Lapor-Position: 99999999` into LAPOR_EVENTS while the relay is down.
    The relay refuses to resume after a tail it did not write: it goes on from its checkpoint,
    says so (metric and log), and every stored event still reaches JetStream."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    store = SqliteEventStore(data_dir / "events.db")
    await store.append("report-BEFORE", [_event(0), _event(1)], expected_version=0)
    relay = _start_relay(data_dir, fresh_nats.url)
    nc = await nats.connect(fresh_nats.url)
    js = nc.jetstream()
    try:

        async def published(count: int) -> bool:
            return (await js.stream_info(STREAM_NAME)).state.messages >= count

        await async_wait_for(lambda: published(2), timeout=30, what="the first two events")
        relay.send_signal(signal.SIGTERM)
        relay.wait(15)
        await js.publish(
            "lapor.v1.events.ReportClosed._._",
            b'{"forged": true}',
            headers={POSITION_HEADER: "99999999", "Nats-Msg-Id": str(uuid.uuid4())},
        )
        await store.append("report-AFTER", [_event(2), _event(3)], expected_version=0)
        relay = _start_relay(data_dir, fresh_nats.url)
        await async_wait_for(lambda: published(5), timeout=30, what="the events after the forgery")
        last = await js.get_msg(STREAM_NAME, seq=5)
        assert last.headers is not None and last.headers[POSITION_HEADER] == "4"
        log = (data_dir / "relay.log").read_text()
        assert "relay_foreign_stream_tail" in log
        # The same tail is what a restore leaves in a stream not reset: the log says what to do.
        assert "Restoring, step 3" in log
    finally:
        relay.send_signal(signal.SIGTERM)
        relay.wait(15)
        await nc.close()
        await store.close()


async def test_the_checkpoint_is_written_now_and_then_while_busy_and_always_once_caught_up(
    tmp_path: Path, fresh_nats: NatsServer
) -> None:
    """Each write of the checkpoint is an fsync: while events flow it is written at most every
    CHECKPOINT_SECONDS (a restart resumes after JetStream's newest message anyway), and it holds
    the newest position as soon as the relay has caught up, and when it stops."""
    store = SqliteEventStore(tmp_path / "events.db")
    checkpoint = Checkpoint(tmp_path / "relay.db")
    saves: list[int] = []
    save = checkpoint.save

    def counted(position: int) -> None:
        saves.append(position)
        save(position)

    checkpoint.save = counted  # type: ignore[method-assign]
    nc = await nats.connect(fresh_nats.url)
    js = nc.jetstream()
    await declare_event_stream(js)
    relay = Relay(store, js, checkpoint, batch=5)
    stop = asyncio.Event()
    task = asyncio.ensure_future(relay.run(stop))
    try:
        total = 0
        for round_ in range(40):  # many small batches
            batch = [_event(total + k) for k in range(5)]
            await store.append(f"report-C{round_}", batch, expected_version=0)
            total += len(batch)

        async def caught_up() -> bool:
            return checkpoint.load() == total

        await async_wait_for(caught_up, timeout=30, what="the checkpoint at the newest event")
        assert (await js.stream_info(STREAM_NAME)).state.messages == total
        assert len(saves) < total // 5  # fewer writes than batches published

        # Stopped at any moment: the checkpoint holds whatever the relay had published.
        await store.append("report-C-last", [_event(total)], expected_version=0)
        stop.set()
        await asyncio.wait_for(task, 10)
        assert checkpoint.load() == relay.position
        assert relay.position == (await js.stream_info(STREAM_NAME)).state.messages
    finally:
        stop.set()
        await nc.close()
        checkpoint.close()
        await store.close()


async def test_events_arriving_one_by_one_go_out_in_batches_each_once_in_order(
    tmp_path: Path, fresh_nats: NatsServer
) -> None:
    """While events keep coming the relay publishes what arrived meanwhile together (a batch per
    BUSY_MIN_SECONDS at most): fewer batches than events, each event once, in store order."""
    store = SqliteEventStore(tmp_path / "events.db")
    checkpoint = Checkpoint(tmp_path / "relay.db")
    nc = await nats.connect(fresh_nats.url)
    js = nc.jetstream()
    await declare_event_stream(js)
    relay = Relay(store, js, checkpoint)
    batches: list[int] = []
    publish_batch = relay.publish_batch

    async def counted(events: list[Any]) -> None:
        batches.append(len(events))
        await publish_batch(events)

    relay.publish_batch = counted  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.ensure_future(relay.run(stop))
    try:
        total = 60
        began = time.monotonic()
        for number in range(total):  # one at a time, a few milliseconds apart, as submissions
            await store.append(f"report-B{number}", [_event(number)], expected_version=0)
            await asyncio.sleep(0.004)  # the pace of a busy hour, not a wait for anything

        async def all_published() -> bool:
            return (await js.stream_info(STREAM_NAME)).state.messages >= total

        await async_wait_for(all_published, timeout=30, what=f"{total} events in JetStream")
        took = time.monotonic() - began
        assert sum(batches) == total
        assert len(batches) <= took / BUSY_MIN_SECONDS + 2  # not one batch per event
        positions = [
            int((await js.get_msg(STREAM_NAME, seq=seq)).headers[POSITION_HEADER])  # type: ignore[index]
            for seq in range(1, total + 1)
        ]
        assert positions == sorted(positions)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await nc.close()
        checkpoint.close()
        await store.close()


async def test_a_backlog_is_read_ahead_while_published_and_a_failed_batch_goes_out_again_in_order(
    tmp_path: Path, fresh_nats: NatsServer
) -> None:
    """With a backlog the relay reads the next page while it publishes one (the decoding overlaps
    the wait for JetStream's acks). When a batch fails (NATS away), the page read ahead is
    dropped and publishing resumes at the failed batch: every event once, in store order."""
    from nats.errors import TimeoutError as NatsTimeout

    store = SqliteEventStore(tmp_path / "events.db")
    checkpoint = Checkpoint(tmp_path / "relay.db")
    total = 53
    for number in range(total):
        await store.append(f"report-A{number}", [_event(number)], expected_version=0)
    nc = await nats.connect(fresh_nats.url)
    js = nc.jetstream()
    await declare_event_stream(js)
    relay = Relay(store, js, checkpoint, batch=5)
    publishing = False
    reads_while_publishing = 0
    failures = [3]  # the third batch fails once
    calls = 0
    read_all, publish_batch = store.read_all, relay.publish_batch

    async def read(from_position: int = 0, limit: int = 1000) -> list[Any]:
        nonlocal reads_while_publishing
        reads_while_publishing += publishing
        return await read_all(from_position, limit)

    async def publish(events: list[Any]) -> None:
        nonlocal publishing, calls
        calls += 1
        publishing = True
        try:
            if calls in failures:
                await asyncio.sleep(0)  # the read ahead begun before this batch runs meanwhile
                raise NatsTimeout
            await publish_batch(events)
        finally:
            publishing = False

    store.read_all = read  # type: ignore[method-assign]
    relay.publish_batch = publish  # type: ignore[method-assign]
    stop = asyncio.Event()
    task = asyncio.ensure_future(relay.run(stop))
    try:

        async def all_published() -> bool:
            return (await js.stream_info(STREAM_NAME)).state.messages >= total

        await async_wait_for(all_published, timeout=30, what=f"{total} events in JetStream")
        stop.set()
        await asyncio.wait_for(task, 10)
        positions = [
            int((await js.get_msg(STREAM_NAME, seq=seq)).headers[POSITION_HEADER])  # type: ignore[index]
            for seq in range(1, total + 1)
        ]
        assert positions == list(range(1, total + 1))  # each once, in order, none missing
        assert (await js.stream_info(STREAM_NAME)).state.messages == total
        assert reads_while_publishing >= total // 5 - 2  # nearly every page was read ahead
        assert checkpoint.load() == total
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
        await nc.close()
        checkpoint.close()
        await store.close()
