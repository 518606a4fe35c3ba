"""The polls view (`intake-polls.db`): polls, published results and the institutions' responses.

Kept by intake's consumer like intake's own view. It never holds an answer: running tallies do not
exist anywhere before `PollClosed` + `PollResultsPublished`, which the domain appends together.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from shared.events.base import UnknownEventType
from shared.polls.events import (
    BALLOT_EVENTS,
    POLL_STREAM_PREFIX,
    AgencyResponsePublished,
    PollClosed,
    PollOpened,
    PollResultsPublished,
)
from shared.runtime.projection import Projector, ViewReader
from shared.store.port import RecordedEvent

VIEW_NAME = "intake-polls"

Row = Any
"""A row of `polls` (sqlite3.Row, or `row_of`'s dict), `poll_results` or `poll_responses`."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS polls (
    code TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    policy_text TEXT NOT NULL,
    attachment TEXT,
    questions TEXT NOT NULL,
    allow_comment INTEGER NOT NULL,
    region_code TEXT,
    agency_code TEXT NOT NULL,
    opens_at TEXT NOT NULL,
    closes_at TEXT NOT NULL,
    opens_ts REAL NOT NULL,
    closes_ts REAL NOT NULL,
    opened_at TEXT NOT NULL,
    closed_at TEXT,
    close_reason TEXT,
    position INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS polls_open ON polls (closed_at, closes_ts);
CREATE TABLE IF NOT EXISTS poll_results (
    code TEXT PRIMARY KEY,
    total_voters INTEGER NOT NULL,
    tallies TEXT NOT NULL,
    by_region TEXT NOT NULL,
    by_channel TEXT NOT NULL,
    comments TEXT NOT NULL,
    published_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS poll_responses (
    code TEXT PRIMARY KEY,
    agency_code TEXT NOT NULL,
    text TEXT NOT NULL,
    attachment TEXT,
    published_at TEXT NOT NULL
);
"""
TABLES = ("polls", "poll_results", "poll_responses")


def _json(model: BaseModel | None) -> str | None:
    return None if model is None else model.model_dump_json()


def apply(conn: sqlite3.Connection, event: RecordedEvent) -> None:
    """Polls, results and responses; answers are never stored here (sealed until closing)."""
    if not event.stream.startswith(POLL_STREAM_PREFIX) or event.event_type in BALLOT_EVENTS:
        return
    code = event.stream.removeprefix(POLL_STREAM_PREFIX)
    at = event.occurred_at.isoformat()
    try:
        payload = event.payload()
    except UnknownEventType:
        return
    if isinstance(payload, PollOpened):
        conn.execute(
            "INSERT OR IGNORE INTO polls (code, title, policy_text, attachment, questions,"
            " allow_comment, region_code, agency_code, opens_at, closes_at, opens_ts, closes_ts,"
            " opened_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                code,
                payload.title,
                payload.policy_text,
                _json(payload.attachment),
                json.dumps([q.model_dump(mode="json") for q in payload.questions]),
                int(payload.allow_comment),
                payload.region_code,
                payload.agency_code,
                payload.opens_at.isoformat(),
                payload.closes_at.isoformat(),
                payload.opens_at.timestamp(),
                payload.closes_at.timestamp(),
                at,
                event.position,
            ),
        )
    elif isinstance(payload, PollClosed):
        conn.execute(
            "UPDATE polls SET closed_at = ?, close_reason = ? WHERE code = ? AND closed_at IS NULL",
            (payload.closed_at.isoformat(), payload.reason.value, code),
        )
    elif isinstance(payload, PollResultsPublished):
        conn.execute(
            "INSERT OR IGNORE INTO poll_results (code, total_voters, tallies, by_region,"
            " by_channel, comments, published_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                code,
                payload.total_voters,
                json.dumps(payload.tallies),
                json.dumps({k: v.model_dump(mode="json") for k, v in payload.by_region.items()}),
                json.dumps(payload.by_channel),
                json.dumps([c.model_dump(mode="json") for c in payload.comments]),
                at,
            ),
        )
    elif isinstance(payload, AgencyResponsePublished):
        conn.execute(
            "INSERT OR IGNORE INTO poll_responses (code, agency_code, text, attachment,"
            " published_at) VALUES (?, ?, ?, ?, ?)",
            (code, payload.agency_code, payload.text, _json(payload.attachment), at),
        )


def create_projector(data_dir: Path) -> Projector:
    return Projector(data_dir / f"{VIEW_NAME}.db", VIEW_NAME, SCHEMA, apply, TABLES)


def row_of(opened: PollOpened, closed: PollClosed | None = None) -> dict[str, Any]:
    """A `polls` row from the events (when the view has not caught up yet)."""
    return {
        "code": opened.code,
        "title": opened.title,
        "policy_text": opened.policy_text,
        "attachment": _json(opened.attachment),
        "questions": json.dumps([q.model_dump(mode="json") for q in opened.questions]),
        "allow_comment": int(opened.allow_comment),
        "region_code": opened.region_code,
        "agency_code": opened.agency_code,
        "opens_at": opened.opens_at.isoformat(),
        "closes_at": opened.closes_at.isoformat(),
        "opens_ts": opened.opens_at.timestamp(),
        "closes_ts": opened.closes_at.timestamp(),
        "closed_at": closed.closed_at.isoformat() if closed else None,
        "close_reason": closed.reason.value if closed else None,
    }


class PollsView:
    """The queries of the polls view."""

    def __init__(self, path: Path) -> None:
        self.reader = ViewReader(path)

    async def poll(self, code: str) -> Row | None:
        return await self.reader.fetchone("SELECT * FROM polls WHERE code = ?", (code,))

    async def polls(self, region: str | None, agency: str | None) -> list[Row]:
        """Polls in a region (and below) of an institution, newest first (at most 1000)."""
        return await self.reader.fetchall(
            "SELECT * FROM polls WHERE (? IS NULL OR region_code LIKE ? || '%')"
            " AND (? IS NULL OR agency_code = ?) ORDER BY opens_ts DESC, code LIMIT 1000",
            (region, region, agency, agency),
        )

    async def due(self, now: float) -> list[str]:
        """Codes of the polls still open whose closes_at has passed."""
        rows = await self.reader.fetchall(
            "SELECT code FROM polls WHERE closed_at IS NULL AND closes_ts <= ?", (now,)
        )
        return [row["code"] for row in rows]

    async def results(self, code: str) -> Row | None:
        return await self.reader.fetchone("SELECT * FROM poll_results WHERE code = ?", (code,))

    async def published(self, code: str) -> bool:
        row = await self.reader.fetchone("SELECT code FROM poll_results WHERE code = ?", (code,))
        return row is not None

    async def published_codes(self) -> set[str]:
        return {r["code"] for r in await self.reader.fetchall("SELECT code FROM poll_results")}

    async def response(self, code: str) -> Row | None:
        return await self.reader.fetchone("SELECT * FROM poll_responses WHERE code = ?", (code,))
