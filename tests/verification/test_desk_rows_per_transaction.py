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
    RejectionReason,
    ReportAmended,
    ReportCompletionRequested,
    ReportReferred,
    ReportRejected,
    ReportReturned,
)
from shared.runtime.projection import Projector
from shared.store.port import ANY, NewEvent, RecordedEvent
from shared.store.sqlite import SqliteEventStore
from tests.builders import (
    ADMIN,
    AGENCY,
    CITIZEN,
    OTHER_AGENCY,
    T0,
    forwarded,
    submitted,
    verified,
)


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
    histories = {t: _history(t) for t in ("DESKONE22K", "DESKTWO33K")}
    # Interleaved, as a busy day brings them.
    return await _stored_histories(path, histories, step=timedelta(hours=1), interleaved=True)


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


# Desk deadlines that stop within one transaction after they ran: the working days left when
# they stopped (`clock_days`) stay on the desk, as when each event is its own delivery.
STOPPING: dict[str, list[DomainEvent]] = {
    # paused, resumed, then met by the verification and the report forwarded
    "RESUMED44K": [
        submitted("RESUMED44K"),
        ReportCompletionRequested(note="Mohon sebutkan nama jalannya"),
        ReportAmended(text="Jalan Soeharto dekat pasar Oebobo"),
        verified(),
        forwarded(AGENCY),
    ],
    # paused, then rejected while it waited for the reporter
    "PAUSEDR55K": [
        submitted("PAUSEDR55K"),
        ReportCompletionRequested(note="Mohon lampirkan foto"),
        ReportRejected(reason=RejectionReason.NO_RESPONSE),
    ],
    # verification met, then a return's re-forwarding deadline met by the next forwarding
    "REFWDED66K": [
        submitted("REFWDED66K"),
        verified(),
        forwarded(AGENCY),
        ReportReturned(agency_code=AGENCY, reason="not_our_authority"),
        forwarded(OTHER_AGENCY),
    ],
}


async def _stored_histories(
    path: Path,
    histories: dict[str, list[DomainEvent]],
    *,
    step: timedelta = timedelta(days=1),
    interleaved: bool = False,
) -> list[RecordedEvent]:
    """Each report's events appended `step` apart: report by report, or their i-th events
    together when `interleaved`."""
    order = [(i, n, t) for n, t in enumerate(histories) for i in range(len(histories[t]))]
    if interleaved:
        order.sort()
    store = SqliteEventStore(path)
    try:
        for i, n, tracking_id in order:
            payload = histories[tracking_id][i]
            event = NewEvent.of(
                payload,
                occurred_at=T0 + step * i + timedelta(minutes=n),
                actor=CITIZEN if isinstance(payload, ReportAmended) else ADMIN,
                correlation_id=f"c-{tracking_id}-{i}",
            )
            await store.append(f"report-{tracking_id}", [event], ANY)
        return await store.read_all(0, 1000)
    finally:
        await store.close()


def test_a_desk_deadline_stopping_in_one_delivery_keeps_the_days_it_had_left(
    tmp_path: Path,
) -> None:
    stored = asyncio.run(_stored_histories(tmp_path / "events.db", STOPPING))
    built = {}
    for name, batches in {"one": [[e] for e in stored], "all": [stored]}.items():
        path = tmp_path / f"{name}.db"
        projector = Projector(path, "verification", SCHEMA, DeskViews(), TABLES)
        try:
            for batch in batches:
                assert projector.apply_batch(batch) == len(batch)
        finally:
            projector.close()
        built[name] = _desk(path)
    assert built["all"] == built["one"]
    conn = sqlite3.connect(tmp_path / "all.db")
    shown = {
        row[0]: row[1:]
        for row in conn.execute(
            "SELECT tracking_id, clock_days, paused, due_at, deadline_stage FROM desk_reports"
        )
    }
    conn.close()
    # Nothing runs any more; the verification's days left stay (the re-forwarding counts none).
    assert shown["RESUMED44K"][1:] == (0, None, None)
    assert shown["RESUMED44K"][0] is not None
    assert shown["PAUSEDR55K"][0] is not None and shown["PAUSEDR55K"][1:] == (0, None, None)
    assert shown["REFWDED66K"] == (None, 0, None, None)
