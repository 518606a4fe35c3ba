"""The sla service's read models: every report's deadlines, derived from its events.

`sla_reports` keeps each report's facts (``shared.reports.deadlines.Fact``: no text, no personal
data); every relevant event is folded into the report's deadlines (``shared.reports.folding``:
the same results as ``shared.reports.deadlines.derive`` over all its facts) and the rows it
changed in `deadlines` rewritten. So the timers are rows derived from events: a restart or a rebuild
(``lapor rebuild sla``) finds them all again. What depends on the clock (pending, due soon,
overdue) is decided at read time from the stored instants.

`timer_done` is the ticker's memory of action keys it has finished with (done, obsolete, no-op):
an optimisation only, because every action is idempotent (a fixed idempotency key, re-derived
from the stream before it runs). Losing it costs one more check per key, never a second event.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import TypeAdapter

from services.sla import metrics
from services.sla.config import Rules
from shared.reports.deadlines import Deadline, Stage, State
from shared.reports.facts import Fact, fact_of_recorded, fact_of_stored
from shared.reports.folding import Derivation
from shared.runtime.projection import Projector, rebuilding, trim_kept
from shared.store.port import RecordedEvent

SCHEMA = """
CREATE TABLE IF NOT EXISTS sla_reports (
    tracking_id TEXT PRIMARY KEY,
    facts TEXT NOT NULL,
    status TEXT NOT NULL,
    region_code TEXT,
    agency_code TEXT
);
CREATE TABLE IF NOT EXISTS deadlines (
    key TEXT PRIMARY KEY,
    tracking_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    cycle INTEGER NOT NULL,
    agency_code TEXT,
    region_code TEXT,
    limit_text TEXT NOT NULL,
    started_at TEXT NOT NULL,
    started_version INTEGER NOT NULL,
    due TEXT,
    deadline_local TEXT,
    deadline_utc TEXT,
    due_soon_local TEXT,
    due_soon_utc TEXT,
    status TEXT NOT NULL,
    ended_at TEXT,
    ended_by TEXT,
    late INTEGER,
    working_days INTEGER,
    remaining_working_days INTEGER,
    breach_recorded INTEGER NOT NULL,
    action TEXT,
    action_key TEXT,
    action_at TEXT
);
CREATE INDEX IF NOT EXISTS deadlines_by_report ON deadlines (tracking_id, stage, cycle);
CREATE INDEX IF NOT EXISTS deadlines_by_agency ON deadlines (agency_code, stage);
CREATE INDEX IF NOT EXISTS deadlines_by_status ON deadlines (status, deadline_utc);
CREATE INDEX IF NOT EXISTS deadlines_by_action ON deadlines (action_at) WHERE action IS NOT NULL;
CREATE TABLE IF NOT EXISTS escalations (
    tracking_id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    escalated_at TEXT NOT NULL,
    ombudsman_office TEXT NOT NULL,
    province_code TEXT,
    region_code TEXT,
    agency_code TEXT,
    grounds TEXT,
    evidence_sha256 TEXT
);
CREATE INDEX IF NOT EXISTS escalations_by_office ON escalations (ombudsman_office, position);
CREATE TABLE IF NOT EXISTS timer_done (
    action_key TEXT PRIMARY KEY,
    outcome TEXT NOT NULL,
    done_at TEXT NOT NULL
);
-- The newest head of each report's stream a signed store checkpoint vouched for (the relay's
-- StoreCheckpointed): what the evidence pack proves the trail against.
CREATE TABLE IF NOT EXISTS audit_heads (
    stream TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    hash TEXT NOT NULL,
    checkpoint_position INTEGER NOT NULL
);
"""
TABLES = ("sla_reports", "deadlines", "escalations", "timer_done", "audit_heads")
VERSION = 2  # PRAGMA user_version of the view file: raise it when SCHEMA changes
# The indexes only the queries read through (the fold reads deadlines by report alone): a rebuild
# creates them once its tables are full (`Projector`'s deferred_indexes).
DEFERRED_INDEXES = (
    "deadlines_by_agency",
    "deadlines_by_status",
    "deadlines_by_action",
    "escalations_by_office",
)

_INSERT = (
    "INSERT INTO deadlines (key, tracking_id, stage, cycle, agency_code, region_code, limit_text,"
    " started_at, started_version, due, deadline_local, deadline_utc, due_soon_local, due_soon_utc,"
    " status, ended_at, ended_by, late, working_days, remaining_working_days, breach_recorded,"
    " action, action_key, action_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


_FACTS = TypeAdapter(list[Fact])


def utc_text(at: datetime) -> str:
    """A UTC instant as fixed-width text, so SQL compares instants by comparing strings
    (what strftime("%Y-%m-%dT%H:%M:%S.%fZ") writes, at a third of its cost)."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


