"""The event store port: what every adapter (SQLite, KurrentDB) must do, and its errors.

Stream versions start at 1; `expected_version=NO_STREAM` (0) means "this stream must not exist",
`ANY` (None) skips the check. Appending events whose ids are already stored at the same place in
the same stream is a no-op that returns them again (idempotent retries).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from shared.events.base import Actor, DomainEvent
from shared.events.registry import EVENT_TYPES, UPCASTERS, parse_payload

NO_STREAM = 0
ANY: None = None


class StoreError(Exception):
    """Base of the port's errors."""


class WrongExpectedVersion(StoreError):
    """Optimistic concurrency conflict: someone appended to the stream first."""

    def __init__(self, stream: str, expected: int | None, actual: int) -> None:
        super().__init__(f"stream {stream}: expected version {expected}, actual {actual}")
        self.stream = stream
        self.expected = expected
        self.actual = actual


class EventRejected(StoreError):
    """The event does not match its registered schema; nothing was stored."""


class StoreUnavailable(StoreError):
    """The store cannot be written (disk full, read-only, unreachable); nothing was stored."""


class NewEvent(BaseModel):
    """An event ready to append: the envelope without what the store assigns."""

    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: str
    schema_version: int = 1
    occurred_at: datetime
    correlation_id: str
    causation_id: str
    actor: Actor
    region_code: str | None = Field(default=None, description="For the NATS subject")
    agency_code: str | None = Field(default=None, description="For the NATS subject")
    data: dict[str, Any]
    # The data dict `of` made from a typed, validated payload: the store need not validate it
    # again (a copy with other data, or a NewEvent built from a plain dict, is validated).
    _typed_data: dict[str, Any] | None = PrivateAttr(default=None)

    def is_typed(self) -> bool:
        """Made by `of` from a payload of the event type's current schema, data unchanged."""
        # Read from pydantic's private dict: the attribute path costs more than the whole check.
        private = self.__pydantic_private__
        return private is not None and private.get("_typed_data") is self.data

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurred_at needs a timezone")
        return value.astimezone(UTC)

    @classmethod
    def of(
        cls,
        payload: DomainEvent,
        *,
        occurred_at: datetime,
        actor: Actor,
        correlation_id: str,
        causation_id: str | None = None,
        event_id: uuid.UUID | None = None,
        region_code: str | None = None,
        agency_code: str | None = None,
    ) -> NewEvent:
        event_id = event_id or uuid.uuid4()
        made = cls(
            event_id=event_id,
            event_type=payload.event_type,
            schema_version=payload.schema_version,
            occurred_at=occurred_at,
            correlation_id=correlation_id,
            causation_id=causation_id or correlation_id,
            actor=actor,
            region_code=region_code,
            agency_code=agency_code,
            data=payload.model_dump(mode="json"),
        )
        if EVENT_TYPES.get(payload.event_type) is type(payload):
            made._typed_data = made.data
        return made


class RecordedEvent(NewEvent):
    """An event as stored: with its place in its stream, its hash link and global position."""

    stream: str
    stream_version: int
    prev_hash: str
    hash: str
    position: int = Field(description="Global order in the store (monotonic, gaps allowed)")

    def payload(self) -> DomainEvent:
        return parse_payload(self.event_type, self.schema_version, self.data)

    def current_data(self) -> dict[str, Any]:
        """`data` in the shape of the event type's current version (old versions upcast), for
        views that show fields as they are now (a pilot-era region code as the official one)."""
        data, version = self.data, self.schema_version
        while (self.event_type, version) in UPCASTERS:
            data = UPCASTERS[(self.event_type, version)](data)
            version += 1
        return data

    def stored_form(self) -> dict[str, Any]:
        """The event exactly as stored: the fields its hash covers, plus the hashes."""
        return {
            "event_id": str(self.event_id),
            "event_type": self.event_type,
            "schema_version": self.schema_version,
            "stream": self.stream,
            "stream_version": self.stream_version,
            "occurred_at": self.occurred_at.isoformat(),
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "actor": self.actor.model_dump(mode="json"),
            "region_code": self.region_code,
            "agency_code": self.agency_code,
            "data": self.data,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


class EventStore(Protocol):
    async def append(
        self, stream: str, events: Sequence[NewEvent], expected_version: int | None
    ) -> list[RecordedEvent]: ...

    async def read(self, stream: str) -> list[RecordedEvent]: ...

    async def read_all(self, from_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Events with position > from_position, in global order."""
        ...

    async def last_position(self) -> int: ...

    async def stream_names(self, prefix: str = "") -> list[str]: ...

    async def close(self) -> None: ...


async def follow(
    store: EventStore,
    from_position: int,
    *,
    batch: int = 500,
    idle_sleep: float = 0.02,
    max_idle_sleep: float = 0.25,
) -> AsyncIterator[list[RecordedEvent]]:
    """Follow the store's global order forever, in batches. Polls with a gentle backoff."""
    position = from_position
    sleep = idle_sleep
    while True:
        events = await store.read_all(position, batch)
        if events:
            position = events[-1].position
            sleep = idle_sleep
            yield events
            continue
        await asyncio.sleep(sleep)
        sleep = min(sleep * 2, max_idle_sleep)
