"""A delivery that fails halfway (one event a view cannot read) is rolled back and applied
again one event at a time, as the consumer does. Views that write a report once per transaction
(intake's counters and map, the desk's clock, sla's deadlines) must then show, after every
event, exactly what they show when each event is its own delivery: nothing of the failed
attempt's later events early, nothing lost, nothing counted twice."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import pytest

from bench.common import _generate
from shared.settings import Settings
from shared.store.port import RecordedEvent
from shared.store.sqlite import SqliteEventStore
from tests.integration.test_rebuild_equals_live import _tables

STORE_SETTINGS = "sqlite:///unused.db"
# The services whose views read ForwardedToOPD (notify sends nothing for it).
SERVICES = ("intake", "verification", "routing", "sla")


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> list[RecordedEvent]:
    path = tmp_path_factory.mktemp("store") / "events.db"
    _generate(path, events=None, reports=50, progress=1.0, seed=13)

    async def read() -> list[RecordedEvent]:
        store = SqliteEventStore(path)
        try:
            return await store.read_all(0, 100_000)
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.mark.parametrize("service", SERVICES)
def test_views_after_a_failed_delivery_equal_views_built_one_event_at_a_time(
    service: str, stored: list[RecordedEvent], tmp_path: Path
) -> None:
    bootstrap = importlib.import_module(f"services.{service}.bootstrap")
    one_settings = Settings(data_dir=tmp_path / "one", event_store=STORE_SETTINGS)
    batched_settings = Settings(data_dir=tmp_path / "batched", event_store=STORE_SETTINGS)
    one_by_one = bootstrap.create_projector(one_settings)
    batched = bootstrap.create_projector(batched_settings)
    one_path, batched_path = one_settings.view_db(service), batched_settings.view_db(service)
    try:
        forwarded = [i for i, e in enumerate(stored) if e.event_type == "ForwardedToOPD"]
        size, poisoned = 25, 0
        for start in range(0, len(stored), size):
            delivery = stored[start : start + size]
            culprit = next((i - start for i in forwarded if start + 5 <= i < start + size), None)
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
                assert _tables(batched_path) == _tables(one_path)
        assert poisoned >= 3
        assert _tables(batched_path) == _tables(one_path)
    finally:
        one_by_one.close()
        batched.close()
