"""KurrentDB (EventStoreDB 23.10+) event store, behind the same port as the SQLite store.

Selected by `LAPOR_EVENT_STORE=kurrentdb://user:password@host:2113` (TLS on unless `?Tls=false`;
`kurrentdb+discover://` or several hosts for a cluster; every option of the connection string is
the client's). `kurrentdbclient` is synchronous gRPC: each call runs in a worker thread, is retried
with tenacity while the error is transient (node down, leader election, deadline) and ends in the
port's own errors.

How the port maps onto KurrentDB:

- A LAPOR stream is a KurrentDB stream of the same name; stream version = revision + 1; the
  port's global `position` is the event's commit position (unique per event, increasing, gapped).
- Every event is stored as JSON data with JSON metadata carrying the rest of the envelope and the
  hash chain (`stream_version`, `prev_hash`, `hash`, plus `$correlationId`/`$causationId` for
  KurrentDB's own projections), so a `RecordedEvent` round-trips and `lapor audit verify` works.
- Append: the hash needs the stream head, so the adapter reads it first (or takes it from the
  last read of the stream) and appends with that exact revision (`NO_STREAM` for a new stream):
  optimistic concurrency makes a stale head a conflict, never a broken chain. With `ANY` it
  re-reads and tries again on a conflict.
- Idempotency: the same ids at the same place return the stored events (the server itself
  recognises a retry at the same revision; the adapter also finds them after later appends or
  with another expected version, as the SQLite store does).
- Event ids are unique in the whole store, as in SQLite (the relay publishes with
  `Nats-Msg-Id = event_id`): KurrentDB only checks ids within a stream, so before an append each
  event id is claimed in a one-event stream `lapor-event-id-<id>` with expected version
  `NO_STREAM`; a claim held by another stream is a conflict. Claims are hidden from every read.
- `read_all` reads `$all` from a commit position with the system events (`$`-types, `$`-streams)
  and the claims filtered out by the server, so the relay works unchanged; `subscribe` is a live
  `$all` catch-up subscription that resubscribes from its last position after any failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from kurrentdbclient import DEFAULT_EXCLUDE_FILTER, KurrentDBClient, StreamState
from kurrentdbclient import NewEvent as KdbNewEvent
from kurrentdbclient import RecordedEvent as KdbRecordedEvent
from kurrentdbclient.connection_spec import ConnectionSpec
from kurrentdbclient.exceptions import (
    AccessDeniedError,
    CancelledByClientError,
    DeadlineExceededError,
    DiscoveryFailedError,
    ExceptionThrownByHandlerError,
    GrpcError,
    InvalidCommitPositionError,
    KurrentDBClientError,
    NodeIsNotLeaderError,
    NotFoundError,
    ServiceUnavailableError,
    SSLError,
    UnauthenticatedError,
    WrongCurrentVersionError,
)
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_exponential_jitter,
)

from shared.events.base import Actor
from shared.logs import get_logger
from shared.store.chain import GENESIS, appended_hash, canonical_json
from shared.store.port import (
    EventRejected,
    NewEvent,
    RecordedEvent,
    StoreError,
    StoreUnavailable,
    WrongExpectedVersion,
)
from shared.store.sqlite import validate_schema

log = get_logger(__name__)

T = TypeVar("T")

CLAIM_STREAM_PREFIX = "lapor-event-id-"
CLAIM_EVENT_TYPE = "LaporEventIdClaim"
_CLAIM_NAMESPACE = uuid.UUID("0b6c3f5e-2d7f-4d1e-9a6b-52c1f0e7a9d3")
# Server-side filter on event types for every read of $all: KurrentDB's system events
# ($-types, persistent subscription config, projection results) and our id claims.
EXCLUDED_TYPES: tuple[str, ...] = (*DEFAULT_EXCLUDE_FILTER, CLAIM_EVENT_TYPE)
# Keep each append well under the server's default maximum append size (1 MiB).
IMPORT_CHUNK_BYTES = 512 * 1024
IMPORT_CHUNK_EVENTS = 500
ANY_ATTEMPTS = 100


def _transient(error: BaseException) -> bool:
    """Worth retrying: the cluster is (briefly) not there or not the leader, or timed out."""
    if isinstance(error, SSLError):
        return False  # a certificate problem does not go away by itself
    if isinstance(error, CancelledByClientError):
        return False
    return isinstance(
        error,
        ServiceUnavailableError
        | DeadlineExceededError
        | DiscoveryFailedError
        | NodeIsNotLeaderError
        | ExceptionThrownByHandlerError
        | GrpcError,
    )


def redact(url: str) -> str:
    """The connection string without its password, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class Head:
    """Where a stream ends: its version (0: no stream) and the hash of its last event."""

    version: int
    hash: str


