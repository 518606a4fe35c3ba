"""The desk writes each report's row once per transaction, reading what the transaction's
earlier events set (`DeskViews._row`): a report asked for completion, amended twice, returned by
an institution and referred reads the same on the desk whether its events came one per delivery
or all in one (a rebuild page, a busy consumer's batch)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

from services.verification.views import SCHEMA, TABLES, DeskViews
from shared.events.base import DomainEvent
from shared.reports.events import (
    ReportAmended,
    ReportCompletionRequested,
    ReportReferred,
    ReportReturned,
)
from shared.runtime.projection import Projector
from shared.store.port import ANY, NewEvent, RecordedEvent
from shared.store.sqlite import SqliteEventStore
from tests.builders import ADMIN, AGENCY, CITIZEN, T0, forwarded, submitted, verified


def _history(tracking_id: str) -> list[DomainEvent]:
    return [
        submitted(tracking_id),
        ReportCompletionRequested(note="Mohon sebutkan nama jalannya"),
        ReportAmended(text="Jalan Soeharto dekat pasar Oebobo"),
        ReportCompletionRequested(note="Mohon lampirkan waktu kejadian"),
        ReportAmended(text="Setiap malam sejak Januari"),
        verified(),
        forwarded(AGENCY),
        ReportReturned(agency_code=AGENCY, reason="not_our_authority"),
        ReportReferred(to_region="5301", note="Wilayah kabupaten"),
    ]


async def _stored(path: Path) -> list[RecordedEvent]:
    store = SqliteEventStore(path)
    try:
        histories = {t: _history(t) for t in ("DESKONE22K", "DESKTWO33K")}
        for i in range(len(histories["DESKONE22K"])):  # interleaved, as a busy day brings them
            for n, (tracking_id, history) in enumerate(histories.items()):
                payload = history[i]
                event = NewEvent.of(
                    payload,
                    occurred_at=T0 + timedelta(hours=i, minutes=n),
                    actor=CITIZEN if isinstance(payload, ReportAmended) else ADMIN,
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
            for table in ("desk_reports", "desk_clock", "desk_history")
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1")
        ]
    finally:
        conn.close()


def test_a_reports_desk_row_is_the_same_however_its_events_are_delivered(
    tmp_path: Path,
) -> None:
    stored = asyncio.run(_stored(tmp_path / "events.db"))
    deliveries = {
        "one": [[e] for e in stored],
        "three": [stored[i : i + 3] for i in range(0, len(stored), 3)],
        "all": [stored],
        # Up to the second completion request one by one, then both reports' amendments on.
        "tail": [*([e] for e in stored[:8]), stored[8:]],
    }
    built = {}
    for name, batches in deliveries.items():
        views = DeskViews()
        path = tmp_path / f"{name}.db"
        projector = Projector(path, "verification", SCHEMA, views, TABLES)
        try:
            for batch in batches:
                assert projector.apply_batch(batch) == len(batch)
        finally:
            projector.close()
        built[name] = _desk(path)
    assert built["three"] == built["one"]
    assert built["all"] == built["one"]
    assert built["tail"] == built["one"]
    conn = sqlite3.connect(tmp_path / "all.db")
    status, amendments, region, returned_from = conn.execute(
        "SELECT status, amendments, region_code, returned_from FROM desk_reports"
        " WHERE tracking_id = 'DESKONE22K'"
    ).fetchone()
    conn.close()
    assert (status, region, returned_from) == ("returned", "5301", AGENCY)
    assert [a["text"] for a in json.loads(amendments)] == [
        "Jalan Soeharto dekat pasar Oebobo",
        "Setiap malam sejak Januari",
    ]
