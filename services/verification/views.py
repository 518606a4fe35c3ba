"""The verification desk's read models, built from events; reads never load aggregates.

Tables
    desk_reports     one row per report: what an admin needs to decide, and the desk's deadline
                     (due day and end, or paused with the working days left): verification, or
                     re-forwarding once an institution returned it (`deadline_stage`)
    desk_clock       the facts of each report (``shared.reports.deadlines.Fact``: no text, no
                     personal data), from which that deadline is derived
    desk_text        FTS5 index of each report's content words (for duplicate suggestions)
    desk_history     every event of every report, with its actor (admins see who did what)
    duplicate_links  report → the report it was rejected as a duplicate of

The verification deadline (DESIGN §2: verification within 3 working days of submission, a limit
that comes from `shared.reports.policy`) is not counted here: on every event that moves it, the
event is folded into the report's derivation (`shared.reports.folding`: what
`shared.reports.deadlines.derive` gives over all its facts), the calculator the sla service uses
too, so the desk and the sla service always agree. It pauses while a completion request waits
for the reporter and resumes when the reporter amends the report; a referral recounts it in the new
region's calendar and time zone; it stops when the report is verified or rejected. A report an
institution returns is the desk's again: 3 working days to forward it, reject it or send it up
(`reforward`, the same calculator). A rejected report's facts are dropped.
"""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from pydantic import TypeAdapter

