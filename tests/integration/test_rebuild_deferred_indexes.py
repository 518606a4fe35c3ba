"""A rebuild creates the indexes only the views' queries read through once its tables are full
(`Projector`'s deferred_indexes) instead of keeping them at every row. The views it leaves must be
those the live path builds, one delivery at a time: every row of every table and every index,
for generated lifecycles and, interleaved with them, the rarer paths: a closed report reopened, a
breach escalated to the Ombudsman, a return and a re-forward, a rejection as a duplicate, a
completion request and amendment, and a reporter's identity erased (its own access stream)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from bench.common import _generate
from shared.access.events import ReporterIdentityErased
from shared.events.base import DomainEvent
from shared.reports.events import (
    CloseReason,
    EscalatedToOmbudsman,
    EscalationGrounds,
    FollowUpKind,
    RejectionReason,
    ReportAmended,
    ReportClosed,
    ReportCompletionRequested,
    ReportRejected,
    ReportReopened,
    ReportReturned,
    SlaBreached,
    SlaStage,
)
from shared.runtime.projection import Projector
from shared.store.port import ANY, NewEvent, RecordedEvent
from shared.store.sqlite import SqliteEventStore
from tests.builders import (
    ADMIN,
    AGENCY,
    CITIZEN,
    OFFICER,
    OTHER_AGENCY,
    SYSTEM,
    T0,
    followed_up,
    forwarded,
    submitted,
    verified,
)
from tests.integration.test_rebuild_equals_live import SERVICES, _tables, build_views

EDGE_CASES: dict[str, list[DomainEvent]] = {
    "REOPENED2K": [
        submitted("REOPENED2K"),
        verified(),
        forwarded(AGENCY),
        followed_up(AGENCY, FollowUpKind.FINAL),
        ReportClosed(reason=CloseReason.RESOLVED),
        ReportReopened(reason="Jalan masih berlubang"),
        followed_up(AGENCY, FollowUpKind.FINAL),
    ],
    "ESCALATE3K": [
        submitted("ESCALATE3K"),
        verified(),
        forwarded(AGENCY),
        SlaBreached(stage=SlaStage.FOLLOW_UP, due=date(2026, 3, 9), agency_code=AGENCY),
        EscalatedToOmbudsman(
            ombudsman_office="NTT",
            province_code="53",
            grounds=EscalationGrounds.NO_FINAL_ANSWER,
        ),
    ],
    "RETURNED4K": [
        submitted("RETURNED4K"),
        ReportCompletionRequested(note="Mohon lampirkan foto"),
        ReportAmended(text="Fotonya sudah saya lampirkan"),
        verified(),
        forwarded(AGENCY),
        ReportReturned(agency_code=AGENCY, reason="not_our_authority"),
        forwarded(OTHER_AGENCY),
    ],
    "DUPLICAT5K": [
        submitted("DUPLICAT5K"),
        ReportRejected(reason=RejectionReason.DUPLICATE, duplicate_of="REOPENED2K"),
    ],
}
ERASED = "ESCALATE3K"


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store") / "events.db"
    _generate(path, events=None, reports=150, progress=1.0, seed=23)

    async def append_edge_cases() -> None:
        store = SqliteEventStore(path)
        try:
            longest = max(len(history) for history in EDGE_CASES.values())
            for i in range(longest):  # interleaved, as a busy day delivers them
                for n, (tracking_id, history) in enumerate(EDGE_CASES.items()):
                    if i >= len(history):
                        continue
                    payload = history[i]
                    kind = type(payload).__name__
                    actor = (
                        SYSTEM
                        if kind in ("SlaBreached", "EscalatedToOmbudsman")
                        else CITIZEN
                        if kind in ("ReportSubmitted", "ReportAmended", "ReportReopened")
                        else OFFICER
                        if "agency_code" in type(payload).model_fields
                        else ADMIN
                    )
                    event = NewEvent.of(
                        payload,
                        occurred_at=T0 + timedelta(days=i, minutes=n),
                        actor=actor,
                        correlation_id=f"edge-{tracking_id}-{i}",
                    )
                    await store.append(f"report-{tracking_id}", [event], ANY)
            erased = ReporterIdentityErased(tracking_id=ERASED, key_deleted=True)
            await store.append(
                f"access-{ERASED}",
                [
                    NewEvent.of(
                        erased,
                        occurred_at=T0 + timedelta(days=30),
                        actor=ADMIN,
                        correlation_id="edge-erased",
                    )
                ],
                ANY,
            )
        finally:
            await store.close()

    asyncio.run(append_edge_cases())
    return path


def _indexes(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return sorted(
            conn.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index'")
        )
    finally:
        conn.close()


@pytest.mark.parametrize("service", SERVICES)
def test_a_rebuild_with_deferred_indexes_equals_the_live_views(
    service: str, store_path: Path, tmp_path: Path
) -> None:
    live = asyncio.run(build_views(service, store_path, tmp_path / "live", live=True))
    # Small pages, so that the rebuild's reports span many transactions.
    rebuilt = asyncio.run(
        build_views(service, store_path, tmp_path / "rebuilt", live=False, batch=97)
    )
    # Every index is there again, defined as the schema defines it.
    assert _indexes(rebuilt) == _indexes(live)
    live_tables, rebuilt_tables = _tables(live), _tables(rebuilt)
    assert live_tables.keys() == rebuilt_tables.keys()
    for name in live_tables:
        assert live_tables[name] == rebuilt_tables[name], name
    if service in ("sla", "verification", "routing", "intake"):
        conn = sqlite3.connect(rebuilt)
        try:
            # The edge cases reached the views (their rows are among those compared above).
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            report_table = next(
                t for t in ("sla_reports", "desk_reports", "reports") if t in tables
            )
            found = {r[0] for r in conn.execute(f"SELECT tracking_id FROM {report_table}")}
            # (Routing sees only reports forwarded to an institution.)
            assert set(EDGE_CASES) - ({"DUPLICAT5K"} if service == "routing" else set()) <= found
        finally:
            conn.close()
    if service == "sla":
        conn = sqlite3.connect(rebuilt)
        try:
            escalated = conn.execute("SELECT tracking_id FROM escalations").fetchall()
        finally:
            conn.close()
        assert ("ESCALATE3K",) in escalated


def test_a_failed_rebuild_still_leaves_its_deferred_indexes(
    store_path: Path, tmp_path: Path
) -> None:
    """The replay's own error is raised, and the view has every index of its schema again."""
    schema = (
        "CREATE TABLE IF NOT EXISTS seen (position INTEGER PRIMARY KEY, stream TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS seen_by_stream ON seen (stream, position);"
    )

    def apply(conn: sqlite3.Connection, event: RecordedEvent) -> None:
        if event.position == 150:
            raise ValueError("unreadable")
        conn.execute("INSERT INTO seen VALUES (?, ?)", (event.position, event.stream))

    projector = Projector(
        tmp_path / "views.db", "seen", schema, apply, ("seen",), 1, ["seen_by_stream"]
    )

    async def rebuild() -> None:
        store = SqliteEventStore(store_path)
        try:
            await projector.rebuild(store, batch=100)
        finally:
            await store.close()

    try:
        with pytest.raises(ValueError, match="unreadable"):
            asyncio.run(rebuild())
        names = [str(name) for name, _, _ in _indexes(tmp_path / "views.db")]
        assert [n for n in names if not n.startswith("sqlite_")] == ["seen_by_stream"]
        assert projector.checkpoint() == 100
    finally:
        projector.close()