def _metadata(
    event: NewEvent, stream_version: int, prev_hash: str, digest: str, occurred_at: str
) -> bytes:
    return canonical_json(
        {
            "schema_version": event.schema_version,
            "occurred_at": occurred_at,
            "correlation_id": event.correlation_id,
            "causation_id": event.causation_id,
            "actor": event.actor.model_dump(mode="json"),
            "region_code": event.region_code,
            "agency_code": event.agency_code,
            "stream_version": stream_version,
            "prev_hash": prev_hash,
            "hash": digest,
            "$correlationId": event.correlation_id,
            "$causationId": event.causation_id,
        }
    ).encode()


def encode_new(stream: str, head: Head, events: Sequence[NewEvent]) -> list[KdbNewEvent]:
    """The KurrentDB events for `events` appended after `head`, with their hash chain."""
    encoded: list[KdbNewEvent] = []
    prev_hash = head.hash
    version = head.version
    for event in events:
        version += 1
        occurred_at = event.occurred_at.isoformat()
        # Hash exactly what a reader will get back from the stored JSON.
        data_json = canonical_json(event.data)
        digest = appended_hash(
            event,
            prev_hash=prev_hash,
            stream=stream,
            stream_version=version,
            occurred_at=occurred_at,
            actor_json=canonical_json(event.actor.model_dump(mode="json")),
            data_json=data_json,
        )
        encoded.append(
            KdbNewEvent(
                type=event.event_type,
                data=data_json.encode(),
                metadata=_metadata(event, version, prev_hash, digest, occurred_at),
                content_type="application/json",
                id=event.event_id,
            )
        )
        prev_hash = digest
    return encoded


def encode_recorded(event: RecordedEvent) -> KdbNewEvent:
    """An event copied from another store, keeping its version and hash chain as they are."""
    return KdbNewEvent(
        type=event.event_type,
        data=canonical_json(event.data).encode(),
        metadata=_metadata(
            event,
            event.stream_version,
            event.prev_hash,
            event.hash,
            event.occurred_at.isoformat(),
        ),
        content_type="application/json",
        id=event.event_id,
    )


def is_lapor_stream(stream: str) -> bool:
    return not stream.startswith(("$", CLAIM_STREAM_PREFIX))


def decode(event: KdbRecordedEvent) -> RecordedEvent | None:
    """The port's event for a stored one; None for anything LAPOR did not write."""
    if not is_lapor_stream(event.stream_name) or event.type.startswith("$"):
        return None
    try:
        meta = json.loads(event.metadata or b"{}")
        if not isinstance(meta, dict) or "hash" not in meta:
            return None
        return RecordedEvent(
            event_id=event.id,
            event_type=event.type,
            schema_version=meta["schema_version"],
            occurred_at=datetime.fromisoformat(meta["occurred_at"]),
            correlation_id=meta["correlation_id"],
            causation_id=meta["causation_id"],
            actor=meta["actor"],
            region_code=meta["region_code"],
            agency_code=meta["agency_code"],
            data=json.loads(event.data),
            stream=event.stream_name,
            stream_version=meta["stream_version"],
            prev_hash=meta["prev_hash"],
            hash=meta["hash"],
            position=event.commit_position,
        )
    except (ValueError, KeyError, TypeError) as error:
        log.warning(
            "kurrentdb_event_not_readable",
            stream=event.stream_name,
            event_id=str(event.id),
            error=type(error).__name__,
        )
        return None


def foreign(event: KdbRecordedEvent) -> RecordedEvent:
    """An event in a LAPOR stream that LAPOR did not write (no envelope, no hash chain), as an
    event whose hash can never match: `lapor audit verify` then names it."""
    return RecordedEvent(
        event_id=event.id,
        event_type=event.type,
        occurred_at=event.recorded_at or datetime.fromtimestamp(0, UTC),
        correlation_id="",
        causation_id="",
        actor=Actor(kind="system", id="unknown-writer"),
        data={"undecodable": event.data.decode("utf-8", "replace")},
        stream=event.stream_name,
        stream_version=event.stream_position + 1,
        prev_hash="",
        hash="",
        position=event.commit_position,
    )


