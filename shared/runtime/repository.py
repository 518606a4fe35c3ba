"""The one use case every command goes through: load the stream, decide, append.

An idempotency key (HTTP `Idempotency-Key`, a channel's message id, a causing event's id) becomes
fixed event ids, so a retried command finds its events already stored and appends nothing.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel

from shared.clock import Clock
from shared.errors import DomainError, KeyReused
from shared.events.aggregate import Aggregate
from shared.events.base import Actor, DomainEvent, UnknownEventType
from shared.reports.commands import Command
from shared.reports.lifecycle import REPORTS, ReportState
from shared.store.port import (
    NO_STREAM,
    EventStore,
    NewEvent,
    RecordedEvent,
    WrongExpectedVersion,
)

MAX_EVENTS_PER_COMMAND = 16
_EVENT_ID_NAMESPACE = uuid.UUID("6f1c2f0e-5b7a-4f43-9d55-2b7d8f1e0a11")

State = TypeVar("State")
Cmd = TypeVar("Cmd")


@dataclass(frozen=True)
class Meta:
    """Who acts, and which request or event caused it."""

    actor: Actor
    correlation_id: str
    causation_id: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Executed:
    """What one run of a command did: the events it stored, or an earlier run's under the same
    idempotency key (`appended` False), or none when the command changed nothing."""

    events: list[RecordedEvent]
    appended: bool
    other_request: bool = False
    """Found under the idempotency key, but the earlier run stored what another request asks:
    `command`, decided on the state that run saw, makes other events (only computed when the
    caller asks, see `run`'s `worked_out`)."""


# A client's key sent again with another request: one answer for every service's actions.
KEY_REUSED = (
    "Idempotency-Key: sudah dipakai untuk permintaan lain pada laporan ini; kirim kunci baru"
    " / already used for another request to this report; send a new key"
)


def fixed_event_id(stream: str, key: str, index: int) -> uuid.UUID:
    return uuid.uuid5(_EVENT_ID_NAMESPACE, f"{stream}|{key}|{index}")


def done_before(stream: str, history: Sequence[RecordedEvent], key: str) -> list[RecordedEvent]:
    """The events an earlier run of the command with idempotency `key` stored (none: not run)."""
    first = fixed_event_id(stream, key, 0)
    for start, event in enumerate(history):
        if event.event_id == first:
            ids = {fixed_event_id(stream, key, i) for i in range(MAX_EVENTS_PER_COMMAND)}
            return [e for e in history[start:] if e.event_id in ids]
    return []


def same_request(command: BaseModel, first: DomainEvent) -> bool:
    """Whether the first event an earlier run under a client's idempotency key stored says
    what `command` asks: every field the two share by name, and the command gives, is equal
    (files by their content, since the event may name them otherwise). A key sent again with
    another text is another request, which the caller refuses rather than answering it with the
    first one's events."""
    asked, stored = command.model_dump(), first.model_dump()
    for name in asked.keys() & stored.keys():
        if asked[name] is None:  # not given: the report's own value was taken
            continue
        if name == "attachments":
            if [f["sha256"] for f in asked[name]] != [f["sha256"] for f in stored[name]]:
                return False
        elif asked[name] != stored[name]:
            return False
    return True


def payloads(events: Sequence[RecordedEvent]) -> Iterator[tuple[DomainEvent, datetime]]:
    """Each stored event's payload and time. An event type this process does not know yet
    (written by a newer release) is skipped: it cannot change a rule this code knows."""
    for event in events:
        try:
            yield event.payload(), event.occurred_at
        except UnknownEventType:
            continue


def _stored_by(stored: Sequence[RecordedEvent], envelopes: Sequence[NewEvent]) -> bool:
    """Did this append store these events? A store answers an append of event ids it holds
    already with the events stored under them: a simultaneous run under the same idempotency
    key (read the stream before the other appended) gets the other's events, which carry the
    other request's correlation id."""
    return bool(stored) and stored[0].correlation_id == envelopes[0].correlation_id


class Repository(Generic[State, Cmd]):
    """Loads, decides and appends for one kind of stream (`aggregate`)."""

    def __init__(self, store: EventStore, clock: Clock, aggregate: Aggregate[State, Cmd]) -> None:
        self.store = store
        self.clock = clock
        self.aggregate = aggregate

    async def load(self, key: str) -> tuple[State, list[RecordedEvent]]:
        events = await self.store.read(self.aggregate.stream(key))
        return self.aggregate.fold(payloads(events)), events

    async def execute(
        self,
        key: str,
        command: Cmd,
        meta: Meta,
        *,
        retry_on_conflict: bool = False,
        attempts: int = 5,
        new_stream: bool = False,
    ) -> list[RecordedEvent]:
        """Run one command. Returns the stored events (none when the command changed nothing);
        see `run` for the rest."""
        done = await self.run(
            key,
            command,
            meta,
            retry_on_conflict=retry_on_conflict,
            attempts=attempts,
            new_stream=new_stream,
        )
        return done.events

    async def run(
        self,
        key: str,
        command: Cmd,
        meta: Meta,
        *,
        retry_on_conflict: bool = False,
        attempts: int = 5,
        new_stream: bool = False,
        worked_out: Collection[str] | None = None,
    ) -> Executed:
        """Run one command, and say whether this run stored its events or found those of an
        earlier (or simultaneous) run under the same idempotency key.

        Raises the aggregate's domain errors for a command the state does not allow, and
        WrongExpectedVersion when another writer got there first and `retry_on_conflict` is False.

        A person is never bounced by the system's own work: when everything appended meanwhile
        was appended by the system (a breach, a reminder, a notice), the command is decided again
        on the new state, and succeeds if it is still valid. Only another person's decision
        makes a conflict.

        `new_stream`: the caller has just made the key at random (a new tracking id, no
        idempotency key), so the stream is almost surely empty: the first attempt decides on the
        empty state without reading it, and appends expecting no stream. Should the stream exist
        after all, that append is refused and the command is read and decided as usual.

        `worked_out`: given (the fields the service works out itself when it runs, such as a
        due date, which a retry on another day makes anew), a run found under the idempotency
        key says whether it stored what `command` asks (`Executed.other_request`).
        """
        stream = self.aggregate.stream(key)
        if new_stream and meta.idempotency_key is None:
            empty = self.aggregate.initial()
            new = self.aggregate.decide(empty, command)
            if not new:
                return Executed([], appended=False)
            envelopes = self._envelopes(stream, empty, new, meta)
            with contextlib.suppress(WrongExpectedVersion):
                stored = await self.store.append(stream, envelopes, expected_version=NO_STREAM)
                return Executed(stored, appended=_stored_by(stored, envelopes))
        for attempt in range(attempts):
            history = await self.store.read(stream)
            if meta.idempotency_key is not None:
                done = done_before(stream, history, meta.idempotency_key)
                if done:
                    other = worked_out is not None and self._asks_otherwise(
                        history, done, command, worked_out
                    )
                    return Executed(done, appended=False, other_request=other)
            state = self.aggregate.fold(payloads(history))
            new = self.aggregate.decide(state, command)
            if not new:
                return Executed([], appended=False)
            envelopes = self._envelopes(stream, state, new, meta)
            try:
                stored = await self.store.append(stream, envelopes, expected_version=len(history))
            except WrongExpectedVersion:
                if attempt == attempts - 1:
                    raise
                if not retry_on_conflict and not await self._only_system_since(stream, history):
                    raise
                continue
            return Executed(stored, appended=_stored_by(stored, envelopes))
        raise AssertionError("unreachable")

    async def execute_once(
        self,
        key: str,
        command: Cmd,
        meta: Meta,
        *,
        worked_out: Collection[str] = (),
        refusal: str = KEY_REUSED,
    ) -> list[RecordedEvent]:
        """`execute` for a request under a client's `Idempotency-Key`: a retry gets the first
        run's events; the key sent before with another request is refused (`KeyReused`),
        since answering it with the first one's result would drop it unseen."""
        done = await self.run(key, command, meta, worked_out=worked_out)
        if done.other_request:
            raise KeyReused(refusal)
        return done.events

    def _asks_otherwise(
        self,
        history: Sequence[RecordedEvent],
        done: Sequence[RecordedEvent],
        command: Cmd,
        worked_out: Collection[str],
    ) -> bool:
        """Whether `command`, decided on the state the earlier run saw (so every value the
        rules normalise is normalised alike), makes other events than that run stored."""
        start = next(i for i, event in enumerate(history) if event.event_id == done[0].event_id)
        before = self.aggregate.fold(payloads(history[:start]))
        try:
            would = self.aggregate.decide(before, command)
        except DomainError:
            return True
        stored = [event.payload() for event in done]
        skip = set(worked_out)
        return len(would) != len(stored) or any(
            type(asked) is not type(kept)
            or asked.model_dump(exclude=skip) != kept.model_dump(exclude=skip)
            for asked, kept in zip(would, stored, strict=True)
        )

    async def _only_system_since(self, stream: str, history: Sequence[RecordedEvent]) -> bool:
        newer = (await self.store.read(stream))[len(history) :]
        return bool(newer) and all(event.actor.kind == "system" for event in newer)

    def _envelopes(
        self, stream: str, state: State, new: list[DomainEvent], meta: Meta
    ) -> list[NewEvent]:
        now = self.clock.now()
        envelopes: list[NewEvent] = []
        for index, payload in enumerate(new):
            before = state
            state = self.aggregate.evolve(state, payload, now)
            region_code, agency_code = self.aggregate.address(before, payload, state)
            envelopes.append(
                NewEvent.of(
                    payload,
                    occurred_at=now,
                    actor=meta.actor,
                    correlation_id=meta.correlation_id,
                    causation_id=meta.causation_id,
                    event_id=(
                        fixed_event_id(stream, meta.idempotency_key, index)
                        if meta.idempotency_key is not None
                        else uuid.uuid4()
                    ),
                    region_code=region_code,
                    agency_code=agency_code,
                )
            )
        return envelopes


class ReportRepository(Repository[ReportState | None, Command]):
    def __init__(self, store: EventStore, clock: Clock) -> None:
        super().__init__(store, clock, REPORTS)
