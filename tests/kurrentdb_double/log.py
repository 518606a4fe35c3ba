"""The double's storage: one in-memory transaction log with KurrentDB's append and read rules.

What it reproduces (from the KurrentDB documentation and the gRPC contract the client relies on):

- every event has a stream revision (0-based, gapless) and a commit position in the log; commit
  positions grow monotonically with gaps (they are byte offsets of the record in the log, here
  approximated by the record's size), each occupied by exactly one event, and the commit and
  prepare positions of an event are equal;
- expected revision: an exact revision, `no_stream` (-1), `any`, `stream_exists`;
- idempotent appends: events whose ids are already stored right after the expected revision
  (or, with `any`/`stream_exists`, anywhere in the stream starting with the first id) are not
  written again and the original revision and position come back; a retry that matches only a
  part of what is stored is a wrong expected version ("corrupted idempotency");
- the maximum append size (1 MiB by default);
- a few system events ($-prefixed streams and types) at the start of the log, as a real node
  writes them, so readers have to filter them out.
"""

from __future__ import annotations

import bisect
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

NO_STREAM = -1
ANY = -2
STREAM_EXISTS = -4
MAX_APPEND_SIZE = 1024 * 1024
RECORD_OVERHEAD = 88  # bytes a prepare record carries besides its names, data and metadata
TICKS_PER_SECOND = 10_000_000  # KurrentDB's "created" is in .NET ticks since the Unix epoch


@dataclass(frozen=True)
class Proposed:
    event_id: str
    event_type: str
    content_type: str
    data: bytes
    custom_metadata: bytes


@dataclass(frozen=True)
class Record:
    stream: str
    revision: int
    event_id: str
    event_type: str
    content_type: str
    data: bytes
    custom_metadata: bytes
    created: int
    position: int


@dataclass(frozen=True)
class Written:
    """An append that succeeded (or was recognised as already done)."""

    current_revision: int
    position: int
    idempotent: bool


@dataclass(frozen=True)
class WrongExpected:
    current_revision: int  # -1: the stream does not exist
    expected: int


@dataclass(frozen=True)
class TooBig:
    size: int


@dataclass(frozen=True)
class InvalidPosition:
    position: int


@dataclass(frozen=True)
class EventFilter:
    """A server-side filter on event type or stream name: a regex (searched) or prefixes."""

    on_stream_name: bool
    regex: re.Pattern[str] | None
    prefixes: tuple[str, ...]

    def matches(self, record: Record) -> bool:
        subject = record.stream if self.on_stream_name else record.event_type
        if self.prefixes:
            return any(subject.startswith(prefix) for prefix in self.prefixes)
        if self.regex is not None:
            return self.regex.search(subject) is not None
        return True