@lru_cache(maxsize=16_384)
def _texts(at: datetime, tz: tzinfo | None) -> tuple[str, str]:
    """A deadline's instant as local and as UTC text. Deadlines end and turn due-soon at a few
    instants a day per time zone, shared by many reports: each is formatted once. (`tz` is in
    the key because equal instants in other zones print other local times.)"""
    return at.isoformat(), utc_text(at)


_NO_TEXTS: tuple[None, None] = (None, None)


def _row(d: Deadline) -> tuple[object, ...]:
    action = d.planned_action
    end = d.deadline_end
    soon = d.due_soon_from
    end_local, end_utc = _texts(end, end.tzinfo) if end is not None else _NO_TEXTS
    soon_local, soon_utc = _texts(soon, soon.tzinfo) if soon is not None else _NO_TEXTS
    ended = d.ended
    late = d.late
    return (
        d.key,
        d.tracking_id,
        d.stage.value,
        d.cycle,
        d.agency_code,
        d.region_code,
        str(d.limit),
        d.start.at.astimezone(UTC).isoformat(),
        d.start.version,
        d.due.isoformat() if d.due else None,
        end_local,
        end_utc,
        soon_local,
        soon_utc,
        d.status.value,
        ended.at.astimezone(UTC).isoformat() if ended else None,
        ended.event_type if ended else None,
        None if late is None else int(late),
        d.working_days_taken,
        d.remaining_working_days,
        int(d.breach_recorded),
        action.kind if action else None,
        action.key if action else None,
        _texts(action.not_before, action.not_before.tzinfo)[1] if action else None,
    )


class _Folded(NamedTuple):
    facts_json: str  # the stored facts these were derived from: checked before each use
    derivation: Derivation
    rows: dict[str, tuple[Deadline, tuple[Any, ...]]]  # the stored deadline rows, by key


class _Touched:
    """A report some events of the open transaction moved: written once, at its end."""

    __slots__ = ("derivation", "kept", "new_facts", "stored_json")

    def __init__(self, stored_json: str | None, derivation: Derivation, kept: _Folded | None):
        self.stored_json = stored_json  # the facts stored before this transaction
        self.derivation = derivation  # with every new fact added, not yet settled
        self.kept = kept  # what the last transaction wrote, if still true
        self.new_facts: list[str] = []  # each new fact's JSON, in the order added


