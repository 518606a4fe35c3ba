"""The desk writes each report's clock once per transaction (`DeskViews.finish`). A delivery
that fails halfway (one event the views cannot read) is rolled back and applied again one event
at a time, as the consumer does: the desk then shows what it shows when every event is its own
delivery — at every step, not only at the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.verification.views import SCHEMA, TABLES, DeskViews
from shared.runtime.projection import Projector
from shared.store.port import RecordedEvent
from tests.view_batches import deliver_with_poisoned_events, generated_events, view_rows


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> list[RecordedEvent]:
    return generated_events(tmp_path_factory.mktemp("store"), reports=60, seed=8)


def _desk(path: Path) -> Projector:
    views = DeskViews()
    return Projector(path, "verification", SCHEMA, views, TABLES)


def _rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    return view_rows(path, ("desk_reports", "desk_clock"))


def test_a_delivery_failing_halfway_shows_each_event_as_delivered_alone(
    stored: list[RecordedEvent], tmp_path: Path
) -> None:
    one_by_one, batched = _desk(tmp_path / "one.db"), _desk(tmp_path / "batched.db")
    try:
        poisoned = deliver_with_poisoned_events(
            one_by_one, batched, stored, poison="ReportVerified", size=20, rows=_rows
        )
        assert poisoned >= 3
        found = _rows(tmp_path / "batched.db")
        assert found == _rows(tmp_path / "one.db")
        assert found["desk_clock"], "some reports still wait for the desk"
    finally:
        one_by_one.close()
        batched.close()
