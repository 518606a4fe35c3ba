"""`lapor audit verify`: recompute every hash chain and name what was altered, lost or reordered."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from shared.reports.lifecycle import stream_name
from shared.store.chain import ChainProblem, verify_chain
from shared.store.port import EventStore
from shared.store.sqlite import readonly_uri


@dataclass
class AuditResult:
    streams: int = 0
    events: int = 0
    problems: list[str] = field(default_factory=list)


async def audit_store(store: EventStore, tracking_id: str | None = None) -> AuditResult:
    result = AuditResult()
    streams = [stream_name(tracking_id)] if tracking_id else await store.stream_names()
    for stream in streams:
        events = await store.read(stream)
        if tracking_id and not events:
            result.problems.append(f"{stream}: no such stream")
        result.streams += 1
        result.events += len(events)
        problems: list[ChainProblem] = verify_chain(stream, (e.stored_form() for e in events))
        result.problems.extend(str(p) for p in problems)
    return result


def audit_sqlite_positions(path: Path) -> list[str]:
    """SQLite keeps global positions gap-free: a gap means an event was deleted."""
    conn = sqlite3.connect(readonly_uri(path), uri=True)
    try:
        problems: list[str] = []
        previous = 0
        for (position,) in conn.execute("SELECT position FROM events ORDER BY position"):
            if position != previous + 1:
                problems.append(
                    f"global positions {previous + 1}..{position - 1}: event(s) missing"
                )
            previous = position
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        if row and int(row[0]) > previous:
            problems.append(
                f"global positions {previous + 1}..{row[0]}: event(s) missing at the end"
            )
        guards = {
            name
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        }
        for guard in ("events_are_append_only_no_update", "events_are_append_only_no_delete"):
            if guard not in guards:
                problems.append(f"append-only guard {guard} was removed")
        return problems
    finally:
        conn.close()