class DeadlineViews:
    """The projector's apply (each event folded into its report's derivation in memory) and
    the end of each transaction (`BatchEnd`: each report the transaction's events moved is
    settled, and its facts and changed deadline rows written, once)."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        # The derivations (and rows) of the reports written last, for their next events.
        self._folded: OrderedDict[str, _Folded] = OrderedDict()
        self._touched: dict[str, _Touched] = {}

    def apply(self, conn: sqlite3.Connection, event: RecordedEvent) -> None:
        if event.event_type == "StoreCheckpointed":
            _vouched(conn, event)
            return
        if not event.stream.startswith("report-"):
            return
        # A replay reads the store's own payloads, validated when appended: not parsed again.
        fact = fact_of_stored(event) if rebuilding() else fact_of_recorded(event)
        if fact is None:
            return
        tracking_id = event.stream.removeprefix("report-")
        _count(fact)
        touched = self._touched.get(tracking_id)
        if touched is None:
            touched = self._touched[tracking_id] = self._load(conn, tracking_id)
        derivation = touched.derivation
        if not derivation.add(fact):
            return  # delivered again
        touched.new_facts.append(fact.model_dump_json())
        if event.event_type == "EscalatedToOmbudsman":
            _escalated(conn, event, tracking_id, derivation.region_code, derivation.agency_code)

    def _load(self, conn: sqlite3.Connection, tracking_id: str) -> _Touched:
        row = conn.execute(
            "SELECT facts FROM sla_reports WHERE tracking_id = ?", (tracking_id,)
        ).fetchone()
        stored_json: str | None = row[0] if row else None
        # Kept from the last transaction only while the stored facts are the very text it wrote
        # (a rolled-back transaction or another writer makes it stale: derived again).
        kept = self._folded.pop(tracking_id, None)
        if kept is not None and kept.facts_json != stored_json:
            kept = None
        if kept is not None:
            return _Touched(stored_json, kept.derivation, kept)
        # Parsed straight from the JSON text by pydantic-core (not json.loads, then each).
        facts = _FACTS.validate_json(stored_json) if stored_json else []
        rules = self.rules
        derivation = Derivation.of(tracking_id, facts, rules.calendar, rules.policy)
        return _Touched(stored_json, derivation, None)

    def finish(self, conn: sqlite3.Connection) -> None:
        folded = self._folded
        for tracking_id, touched in self._touched.items():
            if not touched.new_facts:  # only events delivered again
                if touched.kept is not None:
                    folded[tracking_id] = touched.kept
                continue
            derived = touched.derivation.settle()
            # The stored list with the new facts appended: no need to serialise the others again.
            stored_json, new_json = touched.stored_json, ", ".join(touched.new_facts)
            facts_json = f"{stored_json[:-1]}, {new_json}]" if stored_json else f"[{new_json}]"
            conn.execute(
                "INSERT INTO sla_reports (tracking_id, facts, status, region_code, agency_code)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(tracking_id) DO UPDATE SET"
                " facts = excluded.facts, status = excluded.status,"
                " region_code = excluded.region_code, agency_code = excluded.agency_code",
                (
                    tracking_id,
                    facts_json,
                    derived.status,
                    derived.region_code,
                    derived.agency_code,
                ),
            )
            kept = touched.kept
            rows = _write_deadlines(
                conn, tracking_id, derived.deadlines, kept.rows if kept is not None else None
            )
            folded[tracking_id] = _Folded(facts_json, touched.derivation, rows)
        self._touched.clear()
        trim_kept(folded)

    def discard(self) -> None:
        # Their derivations hold facts that were never stored: derived again next time.
        for tracking_id in self._touched:
            self._folded.pop(tracking_id, None)
        self._touched.clear()


def new_projector(path: Path, rules: Rules) -> Projector:
    """The sla service's views, kept by the events."""
    views = DeadlineViews(rules)
    return Projector(path, "sla", SCHEMA, views, TABLES, VERSION, DEFERRED_INDEXES)


_COLUMNS = _INSERT[_INSERT.index("(") + 1 : _INSERT.index(")")]


def _write_deadlines(
    conn: sqlite3.Connection,
    tracking_id: str,
    deadlines: Sequence[Deadline],
    stored: dict[str, tuple[Deadline, tuple[Any, ...]]] | None,
) -> dict[str, tuple[Deadline, tuple[Any, ...]]]:
    """Write only the deadlines an event changed (most of a report's stay as they were): every
    row rewritten is four index updates. `stored`: the rows written last time, with the
    deadlines they were made from (None: read them); a deadline that is the very object of last
    time is unchanged without being formatted again."""
    rows: dict[str, tuple[Deadline, tuple[Any, ...]]] = {}
    changed: list[tuple[Any, ...]] = []
    if stored is None:
        stored_rows = {
            row[0]: tuple(row)
            for row in conn.execute(
                f"SELECT {_COLUMNS} FROM deadlines WHERE tracking_id = ?",  # noqa: S608
                (tracking_id,),
            )
        }
        for d in deadlines:
            made = _row(d)
            rows[d.key] = (d, made)
            if stored_rows.get(d.key) != made:
                changed.append(made)
        gone = stored_rows.keys() - rows.keys()
    else:
        for d in deadlines:
            before = stored.get(d.key)
            if before is not None and before[0] is d:
                rows[d.key] = before
                continue
            made = _row(d)
            rows[d.key] = (d, made)
            if before is None or before[1] != made:
                changed.append(made)
        gone = stored.keys() - rows.keys()
    if gone:
        conn.executemany("DELETE FROM deadlines WHERE key = ?", [(key,) for key in gone])
    if changed:
        conn.executemany(_INSERT.replace("INSERT", "INSERT OR REPLACE", 1), changed)
    return rows