@dataclass
class Log:
    first_position: int = 0
    records: list[Record] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    streams: dict[str, list[int]] = field(default_factory=dict)
    next_position: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)
    max_append_size: int = MAX_APPEND_SIZE

    def __post_init__(self) -> None:
        self.next_position = self.first_position
        # What a fresh node writes before any client does.
        self.write_system_event("$epoch-information", "$epoch", b'{"epochNumber":0}')
        self.write_system_event("$scavenges", "$scavengeIndexInitialized", b"{}")
        self.write_system_event("$settings", "$settings", b'{"$userStreamAcl":{}}')

    # -- writing ----------------------------------------------------------------------------
    def write_system_event(self, stream: str, event_type: str, data: bytes) -> Record:
        import uuid

        with self.changed:
            revision = len(self.streams.get(stream, ()))
            record = self._add(
                stream,
                revision,
                Proposed(str(uuid.uuid4()), event_type, "application/json", data, b""),
            )
            self.changed.notify_all()
            return record

    def append(
        self, stream: str, expected: int, proposed: Sequence[Proposed]
    ) -> Written | WrongExpected | TooBig:
        size = sum(len(p.data) + len(p.custom_metadata) for p in proposed)
        if size > self.max_append_size:
            return TooBig(size)
        with self.changed:
            indexes = self.streams.get(stream, [])
            current = len(indexes) - 1
            outcome = self._check(stream, indexes, current, expected, proposed)
            if outcome is not None:
                return outcome
            if not proposed:
                return Written(current, self.next_position, idempotent=False)
            last: Record | None = None
            for offset, event in enumerate(proposed):
                last = self._add(stream, current + 1 + offset, event)
            self.changed.notify_all()
            assert last is not None
            return Written(last.revision, last.position, idempotent=False)

    def _check(
        self,
        stream: str,
        indexes: list[int],
        current: int,
        expected: int,
        proposed: Sequence[Proposed],
    ) -> Written | WrongExpected | None:
        """None: write. Otherwise the idempotent answer or the wrong-expected-version error."""
        if expected == STREAM_EXISTS and current == -1:
            return WrongExpected(current, expected)
        if expected in (ANY, STREAM_EXISTS):
            if not proposed:
                return None
            stored_ids = [self.records[i].event_id for i in indexes]
            try:
                start = stored_ids.index(proposed[0].event_id)
            except ValueError:
                return None
            return self._idempotent(indexes, start, current, expected, proposed)
        if expected == current:
            return None
        if expected < current and proposed:
            start = expected + 1
            if self.records[indexes[start]].event_id == proposed[0].event_id:
                return self._idempotent(indexes, start, current, expected, proposed)
        return WrongExpected(current, expected)

    def _idempotent(
        self,
        indexes: list[int],
        start: int,
        current: int,
        expected: int,
        proposed: Sequence[Proposed],
    ) -> Written | WrongExpected:
        wanted = [p.event_id for p in proposed]
        stored = [self.records[i].event_id for i in indexes[start : start + len(proposed)]]
        if stored != wanted:
            return WrongExpected(current, expected)  # corrupted idempotency
        last = self.records[indexes[start + len(proposed) - 1]]
        return Written(last.revision, last.position, idempotent=True)

    def _add(self, stream: str, revision: int, event: Proposed) -> Record:
        record = Record(
            stream=stream,
            revision=revision,
            event_id=event.event_id,
            event_type=event.event_type,
            content_type=event.content_type,
            data=event.data,
            custom_metadata=event.custom_metadata,
            created=int(time.time() * TICKS_PER_SECOND),
            position=self.next_position,
        )
        self.streams.setdefault(stream, []).append(len(self.records))
        self.records.append(record)
        self.positions.append(record.position)
        self.next_position += (
            RECORD_OVERHEAD
            + len(stream.encode())
            + len(event.event_type.encode())
            + len(event.data)
            + len(event.custom_metadata)
        )
        return record

    # -- reading ----------------------------------------------------------------------------
    def read_stream(
        self, stream: str, revision: int | None, backwards: bool, count: int
    ) -> list[Record] | None:
        """None when the stream does not exist. `revision` None: from the start (or the end)."""
        with self.changed:
            indexes = self.streams.get(stream)
            if indexes is None:
                return None
            if backwards:
                top = len(indexes) - 1 if revision is None else min(revision, len(indexes) - 1)
                chosen = indexes[max(0, top - count + 1) : top + 1][::-1] if top >= 0 else []
            else:
                start = 0 if revision is None else revision
                chosen = indexes[start : start + count]
            return [self.records[i] for i in chosen]

    def stream_records_after(self, stream: str, revision: int) -> list[Record]:
        with self.changed:
            return [self.records[i] for i in self.streams.get(stream, [])[revision + 1 :]]

    def index_at(self, position: int) -> int | InvalidPosition:
        """The index of the first record at or after `position`, which must be a record's
        position or the end of the log."""
        with self.changed:
            if position == self.next_position:
                return len(self.records)
            index = bisect.bisect_left(self.positions, position)
            if index < len(self.positions) and self.positions[index] == position:
                return index
            return InvalidPosition(position)

    def slice(self, start: int, stop: int) -> list[Record]:
        with self.changed:
            return self.records[start:stop]

    def __len__(self) -> int:
        with self.changed:
            return len(self.records)

    def wait_beyond(self, count: int, timeout: float) -> bool:
        """Wait until the log holds more than `count` records (or the timeout passes)."""
        with self.changed:
            return self.changed.wait_for(lambda: len(self.records) > count, timeout)