from services.verification.similarity import bounding_box, fts_query, tokens
from shared.calendar import WorkingDayCalendar
from shared.events.base import DomainEvent
from shared.reports import events
from shared.reports.deadlines import Deadline, ReportDeadlines, Stage
from shared.reports.deadlines import Status as DeadlineStatus
from shared.reports.events import REPORT_EVENTS, SlaStage, Status
from shared.reports.facts import Fact, fact_of
from shared.reports.folding import Derivation
from shared.reports.policy import DEFAULT_POLICY, SlaPolicy
from shared.runtime.projection import ViewReader, trim_kept
from shared.store.port import RecordedEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS desk_reports (
    tracking_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    classification TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    amendments TEXT NOT NULL DEFAULT '[]',
    category TEXT,
    suggested_category TEXT,
    suggested_region TEXT,
    lat REAL, lon REAL, region_code TEXT, address TEXT,
    channel TEXT NOT NULL,
    anonymous INTEGER NOT NULL,
    confidential INTEGER NOT NULL,
    requires_field_inspection INTEGER NOT NULL DEFAULT 0,
    agency_code TEXT,
    submitted_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL,
    clock_days INTEGER,
    paused INTEGER NOT NULL DEFAULT 0,
    due_date TEXT,
    due_at TEXT,
    postponed_until TEXT,
    postpone_note TEXT,
    completion_requested_at TEXT,
    completion_note TEXT,
    verified_at TEXT,
    rejected_reason TEXT,
    duplicate_of TEXT,
    decided_by TEXT,
    breached INTEGER NOT NULL DEFAULT 0,
    tokens TEXT NOT NULL DEFAULT '',
    deadline_stage TEXT,
    reforward_breached INTEGER NOT NULL DEFAULT 0,
    amended_after_request INTEGER NOT NULL DEFAULT 0,
    returned_from TEXT,
    return_reason TEXT,
    return_note TEXT,
    suggested_agency TEXT,
    public_title TEXT,
    public_body TEXT
);
CREATE INDEX IF NOT EXISTS desk_by_status ON desk_reports (status, submitted_at);
CREATE INDEX IF NOT EXISTS desk_by_region ON desk_reports (region_code);
CREATE INDEX IF NOT EXISTS desk_by_submitted ON desk_reports (submitted_at);
CREATE INDEX IF NOT EXISTS desk_by_place ON desk_reports (lat, lon);
CREATE TABLE IF NOT EXISTS desk_clock (
    tracking_id TEXT PRIMARY KEY,
    facts TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS desk_text USING fts5(tokens);
CREATE TABLE IF NOT EXISTS desk_history (
    position INTEGER PRIMARY KEY,
    tracking_id TEXT NOT NULL,
    stream_version INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS desk_history_by_report ON desk_history (tracking_id, position);
CREATE TABLE IF NOT EXISTS duplicate_links (
    tracking_id TEXT PRIMARY KEY,
    duplicate_of TEXT NOT NULL,
    linked_at TEXT NOT NULL,
    linked_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS duplicate_links_by_original ON duplicate_links (duplicate_of);
"""
TABLES = ("desk_reports", "desk_clock", "desk_text", "desk_history", "duplicate_links")
VERSION = 2  # PRAGMA user_version of the view file: raise it when SCHEMA changes
# The indexes only the queries read through (the fold reads rows by their primary keys): a
# rebuild creates them once its tables are full (`Projector`'s deferred_indexes).
DEFERRED_INDEXES = (
    "desk_by_status",
    "desk_by_region",
    "desk_by_submitted",
    "desk_by_place",
    "desk_history_by_report",
    "duplicate_links_by_original",
)

OPEN_STATUSES = (Status.SUBMITTED.value, Status.COMPLETION_REQUESTED.value)
# What needs an administrator (the queue without a status): new and amended reports, and those an
# institution returned (to forward, reject or send up within 3 working days).
WAITING_STATUSES = (Status.SUBMITTED.value, Status.RETURNED.value)
# Never shown, not even to admins: who reported is encrypted and stays with intake.
_HIDDEN_FIELDS = frozenset({"reporter", "access_code_hash", "title", "body"})
_REPORT_TYPES = frozenset(cls.event_type for cls in REPORT_EVENTS)
# The events the desk's deadlines depend on: verification (3 working days from submission) and
# re-forwarding (3 working days from a return), both from `shared.reports.deadlines`.
CLOCK_EVENTS = frozenset(
    cls.event_type
    for cls in (
        events.ReportSubmitted,
        events.ReportCompletionRequested,
        events.ReportAmended,
        events.ReportReferred,
        events.ReportVerified,
        events.ReportRejected,
        events.ForwardedToOPD,
        events.ReportTransferred,
        events.ReportReturned,
        events.ReportClosed,
        events.ReportReopened,
    )
)


_FACTS = TypeAdapter(list[Fact])
_HISTORY_INSERT = (
    "INSERT OR IGNORE INTO desk_history (position, tracking_id, stream_version, event_type,"
    " occurred_at, actor_kind, actor_id, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
# The deadlines the desk shows (the others are walked, never made).
_DESK_STAGES = frozenset({Stage.VERIFICATION, Stage.REFORWARD})


class _Folded(NamedTuple):
    facts_json: str  # the stored facts it was derived from: checked before each use
    derivation: Derivation


class _Clock:
    """A report whose clock events of the open transaction moved: written at its end."""

    __slots__ = ("columns", "derivation", "kept", "new_facts", "stopped", "stored_json")

    def __init__(self, stored_json: str | None, derivation: Derivation, kept: _Folded | None):
        self.stored_json = stored_json  # the facts stored before this transaction
        self.derivation = derivation  # with every new fact added, not yet settled
        self.kept = kept  # what the last transaction wrote, if still true
        self.new_facts: list[str] = []  # each new fact's JSON, in the order added
        self.stopped = False  # rejected: the facts go, nothing counts any more
        # The desk's working days left (`clock_days`) as the transaction's earlier events left
        # them, while its deadline ran.
        self.columns: dict[str, Any] = {}


def _desk_stage(status: str) -> Stage:
    """The desk's deadline for a report of `status`: re-forwarding while an institution's return
    waits, verification otherwise."""
    return Stage.REFORWARD if status == "returned" else Stage.VERIFICATION


def iso(at: datetime) -> str:
    """UTC, always with microseconds, so stored instants compare correctly as text."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


# --- the projection ----------------------------------------------------------------------------
class DeskViews:
    """`apply` for the Projector: one event at a time, inside the projector's transaction; and
    the end of that transaction (`shared.runtime.projection.BatchEnd`: `finish`, `discard`)."""

    def __init__(
        self,
        calendar: WorkingDayCalendar | None = None,
        policy: SlaPolicy = DEFAULT_POLICY,
    ) -> None:
        self.calendar = calendar or WorkingDayCalendar.default()
        self.policy = policy
        self._folded: OrderedDict[str, _Folded] = OrderedDict()
        self._touched: dict[str, _Clock] = {}
        # The columns of desk_reports one event changes (merged into the report's row below).
        self._changes: dict[str, Any] = {}
        # The rows of desk_reports the open transaction's events read, as its events left them,
        # and the columns they changed: written once per report at its end (`finish`).
        self._rows: dict[str, dict[str, Any]] = {}
        self._dirty: dict[str, dict[str, Any]] = {}
        # The desk_history rows of the open transaction's events (nothing reads them before its
        # end): written in one statement by `finish`.
        self._history: list[tuple[Any, ...]] = []

    def apply(self, conn: sqlite3.Connection, event: RecordedEvent) -> None:
        self._changes = {}
        self._apply(conn, event)
        if self._changes:
            tracking_id = event.stream.removeprefix("report-")
            self._rows[tracking_id].update(self._changes)
            self._dirty.setdefault(tracking_id, {}).update(self._changes)

    def _row(self, conn: sqlite3.Connection, tracking_id: str) -> dict[str, Any] | None:
        row = self._rows.get(tracking_id)
        if row is None:
            found = conn.execute(
                "SELECT rowid, * FROM desk_reports WHERE tracking_id = ?", (tracking_id,)
            ).fetchone()
            if found is None:
                return None
            row = self._rows[tracking_id] = dict(zip(found.keys(), found, strict=True))
        return row

    def _apply(self, conn: sqlite3.Connection, event: RecordedEvent) -> None:
        if not event.stream.startswith("report-") or event.event_type not in _REPORT_TYPES:
            return
        tracking_id = event.stream.removeprefix("report-")
        payload = event.payload()
        at = iso(event.occurred_at)
        details = {k: v for k, v in event.current_data().items() if k not in _HIDDEN_FIELDS}
        if isinstance(payload, events.ReportSubmitted):
            details = {
                k: details.get(k)
                for k in ("classification", "category", "channel", "anonymous", "confidential")
            }
        self._history.append(
            (
                event.position,
                tracking_id,
                event.stream_version,
                event.event_type,
                at,
                event.actor.kind,
                event.actor.id,
                json.dumps(details, ensure_ascii=False),
            )
        )
        if isinstance(payload, events.ReportSubmitted):
            self._submitted(conn, tracking_id, payload, event)
            self._clock(conn, tracking_id, payload, event)
            return
        row = self._row(conn, tracking_id)
        if row is None:
            return
        self._update(conn, tracking_id, {"version": event.stream_version})
        match payload:
            case events.ReportCompletionRequested():
                self._update(
                    conn,
                    tracking_id,
                    {
                        "status": Status.COMPLETION_REQUESTED.value,
                        "completion_requested_at": at,
                        "completion_note": payload.note,
                    },
                )
            case events.ReportAmended():
                self._amended(conn, row, payload, event)
            case events.ReportVerified():
                loc = payload.location
                self._update(
                    conn,
                    tracking_id,
                    {
                        "status": Status.VERIFIED.value,
                        "classification": payload.classification.value,
                        "category": payload.category,
                        "region_code": payload.region_code,
                        "requires_field_inspection": int(payload.requires_field_inspection),
                        "agency_code": payload.agency_code,
                        "verified_at": at,
                        "decided_by": event.actor.id,
                        "postponed_until": None,
                        "amended_after_request": 0,
                        **self._stopped(),
                        **(
                            {"lat": loc.lat, "lon": loc.lon, "address": loc.address}
                            if loc is not None
                            else {}
                        ),
                    },
                )
            case events.ReportRejected():
                self._update(
                    conn,
                    tracking_id,
                    {
                        "status": Status.REJECTED.value,
                        "rejected_reason": payload.reason.value,
                        "postponed_until": None,
                        "amended_after_request": 0,
                        "duplicate_of": payload.duplicate_of,
                        "decided_by": event.actor.id,
                        **self._stopped(),
                    },
                )
                if payload.duplicate_of:
                    conn.execute(
                        "INSERT OR REPLACE INTO duplicate_links (tracking_id, duplicate_of,"
                        " linked_at, linked_by) VALUES (?, ?, ?, ?)",
                        (tracking_id, payload.duplicate_of, at, event.actor.id),
                    )
            case events.ReportPostponed():
                self._update(
                    conn,
                    tracking_id,
                    {"postponed_until": payload.until.isoformat(), "postpone_note": payload.note},
                )
            case events.ReportReferred():
                changes: dict[str, Any] = {"region_code": payload.to_region}
                if row["status"] == Status.RETURNED.value:
                    changes["reforward_breached"] = 0  # the receiving desk's own deadline
                self._update(conn, tracking_id, changes)
            case events.ProtectionChanged():
                self._update(
                    conn,
                    tracking_id,
                    {
                        "anonymous": int(payload.anonymous),
                        "confidential": int(payload.confidential),
                    },
                )
            case events.ForwardedToOPD() | events.ReportReopened():
                agency = payload.agency_code or row["agency_code"]
                self._update(
                    conn,
                    tracking_id,
                    {"status": Status.FORWARDED.value, "agency_code": agency},
                )
            case events.ReportReturned():
                self._update(
                    conn,
                    tracking_id,
                    {
                        "status": Status.RETURNED.value,
                        "agency_code": None,
                        "returned_from": payload.agency_code,
                        "return_reason": payload.reason,
                        "return_note": payload.note,
                        "suggested_agency": payload.suggested_agency,
                        "reforward_breached": 0,  # each return has its own deadline
                    },
                )
            case events.ReportTransferred():
                self._update(conn, tracking_id, {"agency_code": payload.to_agency})
            case events.ReportDelegated():
                self._update(conn, tracking_id, {"agency_code": payload.to_agency})
            case events.PublicTextSet():
                self._update(
                    conn, tracking_id, {"public_title": payload.title, "public_body": payload.body}
                )
            case events.FollowUpPosted():
                self._update(conn, tracking_id, {"status": Status.FOLLOWED_UP.value})
            case events.ReportClosed():
                self._update(conn, tracking_id, {"status": Status.CLOSED.value})
            case events.SlaBreached():
                if payload.stage is SlaStage.VERIFICATION:
                    self._update(conn, tracking_id, {"breached": 1})
                elif payload.stage is SlaStage.REFORWARD:
                    self._update(conn, tracking_id, {"reforward_breached": 1})
            case _:
                pass
        self._clock(conn, tracking_id, payload, event)
        self._update(conn, tracking_id, {"updated_at": at})

    # -- helpers --
    def _clock(
        self,
        conn: sqlite3.Connection,
        tracking_id: str,
        payload: DomainEvent,
        event: RecordedEvent,
    ) -> None:
        """Fold the event into the report's facts; the desk's deadline is made again, and the
        facts written, once per report at the transaction's end (`finish`)."""
        if event.event_type not in CLOCK_EVENTS:
            return
        fact = fact_of(
            payload,
            version=event.stream_version,
            at=event.occurred_at,
            event_id=str(event.event_id),
            correlation_id=event.correlation_id,
        )
        if fact is None:
            return
        clock = self._touched.get(tracking_id)
        if clock is None:
            stored = conn.execute(
                "SELECT facts FROM desk_clock WHERE tracking_id = ?", (tracking_id,)
            ).fetchone()
            if stored is None and fact.event_type != "ReportSubmitted":
                return  # the deadline has stopped already: nothing moves it any more
            clock = self._touched[tracking_id] = self._load(tracking_id, stored)
        if clock.stopped or fact.version in clock.derivation.versions:
            return  # rejected earlier in this transaction, or delivered again
        if clock.new_facts:
            # The working days left as the last event left them: a deadline that stops keeps
            # them (`clock_days`), as when each event is written at once. Of the desk's deadline
            # columns only these can outlive the transaction (`finish` sets the others from the
            # last event's deadline), so the walk is asked, not settled, at each event.
            derivation = clock.derivation
            running, days_left = derivation.running(_desk_stage(derivation.status))
            if running:
                clock.columns["clock_days"] = days_left
        clock.derivation.add(fact)
        if fact.event_type == "ReportRejected":
            # Rejected is final: nothing at the desk will count for this report again.
            clock.stopped = True
        else:
            clock.new_facts.append(fact.model_dump_json())

    def _load(self, tracking_id: str, stored: sqlite3.Row | None) -> _Clock:
        stored_json: str | None = stored[0] if stored else None
        # Kept from the last transaction only while the stored facts are the very text it
        # wrote (a rolled-back transaction makes it stale, and it is derived again).
        kept = self._folded.pop(tracking_id, None)
        if kept is not None and kept.facts_json != stored_json:
            kept = None
        if kept is not None:
            return _Clock(stored_json, kept.derivation, kept)
        derivation = Derivation.of(
            tracking_id,
            _FACTS.validate_json(stored_json) if stored_json else [],
            self.calendar,
            self.policy,
            _DESK_STAGES,
        )
        return _Clock(stored_json, derivation, None)

    def finish(self, conn: sqlite3.Connection) -> None:
        """The end of the projector's transaction: each report whose clock its events moved
        gets its facts and the desk's deadline written once."""
        if self._history:
            conn.executemany(_HISTORY_INSERT, self._history)
            self._history.clear()
        for tracking_id, clock in self._touched.items():
            if not clock.new_facts and not clock.stopped:  # only events delivered again
                if clock.kept is not None:
                    self._folded[tracking_id] = clock.kept
                continue
            derived = clock.derivation.settle()
            if clock.stopped:
                conn.execute("DELETE FROM desk_clock WHERE tracking_id = ?", (tracking_id,))
            else:
                # The stored list with the new facts appended: the others are not serialised
                # again.
                stored_json, new_json = clock.stored_json, ", ".join(clock.new_facts)
                facts_json = f"{stored_json[:-1]}, {new_json}]" if stored_json else f"[{new_json}]"
                conn.execute(
                    "INSERT INTO desk_clock (tracking_id, facts) VALUES (?, ?)"
                    " ON CONFLICT(tracking_id) DO UPDATE SET facts = excluded.facts",
                    (tracking_id, facts_json),
                )
                self._folded[tracking_id] = _Folded(facts_json, clock.derivation)
            # After what the events set (an event's own columns give way to its clock's).
            columns = self._dirty.setdefault(tracking_id, {})
            columns.update(clock.columns)
            columns.update(self._desk_columns(derived))
        self._touched.clear()
        trim_kept(self._folded)
        for tracking_id, columns in self._dirty.items():
            names = ", ".join(f"{name} = ?" for name in columns)
            conn.execute(
                f"UPDATE desk_reports SET {names} WHERE tracking_id = ?",  # noqa: S608 (fixed names)
                (*columns.values(), tracking_id),
            )
        self._dirty.clear()
        self._rows.clear()

    def discard(self) -> None:
        """The projector's transaction was rolled back: what its events folded is forgotten."""
        self._history.clear()
        for tracking_id in self._touched:
            self._folded.pop(tracking_id, None)
        self._touched.clear()
        self._dirty.clear()
        self._rows.clear()

    @classmethod
    def _desk_columns(cls, derived: ReportDeadlines) -> dict[str, Any]:
        """The desk's deadline: verification while the report waits for its first decision,
        re-forwarding while an institution's return waits for the next one."""
        found = derived.of_stage(_desk_stage(derived.status))
        return cls._deadline_columns(found[-1]) if found else cls._stopped()

    @classmethod
    def _deadline_columns(cls, deadline: Deadline) -> dict[str, Any]:
        if deadline.status is DeadlineStatus.PAUSED:
            return {
                "paused": 1,
                "clock_days": deadline.remaining_working_days,
                "due_date": None,
                "due_at": None,
                "deadline_stage": deadline.stage.value,
            }
        if deadline.status is DeadlineStatus.OPEN:
            assert deadline.due is not None and deadline.deadline_end is not None
            return {
                "paused": 0,
                "clock_days": deadline.remaining_working_days,
                "due_date": deadline.due.isoformat(),
                "due_at": iso(deadline.deadline_end),
                "deadline_stage": deadline.stage.value,
            }
        return cls._stopped()

    @staticmethod
    def _stopped() -> dict[str, Any]:
        return {"paused": 0, "due_date": None, "due_at": None, "deadline_stage": None}

    def _update(self, conn: sqlite3.Connection, tracking_id: str, changes: dict[str, Any]) -> None:
        """Columns of the event's report to set (the later of two settings wins), written in
        one statement when the event has been applied."""
        self._changes.update(changes)

    def _submitted(
        self,
        conn: sqlite3.Connection,
        tracking_id: str,
        p: events.ReportSubmitted,
        event: RecordedEvent,
    ) -> None:
        loc = p.location
        words = tokens(p.title, p.body)
        at = iso(event.occurred_at)
        cursor = conn.execute(
            "INSERT OR IGNORE INTO desk_reports (tracking_id, status, classification, title, body,"
            " category, suggested_category, suggested_region, lat, lon, region_code, address,"
            " channel, anonymous, confidential, submitted_at, updated_at, version, tokens)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                tracking_id,
                Status.SUBMITTED.value,
                p.classification.value,
                p.title,
                p.body,
                p.category,
                p.category,
                loc.region_code,
                loc.lat,
                loc.lon,
                loc.region_code,
                loc.address,
                p.channel.value,
                int(p.anonymous),
                int(p.confidential),
                at,
                at,
                event.stream_version,
                " ".join(sorted(words)),
            ),
        )
        if cursor.rowcount:
            conn.execute(
                "INSERT INTO desk_text (rowid, tokens) VALUES (?, ?)",
                (cursor.lastrowid, " ".join(sorted(words))),
            )

    def _amended(
        self,
        conn: sqlite3.Connection,
        row: dict[str, Any],
        p: events.ReportAmended,
        event: RecordedEvent,
    ) -> None:
        amendments = [
            *json.loads(row["amendments"]),
            {"text": p.text, "at": iso(event.occurred_at)},
        ]
        words = tokens(row["title"], row["body"], *(a["text"] for a in amendments))
        changes: dict[str, Any] = {
            "amendments": json.dumps(amendments, ensure_ascii=False),
            "tokens": " ".join(sorted(words)),
        }
        if row["status"] == Status.COMPLETION_REQUESTED.value:
            changes |= {"status": Status.SUBMITTED.value, "amended_after_request": 1}
        self._update(conn, row["tracking_id"], changes)
        conn.execute("DELETE FROM desk_text WHERE rowid = ?", (row["rowid"],))
        conn.execute(
            "INSERT INTO desk_text (rowid, tokens) VALUES (?, ?)",
            (row["rowid"], changes["tokens"]),
        )


# --- queries -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueFilter:
    status: str | None = None
    category: str | None = None
    region: str | None = None
    channel: str | None = None
    classification: str | None = None
    q: str | None = None
    postponed: str = "hide"
    overdue: bool | None = None
    limit: int = 50
    offset: int = 0


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def queue_query(f: QueueFilter, now: datetime, today: date) -> tuple[str, str, list[object]]:
    """(rows SQL, count SQL, params) for the queue, oldest first. Without a status: everything
    that needs an administrator (new, amended after a completion request, returned)."""
    where: list[str] = []
    params: list[object] = []
    if f.status:
        where.append("status = ?")
        params.append(f.status)
    else:
        where.append(f"status IN ({', '.join('?' * len(WAITING_STATUSES))})")
        params.extend(WAITING_STATUSES)
    if f.postponed == "hide":
        where.append("(postponed_until IS NULL OR postponed_until <= ?)")
        params.append(today.isoformat())
    elif f.postponed == "only":
        where.append("postponed_until > ?")
        params.append(today.isoformat())
    if f.category:
        where.append("category = ?")
        params.append(f.category)
    if f.region:
        where.append("region_code LIKE ?")
        params.append(f.region + "%")
    if f.channel:
        where.append("channel = ?")
        params.append(f.channel)
    if f.classification:
        where.append("classification = ?")
        params.append(f.classification)
    if f.q:
        like = _like(f.q)
        where.append(
            "(tracking_id = ? OR title LIKE ? ESCAPE '\\' OR body LIKE ? ESCAPE '\\'"
            " OR amendments LIKE ? ESCAPE '\\' OR address LIKE ? ESCAPE '\\')"
        )
        params.extend([f.q.strip().upper(), like, like, like, like])
    if f.overdue is True:
        where.append("due_at IS NOT NULL AND due_at < ?")
        params.append(iso(now))
    elif f.overdue is False:
        where.append("(due_at IS NULL OR due_at >= ?)")
        params.append(iso(now))
    clause = " AND ".join(where)
    rows = (
        f"SELECT * FROM desk_reports WHERE {clause}"  # noqa: S608 (fixed fragments, bound values)
        " ORDER BY submitted_at, tracking_id LIMIT ? OFFSET ?"
    )
    count = f"SELECT COUNT(*) AS n FROM desk_reports WHERE {clause}"  # noqa: S608
    return rows, count, params


async def queue(
    reader: ViewReader, f: QueueFilter, now: datetime, today: date
) -> tuple[list[sqlite3.Row], int]:
    rows_sql, count_sql, params = queue_query(f, now, today)
    rows = await reader.fetchall(rows_sql, [*params, f.limit, f.offset])
    total = await reader.fetchone(count_sql, params)
    return rows, int(total["n"]) if total else 0


async def report(reader: ViewReader, tracking_id: str) -> sqlite3.Row | None:
    return await reader.fetchone(
        "SELECT rowid, * FROM desk_reports WHERE tracking_id = ?", (tracking_id,)
    )


async def history(reader: ViewReader, tracking_id: str) -> list[sqlite3.Row]:
    return await reader.fetchall(
        "SELECT * FROM desk_history WHERE tracking_id = ? ORDER BY position", (tracking_id,)
    )


async def duplicates_of(reader: ViewReader, tracking_id: str) -> list[sqlite3.Row]:
    """Reports rejected as duplicates of this one."""
    return await reader.fetchall(
        "SELECT * FROM duplicate_links WHERE duplicate_of = ? ORDER BY linked_at", (tracking_id,)
    )


async def candidates(
    reader: ViewReader,
    target: sqlite3.Row,
    window: timedelta,
    metres: float,
    limit: int = 100,
) -> list[sqlite3.Row]:
    """Reports within `window` of the target's submission that share words or are nearby."""
    submitted = datetime.fromisoformat(target["submitted_at"])
    since, until = iso(submitted - window), iso(submitted + window)
    found: dict[str, sqlite3.Row] = {}
    query = fts_query(target["tokens"].split())
    if query is not None:
        for row in await reader.fetchall(
            "SELECT r.rowid, r.* FROM desk_text JOIN desk_reports r ON r.rowid = desk_text.rowid"
            " WHERE desk_text MATCH ? AND r.tracking_id != ? AND r.submitted_at BETWEEN ? AND ?"
            " ORDER BY bm25(desk_text) LIMIT ?",
            (query, target["tracking_id"], since, until, limit),
        ):
            found[row["tracking_id"]] = row
    if target["lat"] is not None and target["lon"] is not None:
        min_lat, max_lat, min_lon, max_lon = bounding_box(target["lat"], target["lon"], metres)
        for row in await reader.fetchall(
            "SELECT rowid, * FROM desk_reports WHERE lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?"
            " AND tracking_id != ? AND submitted_at BETWEEN ? AND ? LIMIT ?",
            (min_lat, max_lat, min_lon, max_lon, target["tracking_id"], since, until, limit),
        ):
            found.setdefault(row["tracking_id"], row)
    return list(found.values())


async def count_open(reader: ViewReader) -> Sequence[sqlite3.Row]:
    """How many reports wait at the desk, by status (returned ones included)."""
    return await reader.fetchall(
        "SELECT status, COUNT(*) AS n FROM desk_reports WHERE status IN (?, ?, ?) GROUP BY status",
        (*OPEN_STATUSES, Status.RETURNED.value),
    )