def _vouched(conn: sqlite3.Connection, event: RecordedEvent) -> None:
    conn.executemany(
        "INSERT INTO audit_heads (stream, version, hash, checkpoint_position)"
        " VALUES (?, ?, ?, ?) ON CONFLICT(stream) DO UPDATE SET version = excluded.version,"
        " hash = excluded.hash, checkpoint_position = excluded.checkpoint_position"
        " WHERE excluded.version >= audit_heads.version",
        [
            (stream, version, event_hash, event.position)
            for stream, version, event_hash in event.data.get("heads", ())
            if stream.startswith("report-")
        ],
    )


def _escalated(
    conn: sqlite3.Connection,
    event: RecordedEvent,
    tracking_id: str,
    region_code: str | None,
    agency_code: str | None,
) -> None:
    """The Ombudsman's list: one row per escalated report (what the office needs to find it)."""
    data = event.data
    conn.execute(
        "INSERT OR IGNORE INTO escalations (tracking_id, position, escalated_at, ombudsman_office,"
        " province_code, region_code, agency_code, grounds, evidence_sha256)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            tracking_id,
            event.position,
            event.occurred_at.isoformat(),
            data.get("ombudsman_office") or "",
            data.get("province_code"),
            region_code,
            agency_code,
            data.get("grounds"),
            data.get("evidence_sha256"),
        ),
    )


def escalations_query(
    *, region_prefix: str | None, office: str | None, limit: int, offset: int
) -> tuple[str, list[object]]:
    """SQL (and parameters) of one page of escalations, newest first; `region_prefix`: only
    reports of that region (a report without a region goes to the national office)."""
    where: list[str] = []
    params: list[object] = []
    if region_prefix is not None:
        where.append("region_code LIKE ?")
        params.append(region_prefix + "%")
    if office is not None:
        where.append("ombudsman_office = ?")
        params.append(office)
    sql = "SELECT * FROM escalations"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + " ORDER BY position DESC LIMIT ? OFFSET ?", [*params, limit, offset]


def _count(fact: Fact) -> None:
    """Metrics of what the sla service caused, counted once per event as the view applies it."""
    if fact.event_type == "SlaBreached":
        metrics.BREACHES.labels(fact.stage or "_", fact.agency_code or "_").inc()
    elif fact.event_type == "ReportClosed" and fact.reason == "no_response":
        metrics.AUTO_CLOSES.inc()
    elif fact.event_type == "EscalatedToOmbudsman":
        metrics.ESCALATIONS.inc()


# --- reading ----------------------------------------------------------------------------------
def state_condition(state: State, now: datetime) -> tuple[str, list[object]]:
    """SQL (and parameters) selecting the deadlines in `state` at `now`."""
    t = utc_text(now)
    match state:
        case State.OVERDUE:
            return "status = 'open' AND deadline_utc < ?", [t]
        case State.DUE_SOON:
            return "status = 'open' AND due_soon_utc <= ? AND deadline_utc >= ?", [t, t]
        case State.PENDING:
            return "status = 'open' AND due_soon_utc > ?", [t]
        case State.MET:
            return "status = 'met' AND COALESCE(late, 0) = 0", []
        case State.MET_LATE:
            return "status = 'met' AND late = 1", []
    return "status = ?", [state.value]


def deadlines_query(
    now: datetime,
    *,
    tracking_id: str | None,
    agency_code: str | None,
    region_prefix: str | None,
    state: State | None,
    stage: Stage | None,
    limit: int,
    offset: int,
) -> tuple[str, list[object]]:
    """SQL (and parameters) of one page of deadlines, soonest first (those without an end last)."""
    where: list[str] = []
    params: list[object] = []
    if tracking_id is not None:
        where.append("tracking_id = ?")
        params.append(tracking_id)
    if agency_code is not None:
        where.append("agency_code = ?")
        params.append(agency_code)
    if region_prefix is not None:
        where.append("region_code LIKE ?")
        params.append(region_prefix + "%")
    if state is not None:
        condition, values = state_condition(state, now)
        where.append(condition)
        params.extend(values)
    if stage is not None:
        where.append("stage = ?")
        params.append(stage.value)
    sql = "SELECT * FROM deadlines"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY deadline_utc IS NULL, deadline_utc, tracking_id, stage, cycle"
    return sql + " LIMIT ? OFFSET ?", [*params, limit, offset]


