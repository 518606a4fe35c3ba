"""The desk writes each report's clock once per transaction (`DeskViews.finish`). A delivery
that fails halfway (one event the views cannot read) is rolled back and applied again one event
at a time, as the consumer does: the desk then shows what it shows when every event is its own
delivery — at every step, not only at the end."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bench.common import _generate
from services.verification.views import SCHEMA, TABLES, DeskViews
from shared.runtime.projection import Projector
from shared.store.port import RecordedEvent
from shared.store.sqlite import SqliteEventStore


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> list[RecordedEvent]:
    path = tmp_path_factory.mktemp("store") / "events.db"
    _generate(path, events=None, reports=60, progress=1.0, seed=8)

    async def read() -> list[RecordedEvent]:
        store = SqliteEventStore(path)
        try:
            return await store.read_all(0, 100_000)
        finally:
            await store.close()

    return asyncio.run(read())


def _desk(path: Path) -> Projector:
    views = DeskViews()
    return Projector(path, "verification", SCHEMA, views.apply, TABLES, batch_end=views)


def _rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {
            table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in ("desk_reports", "desk_clock")
        }
    finally:
        conn.close()


def test_a_delivery_failing_halfway_shows_each_event_as_delivered_alone(
    stored: list[RecordedEvent], tmp_path: Path
) -> None:
    one_by_one, batched = _desk(tmp_path / "one.db"), _desk(tmp_path / "batched.db")
    try:
        verified = [i for i, e in enumerate(stored) if e.event_type == "ReportVerified"]
        size, poisoned = 20, 0
        for start in range(0, len(stored), size):
            delivery = stored[start : start + size]
            culprit = next((i - start for i in verified if start + 5 <= i < start + size), None)
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
                assert _rows(tmp_path / "batched.db") == _rows(tmp_path / "one.db")
        assert poisoned >= 3
        found = _rows(tmp_path / "batched.db")
        assert found == _rows(tmp_path / "one.db")
        assert found["desk_clock"], "some reports still wait for the desk"
    finally:
        one_by_one.close()
        batched.close()
