"""Intake's counters move once per report per transaction (`ReportViews.finish`), by what the
report added before and after. A report forwarded and answered within one delivery never counts
as "forwarded" on the way; one delivered event by event does, then stops: both must leave the
same counters — and a counter back at zero leaves no row behind, so the statistics and the
rebuilt views are the same either way."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

from services.intake import views
from services.intake.bootstrap import create_projector
from shared.events.base import DomainEvent
from shared.reports.events import CloseReason, FollowUpKind, ReportClosed
from shared.settings import Settings
from shared.store.port import ANY, NewEvent, RecordedEvent
from shared.store.sqlite import SqliteEventStore
from tests.builders import ADMIN, AGENCY, T0, followed_up, forwarded, submitted, verified


def _history(tracking_id: str) -> list[DomainEvent]:
    return [
        submitted(tracking_id),
        verified(),
        forwarded(AGENCY),
        followed_up(AGENCY, FollowUpKind.FINAL),
        ReportClosed(reason=CloseReason.RESOLVED),
    ]


async def _stored(path: Path) -> list[RecordedEvent]:
    store = SqliteEventStore(path)
    try:
        for n, tracking_id in enumerate(("COUNTONE2K", "COUNTTWO3K")):
            for i, payload in enumerate(_history(tracking_id)):
                event = NewEvent.of(
                    payload,
                    occurred_at=T0 + timedelta(hours=i, minutes=n),
                    actor=ADMIN,
                    correlation_id=f"c-{tracking_id}-{i}",
                )
                await store.append(f"report-{tracking_id}", [event], ANY)
        return await store.read_all(0, 1000)
    finally:
        await store.close()


def _counts(path: Path) -> list[tuple[str, str, int]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT dimension, key, n FROM stats_counts ORDER BY 1, 2").fetchall()
    finally:
        conn.close()


def test_counters_are_the_same_however_the_events_are_delivered(tmp_path: Path) -> None:
    stored = asyncio.run(_stored(tmp_path / "events.db"))
    counts = {}
    for name, batches in {
        "one": [[e] for e in stored],
        "all": [stored],
        "two": [stored[i : i + 2] for i in range(0, len(stored), 2)],
    }.items():
        settings = Settings(data_dir=tmp_path / name, event_store="sqlite:///unused.db")
        projector = create_projector(settings)
        try:
            for batch in batches:
                assert projector.apply_batch(batch) == len(batch)
        finally:
            projector.close()
        counts[name] = _counts(settings.view_db("intake"))
    assert counts["all"] == counts["one"]
    assert counts["two"] == counts["one"]
    by = {(dimension, key): n for dimension, key, n in counts["one"]}
    assert by[("status", "closed")] == 2
    # Both went through "forwarded" and "followed_up": no counter of them is left at zero.
    assert ("status", "forwarded") not in by and ("status", "followed_up") not in by
    assert all(n > 0 for n in by.values())
    stats = views.stats_from_counts(counts["one"])
    assert stats["total"] == 2 and stats["by_status"]