def compliance_query(
    *, agency_code: str | None, region_prefix: str | None
) -> tuple[str, list[object]]:
    """SQL (and parameters) of the deadlines compliance counts: verification, follow-up and
    resolution (auto-close and escalation are the reporter's clock, not an institution's)."""
    sql = "SELECT * FROM deadlines WHERE stage IN ('verification', 'follow_up', 'resolution')"
    params: list[object] = []
    if agency_code is not None:
        sql += " AND agency_code = ?"
        params.append(agency_code)
    if region_prefix is not None:
        sql += " AND region_code LIKE ?"
        params.append(region_prefix + "%")
    return sql, params


def row_state(row: sqlite3.Row, now: datetime) -> State:
    status = row["status"]
    if status == "open":
        t = utc_text(now)
        if row["deadline_utc"] < t:
            return State.OVERDUE
        if row["due_soon_utc"] <= t:
            return State.DUE_SOON
        return State.PENDING
    if status == "met":
        return State.MET_LATE if row["late"] else State.MET
    return State(status)


def deadline_json(row: sqlite3.Row, now: datetime) -> dict[str, Any]:
    return {
        "tracking_id": row["tracking_id"],
        "stage": row["stage"],
        "cycle": row["cycle"],
        "agency_code": row["agency_code"],
        "region_code": row["region_code"],
        "limit": row["limit_text"],
        "started_at": row["started_at"],
        "due": row["due"],
        "deadline": row["deadline_local"],
        "due_soon_from": row["due_soon_local"],
        "state": row_state(row, now).value,
        "ended_at": row["ended_at"],
        "ended_by": row["ended_by"],
        "late": None if row["late"] is None else bool(row["late"]),
        "working_days_taken": row["working_days"],
        "remaining_working_days": row["remaining_working_days"],
        "breach_recorded": bool(row["breach_recorded"]),
    }


def open_state_counts(conn: sqlite3.Connection, now: datetime) -> dict[str, int]:
    """How many running deadlines are pending, due soon, overdue or paused at `now`."""
    t = utc_text(now)
    row = conn.execute(
        "SELECT"
        " COALESCE(SUM(status = 'open' AND due_soon_utc > ?), 0),"
        " COALESCE(SUM(status = 'open' AND due_soon_utc <= ? AND deadline_utc >= ?), 0),"
        " COALESCE(SUM(status = 'open' AND deadline_utc < ?), 0),"
        " COALESCE(SUM(status = 'paused'), 0)"
        " FROM deadlines",
        (t, t, t, t),
    ).fetchone()
    return {
        State.PENDING.value: int(row[0]),
        State.DUE_SOON.value: int(row[1]),
        State.OVERDUE.value: int(row[2]),
        State.PAUSED.value: int(row[3]),
    }


def due_action_rows(conn: sqlite3.Connection, now: datetime, limit: int) -> list[sqlite3.Row]:
    """Deadlines whose action is due at `now` and not yet finished by the ticker."""
    return conn.execute(
        "SELECT tracking_id, action, action_key FROM deadlines"
        " WHERE action IS NOT NULL AND action_at < ?"
        " AND action_key NOT IN (SELECT action_key FROM timer_done)"
        " ORDER BY action_at LIMIT ?",
        (utc_text(now), limit),
    ).fetchall()


def newly_due_soon_rows(conn: sqlite3.Connection, now: datetime, limit: int) -> list[sqlite3.Row]:
    """Running deadlines that are due soon at `now` and not yet signalled."""
    t = utc_text(now)
    return conn.execute(
        "SELECT key, tracking_id, stage, due FROM deadlines"
        " WHERE status = 'open' AND due_soon_utc <= ? AND deadline_utc >= ?"
        " AND ('sla:duesoon:' || key || ':' || due) NOT IN (SELECT action_key FROM timer_done)"
        " LIMIT ?",
        (t, t, limit),
    ).fetchall()


def mark_done(conn: sqlite3.Connection, keys: Sequence[tuple[str, str]], now: datetime) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO timer_done (action_key, outcome, done_at) VALUES (?, ?, ?)",
        [(key, outcome[:500], utc_text(now)) for key, outcome in keys],
    )
