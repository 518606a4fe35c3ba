"""A delivery that fails halfway (one event a view cannot read) is rolled back and applied
again one event at a time, as the consumer does. Views that write a report once per transaction
(intake's counters and map, the desk's clock, sla's deadlines) must then show, after every
event, exactly what they show when each event is its own delivery: nothing of the failed
attempt's later events early, nothing lost, nothing counted twice."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from shared.settings import Settings
from shared.store.port import RecordedEvent
from tests.integration.test_rebuild_equals_live import _tables
from tests.view_batches import deliver_with_poisoned_events, generated_events

STORE_SETTINGS = "sqlite:///unused.db"
# The services whose views read ForwardedToOPD (notify sends nothing for it).
SERVICES = ("intake", "verification", "routing", "sla")


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> list[RecordedEvent]:
    return generated_events(tmp_path_factory.mktemp("store"), reports=50, seed=13)


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
        poisoned = deliver_with_poisoned_events(
            one_by_one, batched, stored, poison="ForwardedToOPD", size=25, rows=_tables
        )
        assert poisoned >= 3
        assert _tables(batched_path) == _tables(one_path)
    finally:
        one_by_one.close()
        batched.close()