def written_by_lapor(event: KdbRecordedEvent) -> bool:
    return b'"hash"' in event.metadata and is_lapor_stream(event.stream_name)


def claim_stream(event_id: uuid.UUID) -> str:
    return f"{CLAIM_STREAM_PREFIX}{event_id}"


class KurrentDbEventStore:
    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        retry_for: float = 20.0,
        max_workers: int = 16,
        head_cache_size: int = 10_000,
    ) -> None:
        ConnectionSpec(url)  # a malformed connection string fails here, not at the first call
        self.url = url
        self.timeout = timeout
        self.retry_for = retry_for
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="kurrentdb")
        self._client: KurrentDBClient | None = None
        self._client_lock = threading.Lock()
        self._heads: OrderedDict[str, Head] = OrderedDict()
        self._heads_lock = threading.Lock()
        self._head_cache_size = head_cache_size
        self._closed = False
        self._subscriptions: set[threading.Event] = set()

    def __repr__(self) -> str:
        return f"KurrentDbEventStore({redact(self.url)!r})"

    # -- plumbing ---------------------------------------------------------------------------
    def _client_now(self) -> KurrentDBClient:
        with self._client_lock:
            if self._closed:
                raise StoreUnavailable("the event store is closed")
            if self._client is None:
                # Connecting to a cluster reads its gossip: this can fail (and is retried).
                self._client = KurrentDBClient(self.url)
            return self._client

    def _retrying(self, fn: Callable[[KurrentDBClient], T]) -> T:
        """Run one client call in this thread, retrying while the failure is transient."""
        for attempt in Retrying(
            retry=retry_if_exception(_transient),
            stop=stop_after_delay(self.retry_for),
            wait=wait_exponential_jitter(multiplier=0.05, max=2.0, jitter=0.05),
            reraise=True,
        ):
            with attempt:
                return fn(self._client_now())
        raise AssertionError("unreachable")

    async def _run(self, fn: Callable[[], T]) -> T:
        """Run blocking work in a worker thread; client failures become the port's errors."""
        if self._closed:
            raise StoreUnavailable("the event store is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn)
        except StoreError:
            raise
        except RuntimeError as error:  # the executor was shut down under us
            raise StoreUnavailable(f"the event store is closed: {error}") from error
        except (UnauthenticatedError, AccessDeniedError) as error:
            raise StoreUnavailable(f"KurrentDB refused the credentials: {error}") from error
        except KurrentDBClientError as error:
            raise StoreUnavailable(
                f"KurrentDB at {redact(self.url)} is unavailable: {type(error).__name__}: {error}"
            ) from error
        except ValueError as error:  # "Channel closed!" after close()
            raise StoreUnavailable(f"KurrentDB connection failed: {error}") from error

    def _append_raw(
        self, stream: str, current: int | StreamState, events: list[KdbNewEvent]
    ) -> int:
        """One append with the exact expected revision; the commit position of the last."""
        return self._retrying(
            lambda client: client.append_to_stream(
                stream, current_version=current, events=events, timeout=self.timeout
            )
        )

    # -- the stream head cache --------------------------------------------------------------
    def _remember(self, stream: str, head: Head) -> None:
        with self._heads_lock:
            known = self._heads.get(stream)
            if known is None or known.version <= head.version:
                self._heads[stream] = head
                self._heads.move_to_end(stream)
            while len(self._heads) > self._head_cache_size:
                self._heads.popitem(last=False)

    def _forget(self, stream: str) -> None:
        with self._heads_lock:
            self._heads.pop(stream, None)

    def _cached_head(self, stream: str, version: int) -> Head | None:
        """The remembered head if it is at `version` (a stale one only costs a conflict)."""
        with self._heads_lock:
            head = self._heads.get(stream)
        return head if head is not None and head.version == version else None

    # -- reading one stream -----------------------------------------------------------------
    def _read_stream_sync(
        self, stream: str, from_revision: int | None = None, limit: int = sys.maxsize
    ) -> list[RecordedEvent]:
        return self._read_stream_and_head(stream, from_revision, limit)[0]

    def _read_stream_and_head(
        self, stream: str, from_revision: int | None = None, limit: int = sys.maxsize
    ) -> tuple[list[RecordedEvent], Head | None]:
        """The stream's events and, when read to its end from the start, its head."""

        def call(client: KurrentDBClient) -> tuple[KdbRecordedEvent, ...]:
            try:
                return client.get_stream(
                    stream, stream_position=from_revision, limit=limit, timeout=self.timeout
                )
            except NotFoundError:
                return ()

        raw = self._retrying(call)
        events = [decode(r) or foreign(r) for r in raw]
        if from_revision is not None or limit != sys.maxsize:
            return events, None
        if not raw:
            return events, Head(0, GENESIS)
        head = Head(raw[-1].stream_position + 1, events[-1].hash)
        self._remember(stream, head)
        return events, head

    def _read_head_sync(self, stream: str) -> Head:
        def call(client: KurrentDBClient) -> tuple[KdbRecordedEvent, ...]:
            try:
                return client.get_stream(stream, backwards=True, limit=1, timeout=self.timeout)
            except NotFoundError:
                return ()

        raw = self._retrying(call)
        if not raw:
            return Head(0, GENESIS)
        event = decode(raw[0])
        head = Head(raw[0].stream_position + 1, event.hash if event is not None else GENESIS)
        self._remember(stream, head)
        return head

    async def read(self, stream: str) -> list[RecordedEvent]:
        if not is_lapor_stream(stream):
            return []
        return await self._run(lambda: self._read_stream_sync(stream))

    # -- appending --------------------------------------------------------------------------
    async def append(
        self, stream: str, events: Sequence[NewEvent], expected_version: int | None
    ) -> list[RecordedEvent]:
        if self._closed:
            raise StoreUnavailable("the event store is closed")
        if not events:
            return []
        if not is_lapor_stream(stream):
            raise EventRejected(f"stream name {stream!r} is reserved")
        for event in events:
            validate_schema(event)
        batch = list(events)
        # If the caller is cancelled while waiting, the worker finishes the append: the events
        # are then stored whole or not at all, and a retry with the same ids is a no-op.
        return await self._run(lambda: self._append_sync(stream, batch, expected_version))

    def _append_sync(
        self, stream: str, events: list[NewEvent], expected: int | None
    ) -> list[RecordedEvent]:
        ids = [e.event_id for e in events]
        if len(set(ids)) != len(ids):
            raise WrongExpectedVersion(stream, expected, self._read_head_sync(stream).version)
        self._claim_ids(stream, ids, expected)
        for attempt in range(ANY_ATTEMPTS):
            if expected is None:
                history, read_head = self._read_stream_and_head(stream)
                head = read_head or self._read_head_sync(stream)
                stored = self._already_stored(stream, history, ids, expected, head)
                if stored is not None:
                    return stored
            else:
                head = self._cached_head(stream, expected) or self._read_head_sync(stream)
                if head.version != expected:
                    history, read_head = self._read_stream_and_head(stream)
                    head = read_head or head
                    stored = self._already_stored(stream, history, ids, expected, head)
                    if stored is not None:
                        return stored
                    raise WrongExpectedVersion(stream, expected, head.version)
            encoded = encode_new(stream, head, events)
            current = StreamState.NO_STREAM if head.version == 0 else head.version - 1
            try:
                self._append_raw(stream, current, encoded)
            except WrongCurrentVersionError:
                # Someone appended first (or a concurrent retry of this very append did):
                # look again; with an expected version that now settles it, with ANY we retry.
                self._forget(stream)
                if expected is None:
                    time.sleep(random.uniform(0, 0.005 * min(attempt + 1, 20)))
                continue
            stored = self._read_stream_sync(stream, from_revision=head.version, limit=len(events))
            if [e.event_id for e in stored] != ids:
                raise StoreUnavailable(f"stream {stream}: appended events did not read back")
            self._remember(stream, Head(head.version + len(events), stored[-1].hash))
            return stored
        raise WrongExpectedVersion(stream, expected, self._read_head_sync(stream).version)

    def _already_stored(
        self,
        stream: str,
        history: list[RecordedEvent],
        ids: list[uuid.UUID],
        expected: int | None,
        head: Head,
    ) -> list[RecordedEvent] | None:
        """The stored events if `ids` are already in the stream, in order, one after another;
        None if none of them is; a conflict if only some are (or not in that order)."""
        positions = {event.event_id: index for index, event in enumerate(history)}
        if ids[0] in positions:
            start = positions[ids[0]]
            found = history[start : start + len(ids)]
            if [e.event_id for e in found] == ids:
                return found
        elif not any(event_id in positions for event_id in ids):
            return None
        raise WrongExpectedVersion(stream, expected, head.version)

    def _claim_ids(self, stream: str, ids: list[uuid.UUID], expected: int | None) -> None:
        """Claim every event id for this stream, or fail if another stream holds one of them.

        A claim's own id is derived from (stream, event id): claiming again for the same stream
        is the server's idempotent retry, claiming for another stream a wrong expected version.
        A claim whose append then fails stays, bound to this stream, harmlessly.
        """
        for event_id in ids:
            claim = KdbNewEvent(
                type=CLAIM_EVENT_TYPE,
                data=canonical_json({"stream": stream}).encode(),
                content_type="application/json",
                id=uuid.uuid5(_CLAIM_NAMESPACE, f"{stream}|{event_id}"),
            )
            try:
                self._append_raw(claim_stream(event_id), StreamState.NO_STREAM, [claim])
            except WrongCurrentVersionError as error:
                head = self._read_head_sync(stream)
                raise WrongExpectedVersion(stream, expected, head.version) from error

    # -- copying from another store (migration) ---------------------------------------------
    async def import_recorded(self, stream: str, events: Sequence[RecordedEvent]) -> int:
        """Append events read from another store, keeping ids, versions and hash fields.

        `events` are consecutive versions of one stream. Idempotent: events already at their
        place are not written again. Returns the commit position of the last one. Their ids are
        not claimed (see the module docstring): the copy is checked by the migration instead.
        """
        if not events:
            return 0
        batch = list(events)
        if any(e.stream != stream for e in batch) or [e.stream_version for e in batch] != list(
            range(batch[0].stream_version, batch[0].stream_version + len(batch))
        ):
            raise EventRejected(f"stream {stream}: import needs consecutive versions of it")
        return await self._run(lambda: self._import_sync(stream, batch))

    def _import_sync(self, stream: str, events: list[RecordedEvent]) -> int:
        position = 0
        for chunk in _chunks(events):
            first = chunk[0].stream_version
            current = StreamState.NO_STREAM if first == 1 else first - 2
            encoded = [encode_recorded(e) for e in chunk]
            try:
                position = self._append_raw(stream, current, encoded)
            except WrongCurrentVersionError as error:
                actual = error.actual_version
                actual_version = actual + 1 if isinstance(actual, int) else 0
                raise WrongExpectedVersion(stream, first - 1, actual_version) from error
        return position

    # -- the global order -------------------------------------------------------------------
    def _read_all_raw(self, from_position: int, limit: int) -> list[KdbRecordedEvent]:
        """Up to `limit` stored events (LAPOR's and foreign ones, never system events or
        claims) with a commit position above `from_position`, in order."""
        if from_position <= 0:
            return self._retrying(
                lambda client: list(
                    client.read_all(
                        filter_exclude=EXCLUDED_TYPES, limit=limit, timeout=self.timeout
                    )
                )
            )
        try:
            raw = self._retrying(
                lambda client: list(
                    client.read_all(
                        commit_position=from_position,
                        filter_exclude=EXCLUDED_TYPES,
                        limit=limit + 1,  # reading forwards includes the event at the position
                        timeout=self.timeout,
                    )
                )
            )
        except InvalidCommitPositionError:
            # Not the position of an event (a position from elsewhere, or arithmetic on one):
            # read on from the last event at or before it.
            anchor = self._last_at_or_before(from_position)
            raw = self._read_all_raw(anchor or 0, limit + 1)
        return [e for e in raw if e.commit_position > from_position][:limit]

    def _last_at_or_before(self, position: int) -> int | None:
        """The commit position of the last event at or before `position`; None if there is
        none. Reads backwards from the end, so it costs what lies after `position`."""

        def call(client: KurrentDBClient) -> int | None:
            with client.read_all(
                backwards=True, filter_exclude=EXCLUDED_TYPES, timeout=self.timeout
            ) as events:
                for event in events:
                    if event.commit_position <= position:
                        return event.commit_position
            return None

        return self._retrying(call)

    def _read_all_sync(self, from_position: int, limit: int) -> list[RecordedEvent]:
        position = from_position
        while True:
            raw = self._read_all_raw(position, limit)
            events = [e for e in (decode(r) for r in raw) if e is not None]
            if len(events) < len(raw):
                log.warning("kurrentdb_foreign_events_skipped", count=len(raw) - len(events))
            if events or len(raw) < limit:
                return events
            position = raw[-1].commit_position  # a whole page of foreign events: skip it

    async def read_all(self, from_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        if limit <= 0:
            return []
        return await self._run(lambda: self._read_all_sync(from_position, limit))

    async def last_position(self) -> int:
        return await self._run(
            lambda: self._retrying(
                lambda client: client.get_commit_position(
                    filter_exclude=EXCLUDED_TYPES, timeout=self.timeout
                )
            )
        )

    async def stream_names(self, prefix: str = "") -> list[str]:
        def scan(client: KurrentDBClient) -> list[str]:
            names: set[str] = set()
            if prefix:
                events = client.read_all(
                    filter_include=(prefix,),
                    filter_by_stream_name=True,
                    filter_by_prefix=True,
                    timeout=None,
                )
            else:
                events = client.read_all(
                    filter_exclude=(r"\$.*", f"{CLAIM_STREAM_PREFIX}.*"),
                    filter_by_stream_name=True,
                    timeout=None,
                )
            with events:
                for event in events:
                    if written_by_lapor(event):
                        names.add(event.stream_name)
            return sorted(n for n in names if n.startswith(prefix) and is_lapor_stream(n))

        return await self._run(lambda: self._retrying(scan))

    # -- following live ---------------------------------------------------------------------
    async def subscribe(
        self, from_position: int = 0, *, batch: int = 500
    ) -> AsyncGenerator[list[RecordedEvent], None]:
        """Every event after `from_position`, then new ones as they are appended, forever.

        Catches up with reads, then holds a `$all` catch-up subscription; after any failure
        (node restart, leader change, dropped connection) it resubscribes from the last event
        it delivered, so nothing is skipped or repeated. Yields batches like `follow()`.
        """
        position = from_position
        start_at: int | None = None  # a position the server knows, or None: the beginning
        while page := await self.read_all(position, batch):
            position = start_at = page[-1].position
            yield page
        if start_at is None and from_position > 0:
            start_at = await self._run(lambda: self._last_at_or_before(from_position))
        queue: asyncio.Queue[list[RecordedEvent] | BaseException] = asyncio.Queue(maxsize=16)
        loop = asyncio.get_running_loop()
        stop = threading.Event()
        current: list[Any] = []
        self._subscriptions.add(stop)
        pump = threading.Thread(
            target=self._pump,
            args=(start_at, position, queue, loop, stop, current),
            name="kurrentdb-subscription",
            daemon=True,
        )
        pump.start()
        try:
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            self._subscriptions.discard(stop)
            for subscription in list(current):
                with contextlib.suppress(Exception):
                    subscription.stop()
            await asyncio.to_thread(pump.join, 10)

    def _pump(
        self,
        start_at: int | None,
        position: int,
        queue: asyncio.Queue[list[RecordedEvent] | BaseException],
        loop: asyncio.AbstractEventLoop,
        stop: threading.Event,
        current: list[Any],
    ) -> None:
        def put(item: list[RecordedEvent] | BaseException) -> None:
            future = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    future.result(timeout=0.2)
                    return
            future.cancel()

        backoff = 0.05
        while not stop.is_set():
            try:
                subscription = self._client_now().subscribe_to_all(
                    commit_position=start_at, filter_exclude=EXCLUDED_TYPES
                )
                current[:] = [subscription]
                if stop.is_set():
                    subscription.stop()
                    return
                backoff = 0.05
                for raw in subscription:
                    event = decode(raw)
                    if event is None or event.position <= position:
                        continue
                    position = start_at = event.position
                    put([event])
                    if stop.is_set():
                        return
                log.warning("kurrentdb_subscription_ended", position=position)
                stop.wait(backoff)
            except Exception as error:
                if stop.is_set():
                    return
                if not (
                    _transient(error) or isinstance(error, CancelledByClientError | ValueError)
                ):
                    put(StoreUnavailable(f"subscription to $all failed: {error!r}"))
                    return
                log.warning(
                    "kurrentdb_resubscribing",
                    error=type(error).__name__,
                    position=position,
                    retry_in=backoff,
                )
                stop.wait(backoff)
                backoff = min(backoff * 2, 2.0)

    # -- closing ----------------------------------------------------------------------------
    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for stop in list(self._subscriptions):
            stop.set()
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(client.close)
        await asyncio.to_thread(self._executor.shutdown, True)


def _chunks(events: list[RecordedEvent]) -> Iterator[list[RecordedEvent]]:
    chunk: list[RecordedEvent] = []
    size = 0
    for event in events:
        event_size = len(canonical_json(event.data)) + 1024
        if chunk and (size + event_size > IMPORT_CHUNK_BYTES or len(chunk) >= IMPORT_CHUNK_EVENTS):
            yield chunk
            chunk, size = [], 0
        chunk.append(event)
        size += event_size
    if chunk:
        yield chunk
