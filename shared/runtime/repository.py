"""The report use case every service shares: load the stream, decide, append.

An idempotency key (HTTP `Idempotency-Key`, a channel's message id, a causing event's id) becomes
fixed event ids, so a retried command finds its events already stored and appends nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from shared.clock import Clock
from shared.events.base import Actor, DomainEvent, UnknownEventType
from shared.reports.commands import Command
from shared.reports.lifecycle import ReportState, decide, evolve, stream_name
from shared.store.port import EventStore, NewEvent, RecordedEvent, WrongExpectedVersion

MAX_EVENTS_PER_COMMAND = 16
_EVENT_ID_NAMESPACE = uuid.UUID("6f1c2f0e-5b7a-4f43-9d55-2b7d8f1e0a11")


@dataclass(frozen=True)
class Meta:
    """Who acts, and which request or event caused it."""

    actor: Actor
    correlation_id: str
    causation_id: str | None = None
    idempotency_key: str | None = None


def fixed_event_id(stream: str, key: str, index: int) -> uuid.UUID:
    return uuid.uuid5(_EVENT_ID_NAMESPACE, f"{stream}|{key}|{index}")


def fold(events: Sequence[RecordedEvent]) -> ReportState | None:
    state: ReportState | None = None
    for event in events:
        try:
            payload = event.payload()
        except UnknownEventType:
            # A newer event type this process does not know yet does not change the report's
            # lifecycle here; skipping it beats refusing every command on the report.
            continue
        state = evolve(state, payload, event.occurred_at)
    return state


class ReportRepository:
    def __init__(self, store: EventStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def load(self, tracking_id: str) -> tuple[ReportState | None, list[RecordedEvent]]:
        events = await self.store.read(stream_name(tracking_id))
        return fold(events), events

    async def execute(
        self,
        tracking_id: str,
        command: Command,
        meta: Meta,
        *,
        retry_on_conflict: bool = False,
        attempts: int = 5,
    ) -> list[RecordedEvent]:
        """Run one command. Returns the stored events (none when the command changed nothing).

        Raises DomainError for a command the state does not allow, and WrongExpectedVersion when
        another writer got there first and `retry_on_conflict` is False.
        """
        stream = stream_name(tracking_id)
        for attempt in range(attempts):
            history = await self.store.read(stream)
            if meta.idempotency_key is not None:
                first_id = fixed_event_id(stream, meta.idempotency_key, 0)
                done = [e for e in history if e.event_id == first_id]
                if done:
                    start = history.index(done[0])
                    key_ids = {
                        fixed_event_id(stream, meta.idempotency_key, i)
                        for i in range(MAX_EVENTS_PER_COMMAND)
                    }
                    return [e for e in history[start:] if e.event_id in key_ids]
            state = fold(history)
            new = decide(state, command)
            if not new:
                return []
            envelopes = self._envelopes(stream, state, new, meta)
            try:
                return await self.store.append(stream, envelopes, expected_version=len(history))
            except WrongExpectedVersion:
                if not retry_on_conflict or attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _envelopes(
        self, stream: str, state: ReportState | None, new: list[DomainEvent], meta: Meta
    ) -> list[NewEvent]:
        now = self.clock.now()
        envelopes: list[NewEvent] = []
        for index, payload in enumerate(new):
            before = state
            state = evolve(state, payload, now)
            event_id = (
                fixed_event_id(stream, meta.idempotency_key, index)
                if meta.idempotency_key is not None
                else uuid.uuid4()
            )
            envelopes.append(
                NewEvent.of(
                    payload,
                    occurred_at=now,
                    actor=meta.actor,
                    correlation_id=meta.correlation_id,
                    causation_id=meta.causation_id,
                    event_id=event_id,
                    region_code=state.region_code if state else None,
                    # A return still names the agency it came from, so its systems see it.
                    agency_code=(state.agency_code if state else None)
                    or (before.agency_code if before else None),
                )
            )
        return envelopes
