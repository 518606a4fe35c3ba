"""What a repository needs to know of one kind of stream: the pure parts of an aggregate.

A context (reports, polls, the directory) describes its streams with a subclass: how an id names
its stream, the state before any event, `evolve` (one event into the state, never raising),
`decide` (a command against the state: new events, none for a repeat, or a domain error) and
`address` (the region and institution an event is published under). `shared.runtime.repository`
does the I/O around them, the same way for every context.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Generic, TypeVar

from shared.events.base import DomainEvent

State = TypeVar("State")
Cmd = TypeVar("Cmd")


class Aggregate(Generic[State, Cmd]):
    def stream(self, key: str) -> str:
        raise NotImplementedError

    def initial(self) -> State:
        raise NotImplementedError

    def evolve(self, state: State, event: DomainEvent, at: datetime) -> State:
        raise NotImplementedError

    def fold(self, history: Iterable[tuple[DomainEvent, datetime]]) -> State:
        state = self.initial()
        for event, at in history:
            state = self.evolve(state, event, at)
        return state

    def decide(self, state: State, command: Cmd) -> list[DomainEvent]:
        raise NotImplementedError

    def address(
        self, before: State, event: DomainEvent, after: State
    ) -> tuple[str | None, str | None]:
        """(region_code, agency_code) of the NATS subject `event` is published under."""
        return None, None
