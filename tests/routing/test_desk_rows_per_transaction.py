"""Routing writes each report's desk row once per transaction (`ReportViews.finish`): what a
report's events set, in their order — forwarded, answered, transferred, asked, delegated,
returned twice, forwarded again, closed and reopened — reads the same on the desk whether the
events came one per delivery or many in one (a rebuild page, a busy consumer's batch)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import date, timedelta
from pathlib import Path

from services.routing.bootstrap import create_projector
from shared.events.base import DomainEvent
from shared.reports.events import (
    CloseReason,
    FollowUpKind,
    ReportClosed,
    ReportDelegated,
    ReportReopened,
    ReportReturned,
    ReportTransferred,
)
from shared.settings import Settings
from shared.store.port import ANY, NewEvent, RecordedEvent
from shared.store.sqlite import SqliteEventStore
from tests.builders import (
    ADMIN,
    AGENCY,
    OFFICER,
    OTHER_AGENCY,
    T0,
    followed_up,
    forwarded,
    submitted,
    verified,
)

UNIT = "PUSKESMAS-OEBOBO"


def _history() -> list[DomainEvent]:
    return [
        submitted(),
        verified(),
        forwarded(AGENCY),
        followed_up(AGENCY, FollowUpKind.FINAL),
        ReportTransferred(
            from_agency=AGENCY,
            to_agency=OTHER_AGENCY,
            to_agency_name="Dinas Perhubungan",
            follow_up_due=date(2026, 3, 16),
        ),
        followed_up(OTHER_AGENCY, FollowUpKind.QUESTION),
        followed_up(OTHER_AGENCY, FollowUpKind.INTERIM),
        ReportDelegated(from_agency=OTHER_AGENCY, to_agency=UNIT, to_agency_name="Puskesmas"),
        ReportReturned(agency_code=UNIT, reason="not_our_authority", suggested_agency=AGENCY),
        forwarded(AGENCY),
        ReportReturned(agency_code=AGENCY, reason="not_our_authority"),
        forwarded(OTHER_AGENCY),
        followed_up(OTHER_AGENCY, FollowUpKind.QUESTION),
        ReportClosed(reason=CloseReason.RESOLVED),
        ReportReopened(reason="Jalan masih berlubang"),
        followed_up(OTHER_AGENCY, FollowUpKind.FINAL),
        followed_up(OTHER_AGENCY, FollowUpKind.QUESTION),
    ]


async def _stored(path: Path) -> list[RecordedEvent]:
    store = SqliteEventStore(path)
    try:
        # The two reports' events interleaved, as a busy day delivers them.
        for i, payload in enumerate(_history()):
            for n, tracking_id in enumerate(("ROUTEONE2K", "ROUTETWO3K")):
                if i == 0:
                    payload = payload.model_copy(update={"tracking_id": tracking_id})
                event = NewEvent.of(
                    payload,
                    occurred_at=T0 + timedelta(hours=i, minutes=n),
                    actor=OFFICER if "agency" in type(payload).__name__.lower() else ADMIN,
                    correlation_id=f"c-{tracking_id}-{i}",
                )
                await store.append(f"report-{tracking_id}", [event], ANY)
        return await store.read_all(0, 1000)
    finally:
        await store.close()


def _desk(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return [
            tuple(row)
            for table in ("reports", "history", "handed_on")
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1")
        ]
    finally:
        conn.close()


def test_a_reports_desk_row_is_the_same_however_its_events_are_delivered(
    tmp_path: Path,
) -> None:
    stored = asyncio.run(_stored(tmp_path / "events.db"))
    built: dict[str, list[tuple[object, ...]]] = {}
    # One per delivery; three; all at once; one by one up to the reopening, then the two
    # reports' last two follow-ups (an answer, then a question) in one.
    deliveries = {
        "one": [[e] for e in stored],
        "three": [stored[i : i + 3] for i in range(0, len(stored), 3)],
        "all": [stored],
        "tail": [*([e] for e in stored[:-4]), stored[-4:]],
    }
    for name, batches in deliveries.items():
        settings = Settings(data_dir=tmp_path / name, event_store="sqlite:///unused.db")
        projector = create_projector(settings)
        try:
            for batch in batches:
                assert projector.apply_batch(batch) == len(batch)
        finally:
            projector.close()
        built[name] = _desk(settings.view_db("routing"))
    assert built["three"] == built["one"]
    assert built["all"] == built["one"]
    assert built["tail"] == built["one"]
    conn = sqlite3.connect(tmp_path / "all" / "routing.db")
    row = conn.execute(
        "SELECT status, agency_code, follow_up_count, followed_up, returned_by"
        " FROM reports WHERE tracking_id = 'ROUTEONE2K'"
    ).fetchone()
    conn.close()
    # Reopened with the institution that last held it; six follow-ups in all, answered after
    # the reopening (a question after an answer leaves it answered); returned by the unit and
    # by the first institution.
    assert row[:4] == ("followed_up", OTHER_AGENCY, 6, 1)
    assert row[4] == f'["{UNIT}", "{AGENCY}"]'
