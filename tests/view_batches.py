"""What the views' batching tests share: generated lifecycles, a view's rows, a delivery that
fails halfway and is applied again one event at a time (as the consumer does), and a projector
that records what it applied and in which batches."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from bench.common import _generate
from shared.runtime.projection import Projector
from shared.store.port import RecordedEvent
from shared.store.sqlite import SqliteEventStore


def generated_events(directory: Path, *, reports: int, seed: int) -> list[RecordedEvent]:
    """Every event of `reports` realistic lifecycles (bench's generator), interleaved."""
    path = directory / "events.db"
    _generate(path, events=None, reports=reports, progress=1.0, seed=seed)

    async def read() -> list[RecordedEvent]:
        store = SqliteEventStore(path)
        try:
            return await store.read_all(0, 100_000)
        finally:
            await store.close()

    return asyncio.run(read())


def view_rows(path: Path, tables: Sequence[str]) -> dict[str, list[tuple[object, ...]]]:
    """The rows of `tables` in a view file, in an order that does not depend on how they came."""
    conn = sqlite3.connect(path)
    try:
        return {
            table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in tables
        }
    finally:
        conn.close()


def deliver_with_poisoned_events(
    one_by_one: Projector,
    batched: Projector,
    stored: Sequence[RecordedEvent],
    *,
    poison: str,
    size: int,
    rows: Callable[[Path], object],
) -> int:
    """Deliver `stored` to `batched` in deliveries of `size` and to `one_by_one` an event at a
    time. In each delivery holding an event of type `poison` (not among its first five), that
    event's data is made unreadable: the delivery fails, and is applied again one event at a
    time, after each of which both views must show the same `rows`. Returns how many failed."""
    marked = [i for i, e in enumerate(stored) if e.event_type == poison]
    poisoned = 0
    for start in range(0, len(stored), size):
        delivery = stored[start : start + size]
        culprit = next((i - start for i in marked if start + 5 <= i < start + size), None)
        if culprit is None:
            assert batched.apply_batch(delivery) == len(delivery)
            for event in delivery:
                assert one_by_one.apply_batch([event]) == 1
            continue
        bad = delivery[culprit].model_copy(update={"data": {}})
        with pytest.raises(ValueError):
            batched.apply_batch([*delivery[:culprit], bad, *delivery[culprit + 1 :]])
        poisoned += 1
        for event in delivery:  # redelivered, each in its own transaction
            assert batched.apply_batch([event]) == 1
            assert one_by_one.apply_batch([event]) == 1
            assert rows(batched.path) == rows(one_by_one.path)
    return poisoned


class RecordingProjector:
    """A projector whose view only records: each event's position as applied (`applied`) and
    the size of each batch the consumer handed it (`batches`)."""

    def __init__(self, directory: Path) -> None:
        self.applied: list[int] = []
        self.batches: list[int] = []
        self.projector = Projector(directory / "views.db", "views", "", self._apply)
        apply_batch = self.projector.apply_batch

        def counted(events: Sequence[RecordedEvent]) -> int:
            self.batches.append(len(events))
            return apply_batch(events)

        self.projector.apply_batch = counted  # type: ignore[method-assign]

    def _apply(self, _conn: sqlite3.Connection, event: RecordedEvent) -> None:
        self.applied.append(event.position)
