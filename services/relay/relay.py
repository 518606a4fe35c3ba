"""The relay: tails the event store's global order and publishes every event to JetStream.

At-least-once from the store, exactly-once into the stream: each event is published with
`Nats-Msg-Id = event_id`, so JetStream drops a republished duplicate inside its window. The
checkpoint (a small SQLite file) is written only after JetStream acknowledged a batch.

On start the relay resumes from its own checkpoint. The newest message in the stream may be ahead
of it (a crash between JetStream's ack and the checkpoint): the relay trusts that message only if
it is the store's own event at the position it claims (same event id), and then resumes after it,
so a republish outside the duplicate window cannot happen after a crash. A tail it did not write
(a forged message claiming a position far ahead) is refused: counted in
`lapor_relay_foreign_tail_total`, logged as an error, and never followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js.api import PubAck
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from prometheus_client import Counter, Gauge, Histogram, start_http_server

from services.relay.agencies import reconcile
from services.relay.audit import Checkpointer, StandingFile
from services.relay.lifecycle import LifecycleMetrics
from shared import tracing
from shared.directory.events import DIRECTORY_STREAM
from shared.logs import configure_logging, get_logger
from shared.reports.audience import agencies_left
from shared.runtime.directory import LiveDirectory
from shared.runtime.messaging import (
    POSITION_HEADER,
    STREAM_NAME,
    connect,
    declare_event_stream,
    mark_shutting_down,
    subject_for,
    subject_token,
)
from shared.runtime.nats_auth import RELAY_USER, process_credentials
from shared.settings import Settings, get_settings
from shared.signing import Signer
from shared.store import open_store
from shared.store.port import EventStore, RecordedEvent, StoreError

log = get_logger(__name__)

PUBLISHED = Counter("lapor_relay_published_total", "Events published to JetStream by the relay")
DUPLICATES = Counter(
    "lapor_relay_duplicates_total", "Publishes JetStream recognised as duplicates (after a restart)"
)
LAG_EVENTS = Gauge("lapor_relay_lag_events", "Events in the store not yet published")
LAG_SECONDS = Gauge(
    "lapor_relay_lag_seconds", "Age of the oldest event in the store not yet published"
)
POSITION = Gauge("lapor_relay_position", "Last store position published and acknowledged")
FOREIGN_TAIL = Counter(
    "lapor_relay_foreign_tail_total",
    "Starts at which the newest message in LAPOR_EVENTS was not an event of the store (refused)",
)
BATCH_LATENCY = Histogram(
    "lapor_relay_batch_duration_seconds", "Time to publish and confirm one batch"
)


class Checkpoint:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS relay_checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1),"
            " position INTEGER NOT NULL)"
        )

    def load(self) -> int:
        row = self._conn.execute("SELECT position FROM relay_checkpoint WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def save(self, position: int) -> None:
        self._conn.execute(
            "INSERT INTO relay_checkpoint (id, position) VALUES (1, ?)"
            " ON CONFLICT(id) DO UPDATE SET position = excluded.position",
            (position,),
        )

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    def close(self) -> None:
        self._conn.close()


@dataclass(frozen=True)
class Tail:
    """The newest message in LAPOR_EVENTS: the position and event id it claims."""

    position: int
    event_id: str | None


async def stream_tail(js: JetStreamContext) -> Tail | None:
    info = await js.stream_info(STREAM_NAME)
    if info.state.messages == 0 or not info.state.last_seq:
        return None
    try:
        msg = await js.get_msg(STREAM_NAME, seq=info.state.last_seq)
    except NotFoundError:
        return None
    headers = msg.headers or {}
    try:
        position = int(headers.get(POSITION_HEADER) or json.loads(msg.data or b"{}")["position"])
    except (KeyError, ValueError, TypeError):
        position = -1
    return Tail(position, headers.get("Nats-Msg-Id"))


async def trusted_tail(store: EventStore, tail: Tail | None) -> int | None:
    """The tail's position if it is the store's own event there; None for a foreign tail."""
    if tail is None:
        return 0
    if tail.position < 1:
        return None
    found = await store.read_all(tail.position - 1, 1)
    if not found or found[0].position != tail.position:
        return None
    ids = [m.headers["Nats-Msg-Id"] for m in messages_of(found[0])]
    if tail.event_id not in ids:
        return None
    # A crash between an event and its last copy: publish that event again (JetStream drops
    # what it already holds), so no institution misses its copy.
    return tail.position if tail.event_id == ids[-1] else tail.position - 1


COPY_HEADER = "Lapor-Copy-For"


@dataclass(frozen=True)
class Message:
    subject: str
    body: bytes
    headers: dict[str, str]


def messages_of(event: RecordedEvent) -> list[Message]:
    """The event on its own subject, then a copy on the subject of each institution the report
    leaves with it (a transfer or delegation names the receiver). A copy carries the same body
    and position; its `Nats-Msg-Id` is `<event_id>:<AGENCY>` so JetStream keeps both."""
    body = event.model_dump_json().encode()
    headers = {
        "Nats-Msg-Id": str(event.event_id),
        POSITION_HEADER: str(event.position),
        "Lapor-Event-Type": event.event_type,
        "correlation_id": event.correlation_id,
        "content-type": "application/json",
    }
    primary = subject_for(event)
    headers |= tracing.publish_headers(event.correlation_id, event.causation_id, primary)
    result = [Message(primary, body, headers)]
    for agency in agencies_left(event.event_type, event.data, event.agency_code):
        subject = primary.rsplit(".", 1)[0] + "." + subject_token(agency)
        copy = headers | {"Nats-Msg-Id": f"{event.event_id}:{agency}", COPY_HEADER: agency}
        result.append(Message(subject, body, copy))
    return result


def encode(event: RecordedEvent) -> tuple[bytes, dict[str, str]]:
    first = messages_of(event)[0]
    return first.body, first.headers


# An idle relay polls the store at most this far apart: the floor of its latency after a lull.
IDLE_MAX_SECONDS = 0.02
# While events flow, a batch at most this often (a read, a flush, the metrics, the audit each).
BUSY_MIN_SECONDS = IDLE_MAX_SECONDS
# While events flow, the relay's checkpoint is written at most this often (one fsync each).
CHECKPOINT_SECONDS = 0.25


class Relay:
    def __init__(
        self,
        store: EventStore,
        js: JetStreamContext,
        checkpoint: Checkpoint,
        batch: int = 500,
        auditor: Checkpointer | None = None,
    ) -> None:
        self.store = store
        self.js = js
        self.checkpoint = checkpoint
        self.batch = batch
        self.position = 0
        self.lifecycle = LifecycleMetrics()
        self.directory_changed = asyncio.Event()
        self.agency_ack_wait = 60.0
        self.auditor = auditor  # signed checkpoints of what was published (services/relay/audit)
        self._saved = 0  # the position the checkpoint holds
        self._saved_at = 0.0

    async def start_position(self) -> int:
        saved = self.checkpoint.load()
        tail = await stream_tail(self.js)
        published = await trusted_tail(self.store, tail)
        if published is None:
            assert tail is not None
            FOREIGN_TAIL.inc()
            log.error(
                "relay_foreign_stream_tail",
                claimed_position=tail.position,
                resumes_at=saved,
                hint="a message the relay did not write is at the end of LAPOR_EVENTS; after"
                " a restore of the store, the stream holds the lost events: reset it"
                " (docs/operations.md, Restoring, step 3)",
            )
            return saved
        return max(saved, published)

    async def publish_batch(self, events: list[RecordedEvent]) -> None:
        started = time.perf_counter()
        futures: list[asyncio.Future[PubAck]] = []
        firsts: list[int] = []
        for event in events:
            firsts.append(len(futures))
            for message in messages_of(event):
                futures.append(
                    await self.js.publish_async(
                        message.subject, message.body, headers=message.headers
                    )
                )
        everything = await asyncio.wait_for(asyncio.gather(*futures), timeout=5)
        acks = [everything[i] for i in firsts]
        DUPLICATES.inc(sum(1 for ack in acks if ack.duplicate))
        PUBLISHED.inc(len(events))
        self.position = events[-1].position
        if time.monotonic() - self._saved_at >= CHECKPOINT_SECONDS:
            await self.save_checkpoint()
        POSITION.set(self.position)
        BATCH_LATENCY.observe(time.perf_counter() - started)
        fresh = [event for event, ack in zip(events, acks, strict=True) if not ack.duplicate]
        self.lifecycle.observe(fresh)
        if self.auditor is not None:
            await self.auditor.observe(events)
        if any(event.stream == DIRECTORY_STREAM for event in events):
            self.directory_changed.set()

    async def save_checkpoint(self) -> None:
        """Note how far the relay has published. Only a restart's shortcut (it also resumes
        after the newest message JetStream holds), so it is written at most every
        CHECKPOINT_SECONDS while events flow, and whenever the relay has caught up."""
        self._saved_at = time.monotonic()
        if self.position == self._saved:
            return
        try:
            await asyncio.to_thread(self.checkpoint.save, self.position)
            self._saved = self.position
        except sqlite3.Error as error:
            # A full or read-only disk must not stop publishing: the checkpoint only shortens a
            # restart, which also resumes after the newest message JetStream holds.
            log.warning("relay_checkpoint_not_saved", position=self.position, error=str(error))

    async def keep_agency_consumers(self, stop: asyncio.Event) -> None:
        """One durable consumer per institution, in step with the directory (see agencies.py)."""
        directory = LiveDirectory(self.store)
        self.directory_changed.set()
        while not stop.is_set():
            await self.directory_changed.wait()
            self.directory_changed.clear()
            try:
                await directory.refresh()
                codes = [i.code for i in directory.current]
                await reconcile(self.js, codes, self.agency_ack_wait)
            except (TimeoutError, NatsError, StoreError) as error:
                log.warning("agency_consumers_not_reconciled", error=type(error).__name__)
                self.directory_changed.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=5)

    async def run(self, stop: asyncio.Event) -> None:
        self.position = await self.start_position()
        self._saved = self.position
        if self.auditor is not None:
            await self.auditor.start(self.position)
        log.info("relay_started", position=self.position)
        idle = 0.01
        backoff = 0.1
        # A store that can say its newest position on the spot is asked that first: an idle
        # relay then checks 50 times a second for microseconds each, not through a thread.
        newest = getattr(self.store, "newest_position_nowait", None)
        # With a backlog, the next page is read while this one is published: decoding it
        # overlaps the wait for JetStream's acks. Where that read starts, and the read.
        ahead_from = 0
        ahead: asyncio.Future[list[RecordedEvent]] | None = None
        try:
            while not stop.is_set():
                if ahead is not None and ahead_from == self.position:
                    events, ahead = await ahead, None
                else:
                    if ahead is not None:  # the batch before failed: read again from there
                        await _dropped(ahead)
                        ahead = None
                    peeked = newest() if newest is not None else None
                    nothing_new = peeked is not None and peeked <= self.position
                    events = (
                        [] if nothing_new else await self.store.read_all(self.position, self.batch)
                    )
                if not events:
                    await self.save_checkpoint()  # caught up: the checkpoint says so
                    LAG_EVENTS.set(0)
                    LAG_SECONDS.set(0)
                    if self.auditor is not None:
                        await self.auditor.tick()
                    # A plain sleep (the loop checks `stop` at once after it): `wait_for` on
                    # the stop event would make a task and a timer 50 times a second.
                    await asyncio.sleep(idle)
                    idle = min(idle * 2, IDLE_MAX_SECONDS)
                    continue
                idle = 0.01
                # A batch short of full is everything the store held a moment ago: no need to ask.
                last = (
                    events[-1].position
                    if len(events) < self.batch
                    else await self.store.last_position()
                )
                LAG_EVENTS.set(max(0, last - events[0].position + 1))
                LAG_SECONDS.set(max(0.0, time.time() - events[0].occurred_at.timestamp()))
                if len(events) == self.batch:
                    ahead_from = events[-1].position
                    ahead = asyncio.ensure_future(self.store.read_all(ahead_from, self.batch))
                try:
                    began = time.monotonic()
                    await self.publish_batch(events)
                    backoff = 0.1
                    # While events keep coming, one batch per BUSY_MIN_SECONDS: what arrives
                    # meanwhile goes out together (no longer than an idle relay's poll holds a
                    # lone event back).
                    rest = BUSY_MIN_SECONDS - (time.monotonic() - began)
                    if rest > 0 and len(events) < self.batch:
                        await asyncio.sleep(rest)
                except (TimeoutError, NatsError) as error:
                    # NATS is away: keep the checkpoint, wait, publish the same batch again.
                    log.warning(
                        "relay_publish_failed", error=type(error).__name__, retry_in=backoff
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            if ahead is not None:
                await _dropped(ahead)
        await self.save_checkpoint()


async def _dropped(read: asyncio.Future[list[RecordedEvent]]) -> None:
    """A page read ahead that will not be published from: cancelled, and waited for."""
    read.cancel()
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await read


async def run_relay(settings: Settings | None = None, metrics_port: int | None = None) -> None:
    settings = settings or get_settings()
    configure_logging("relay", settings.log_level)
    tracing.tracer_provider("relay")
    if metrics_port:
        try:
            start_http_server(metrics_port, addr=settings.host)
        except OSError as error:
            # Metrics are not worth stopping the relay for: publish on, say so.
            log.warning("relay_metrics_port_unavailable", port=metrics_port, error=str(error))
    store = open_store(settings.event_store_url)
    credentials = process_credentials(settings.nats_url, settings.master_secret, RELAY_USER)
    nc: NatsClient = await connect(settings.nats_url, "lapor-relay", credentials)
    js = nc.jetstream(timeout=10)
    await declare_event_stream(js, settings.nats_stream_replicas)
    checkpoint = Checkpoint(settings.data_dir / "relay.db")
    auditor = Checkpointer(
        store,
        Signer(settings.data_dir / "keys"),
        StandingFile(checkpoint.connection),
        interval=settings.audit_checkpoint_seconds,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        relay = Relay(store, js, checkpoint, auditor=auditor)
        relay.agency_ack_wait = settings.agency_ack_wait_seconds
        keep = relay.keep_agency_consumers(stop) if settings.agency_consumers else stop.wait()
        consumers = asyncio.create_task(keep, name="agency-consumers")
        try:
            await relay.run(stop)
        finally:
            consumers.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await consumers
    finally:
        mark_shutting_down()
        with contextlib.suppress(Exception):
            await nc.drain()
        checkpoint.close()
        await store.close()
        tracing.shutdown("relay")
