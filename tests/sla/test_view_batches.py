"""The sla views write each report once per transaction (`DeadlineViews.finish`). A delivery
that fails halfway (one event the views cannot read) is rolled back and applied again one event
at a time, as the consumer does: no deadline of the other events may be lost or kept twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.sla import views
from services.sla.config import Rules
from shared.calendar import WorkingDayCalendar
from shared.reports.policy import DEFAULT_POLICY
from shared.store.port import RecordedEvent
from tests.view_batches import deliver_with_poisoned_events, generated_events, view_rows

RULES = Rules(WorkingDayCalendar.default(), DEFAULT_POLICY)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> list[RecordedEvent]:
    return generated_events(tmp_path_factory.mktemp("store"), reports=60, seed=5)


def _rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    return view_rows(path, ("sla_reports", "deadlines", "escalations"))


def test_a_delivery_failing_halfway_loses_no_deadline(
    stored: list[RecordedEvent], tmp_path: Path
) -> None:
    """After each event applied again, the views show what one transaction per event shows at
    the same position: nothing of the failed attempt's later events shows early."""
    one_by_one = views.new_projector(tmp_path / "one.db", RULES)
    batched = views.new_projector(tmp_path / "batched.db", RULES)
    try:
        assert sum(e.event_type == "ReportVerified" for e in stored) > 10
        # The same event with data the views cannot read, after others of its batch.
        poisoned = deliver_with_poisoned_events(
            one_by_one, batched, stored, poison="ReportVerified", size=20, rows=_rows
        )
        assert poisoned >= 3
        expected, found = _rows(tmp_path / "one.db"), _rows(tmp_path / "batched.db")
        assert expected["deadlines"], "the lifecycles have deadlines"
        assert found == expected
    finally:
        one_by_one.close()
        batched.close()


def test_a_report_with_several_events_in_one_delivery_gets_the_deadlines_of_all(
    stored: list[RecordedEvent], tmp_path: Path
) -> None:
    """One transaction for the whole store (as a rebuild page) against one per event."""
    one_by_one = views.new_projector(tmp_path / "one.db", RULES)
    at_once = views.new_projector(tmp_path / "once.db", RULES)
    try:
        for event in stored:
            one_by_one.apply_batch([event])
        assert at_once.apply_batch(stored) == len(stored)
        # Delivered again: nothing changes.
        assert at_once.apply_batch(stored[-50:]) == 0
        assert _rows(tmp_path / "once.db") == _rows(tmp_path / "one.db")
    finally:
        one_by_one.close()
        at_once.close()


def test_one_instant_reads_in_each_zones_own_local_time() -> None:
    """The formatted instants are shared between reports: an instant in WITA is not printed
    with the WIB text of the same instant formatted before it."""
    from datetime import UTC, datetime

    from shared.calendar import WIB, WIT, WITA

    instant = datetime(2026, 3, 9, 16, 59, 59, 999999, tzinfo=UTC)
    texts = [views._texts(instant.astimezone(tz), tz) for tz in (WIB, WITA, WIT)]
    assert [local for local, _ in texts] == [
        "2026-03-09T23:59:59.999999+07:00",
        "2026-03-10T00:59:59.999999+08:00",
        "2026-03-10T01:59:59.999999+09:00",
    ]
    assert {utc for _, utc in texts} == {"2026-03-09T16:59:59.999999Z"}
