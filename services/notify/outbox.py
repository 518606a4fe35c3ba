"""Notify's outbox: every planned notice and every send attempt, written before the send.

One SQLite file beside the views (`notify_outbox.db`, synchronous=FULL, so a row survives a
SIGKILL). A notice moves `pending` -> `sending` (an attempt has started) -> `retrying` (it failed
and waits for its backoff) -> `sent` | `failed` | `skipped`; `recorded` turns 1 once its outcome
event is in the event store. What a restart finds:
- `pending` / `retrying`: carries on, with the attempts already made counted;
- `sending`: the process died during an attempt, so the gateway may or may not have taken the
  message. It is attempted again (a notice is never silently lost) and flagged
  `possible_duplicate` in the delivery log and in NotificationSent;
- `sent` / `failed` / `skipped` but not `recorded`: only the outcome event is appended; nothing is
  sent again.

No contact detail is stored here: addresses are decrypted at send time and only their masked form
is kept, for the delivery log.

Writes made at the same time (the reactions of a batch planning their notices, a dispatch run's
deliveries finishing) share one transaction and one fsync: each caller still returns only once
its own write is on disk (`_write`).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from services.notify.notices import Notice
from services.notify.trips import OneTrip
from shared.sql import where_equal

FILE_NAME = "notify_outbox.db"  # in the data directory
OPEN_STATES = ("pending", "sending", "retrying")
FINAL_STATES = ("sent", "failed", "skipped")

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    notification_id    TEXT PRIMARY KEY,
    tracking_id        TEXT NOT NULL,
    cause_event_id     TEXT NOT NULL,
    cause_event_type   TEXT NOT NULL,
    cause_position     INTEGER NOT NULL,
    correlation_id     TEXT NOT NULL,
    recipient_kind     TEXT NOT NULL,
    recipient_ref      TEXT NOT NULL,
    agency_code        TEXT,
    channel            TEXT NOT NULL,
    template           TEXT NOT NULL,
    language           TEXT NOT NULL,
    context            TEXT NOT NULL,
    state              TEXT NOT NULL DEFAULT 'pending',
    attempts           INTEGER NOT NULL DEFAULT 0,
    possible_duplicate INTEGER NOT NULL DEFAULT 0,
    recorded           INTEGER NOT NULL DEFAULT 0,
    recipient_masked   TEXT,
    detail             TEXT,
    skip_reason        TEXT,
    created_at         TEXT NOT NULL,
    first_attempt_at   TEXT,
    last_attempt_at    TEXT,
    next_attempt_epoch REAL,
    completed_at       TEXT
);
CREATE INDEX IF NOT EXISTS outbox_open ON outbox (recorded, cause_position);
CREATE INDEX IF NOT EXISTS outbox_queue ON outbox
    (recorded, tracking_id, recipient_kind, recipient_ref, cause_position);
CREATE INDEX IF NOT EXISTS outbox_tracking ON outbox (tracking_id, cause_position);
"""


T = TypeVar("T")
_MARK_RECORDED = "UPDATE outbox SET recorded = 1 WHERE notification_id = ?"


class _Write(Generic[T]):
    """One caller's write waiting for a group commit."""

    __slots__ = ("done", "error", "result", "work")

    def __init__(self, work: Callable[[sqlite3.Connection], T]) -> None:
        self.work = work
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None


@dataclass(frozen=True)
class OutboxRow:
    notification_id: uuid.UUID
    tracking_id: str
    cause_event_id: uuid.UUID
    cause_event_type: str
    cause_position: int
    correlation_id: str
    recipient_kind: str
    recipient_ref: str
    agency_code: str | None
    channel: str
    template: str
    language: str
    context: dict[str, Any]
    state: str
    attempts: int
    possible_duplicate: bool
    recorded: bool
    recipient_masked: str | None
    detail: str | None
    skip_reason: str | None
    created_at: str
    first_attempt_at: str | None
    last_attempt_at: str | None
    next_attempt_epoch: float | None
    completed_at: str | None

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def sequence_key(self) -> tuple[str, str, str]:
        """Notices to one recipient about one report go out in the report's order."""
        return (self.tracking_id, self.recipient_kind, self.recipient_ref)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> OutboxRow:
        values = dict(row)
        values["notification_id"] = uuid.UUID(values["notification_id"])
        values["cause_event_id"] = uuid.UUID(values["cause_event_id"])
        values["context"] = json.loads(values["context"])
        values["possible_duplicate"] = bool(values["possible_duplicate"])
        values["recorded"] = bool(values["recorded"])
        return cls(**values)


class Outbox:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._conn.execute("PRAGMA journal_mode=WAL")
        # An attempt must be on disk before the message leaves: FULL, not NORMAL.
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(SCHEMA)
        self._waiting: list[_Write[Any]] = []
        self._waiting_lock = threading.Lock()
        self._trip: OneTrip[Callable[[sqlite3.Connection], Any], Any] = OneTrip(self._write_many)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _execute(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, tuple(params))

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in a transaction and return once it is committed (synchronous=FULL).

        Callers in other threads meanwhile queue their writes; whoever takes the connection next
        commits every write queued by then in one transaction, each in a savepoint of its own:
        a write that fails is undone alone and raises in its own caller, the others commit. A
        failed commit (a full disk) raises in every caller of the group."""
        mine: _Write[T] = _Write(work)
        self._commit_with_others([mine])
        if mine.error is not None:
            raise mine.error
        return mine.result  # type: ignore[return-value]

    def _write_many(
        self, works: Sequence[Callable[[sqlite3.Connection], Any]]
    ) -> list[Any | BaseException]:
        """`_write` for several callers at once (one trip to this thread): each work's result,
        or the error that undid it alone."""
        mine = [_Write(work) for work in works]
        self._commit_with_others(mine)
        return [w.error if w.error is not None else w.result for w in mine]

    def _commit_with_others(self, mine: list[_Write[Any]]) -> None:
        if not mine:
            return
        with self._waiting_lock:
            self._waiting.extend(mine)
        with self._lock:
            if not mine[-1].done:  # queued together, so taken together
                with self._waiting_lock:
                    group, self._waiting = self._waiting, []
                self._commit_group(group)

    async def write_soon(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`_write` from the event loop: the writes of callers meanwhile share one trip to a
        worker thread and one commit; returns once this one is committed."""
        result: T = await self._trip(work)
        return result

    def _commit_group(self, group: list[_Write[Any]]) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for write in group:
                    conn.execute("SAVEPOINT one_write")
                    try:
                        write.result = write.work(conn)
                    except Exception as error:
                        conn.execute("ROLLBACK TO one_write")
                        write.error = error
                    conn.execute("RELEASE one_write")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except BaseException as error:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            for write in group:
                if write.error is None:
                    write.error = error
        finally:
            for write in group:
                write.done = True

    def _update(self, sql: str, params: Sequence[object]) -> sqlite3.Cursor:
        values = tuple(params)
        return self._write(lambda conn: conn.execute(sql, values))

    def enqueue(self, notices: Iterable[Notice], now: str) -> int:
        """Plan notices; a notice already planned (same id) is left as it is. Returns how many
        are new."""
        return self._write(self._enqueue_work(notices, now))

    async def enqueue_soon(self, notices: Iterable[Notice], now: str) -> int:
        """`enqueue` from the event loop (sharing a trip and a commit with other writes)."""
        return await self.write_soon(self._enqueue_work(notices, now))

    @staticmethod
    def _enqueue_work(notices: Iterable[Notice], now: str) -> Callable[[sqlite3.Connection], int]:
        rows = [
            (
                str(n.notification_id),
                n.tracking_id,
                str(n.cause_event_id),
                n.cause_event_type,
                n.cause_position,
                n.correlation_id,
                n.recipient_kind,
                n.recipient_ref,
                n.agency_code,
                n.channel.value,
                n.template,
                n.language,
                json.dumps(n.context, sort_keys=True),
                now,
            )
            for n in notices
        ]

        def insert(conn: sqlite3.Connection) -> int:
            added = 0
            for row in rows:
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO outbox (notification_id, tracking_id,"
                    " cause_event_id, cause_event_type, cause_position, correlation_id,"
                    " recipient_kind, recipient_ref, agency_code, channel, template, language,"
                    " context, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                added += cursor.rowcount
            return added

        return insert

    def get(self, notification_id: uuid.UUID) -> OutboxRow | None:
        row = self._execute(
            "SELECT * FROM outbox WHERE notification_id = ?", (str(notification_id),)
        ).fetchone()
        return OutboxRow.from_row(row) if row else None

    def unrecorded(self, limit: int = 1000) -> list[OutboxRow]:
        rows = self._execute(
            "SELECT * FROM outbox WHERE recorded = 0 ORDER BY cause_position, notification_id"
            " LIMIT ?",
            (limit,),
        ).fetchall()
        return [OutboxRow.from_row(r) for r in rows]

    def heads(self, limit: int = 1000, skip: Container[str] = frozenset()) -> list[OutboxRow]:
        """The first unrecorded notice of each (report, recipient): what may go out next,
        leaving out the notification ids in `skip` (a run's notices under way: not decoded
        again each time a delivery ends).

        A recipient with a long queue behind a notice that waits out its backoff does not keep
        other recipients' notices out of the window."""
        rows = self._execute(
            "SELECT o.* FROM outbox o JOIN (SELECT tracking_id, recipient_kind, recipient_ref,"
            " MIN(cause_position) AS first FROM outbox WHERE recorded = 0"
            " GROUP BY tracking_id, recipient_kind, recipient_ref) h"
            " ON o.tracking_id = h.tracking_id AND o.recipient_kind = h.recipient_kind"
            " AND o.recipient_ref = h.recipient_ref AND o.cause_position = h.first"
            " WHERE o.recorded = 0 ORDER BY o.cause_position, o.notification_id LIMIT ?",
            (limit,),
        ).fetchall()
        return [OutboxRow.from_row(r) for r in rows if r["notification_id"] not in skip]

    def begin_attempt(self, notification_id: uuid.UUID, now: str) -> int:
        """Record that an attempt starts now (before the message leaves). Returns its number."""
        row = self._write(
            lambda conn: conn.execute(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1,"
                " first_attempt_at = COALESCE(first_attempt_at, ?), last_attempt_at = ?,"
                " next_attempt_epoch = NULL WHERE notification_id = ? RETURNING attempts",
                (now, now, str(notification_id)),
            ).fetchone()
        )
        return int(row[0])

    def attempt_failed(self, notification_id: uuid.UUID, detail: str, next_epoch: float) -> None:
        self._update(
            "UPDATE outbox SET state = 'retrying', detail = ?, next_attempt_epoch = ?"
            " WHERE notification_id = ?",
            (detail, next_epoch, str(notification_id)),
        )

    def mark_possible_duplicate(self, notification_id: uuid.UUID) -> None:
        self._update(
            "UPDATE outbox SET possible_duplicate = 1 WHERE notification_id = ?",
            (str(notification_id),),
        )

    def set_masked(self, notification_id: uuid.UUID, masked: str) -> None:
        self._update(
            "UPDATE outbox SET recipient_masked = ? WHERE notification_id = ?",
            (masked, str(notification_id)),
        )

    def finish(
        self,
        notification_id: uuid.UUID,
        state: str,
        now: str,
        *,
        detail: str | None = None,
        skip_reason: str | None = None,
    ) -> OutboxRow | None:
        """The notice's outcome; returns the finished row (None if it had finished before)."""
        return self._write(self._finish_work(notification_id, state, now, detail, skip_reason))

    async def finish_soon(
        self,
        notification_id: uuid.UUID,
        state: str,
        now: str,
        *,
        detail: str | None = None,
        skip_reason: str | None = None,
    ) -> OutboxRow | None:
        """`finish` from the event loop (sharing a trip and a commit with other writes)."""
        return await self.write_soon(
            self._finish_work(notification_id, state, now, detail, skip_reason)
        )

    @staticmethod
    def _finish_work(
        notification_id: uuid.UUID,
        state: str,
        now: str,
        detail: str | None,
        skip_reason: str | None,
    ) -> Callable[[sqlite3.Connection], OutboxRow | None]:
        assert state in FINAL_STATES
        values = (state, now, detail, skip_reason, str(notification_id))

        def finish(conn: sqlite3.Connection) -> OutboxRow | None:
            row = conn.execute(
                "UPDATE outbox SET state = ?, completed_at = ?, detail = ?, skip_reason = ?,"
                " next_attempt_epoch = NULL WHERE notification_id = ? AND state NOT IN"
                " ('sent', 'failed', 'skipped') RETURNING *",
                values,
            ).fetchone()
            return OutboxRow.from_row(row) if row is not None else None

        return finish

    def adopt(
        self,
        notification_id: uuid.UUID,
        state: str,
        attempts: int,
        completed_at: str,
        detail: str | None,
    ) -> None:
        """The event store already holds this notice's outcome: take it, send nothing."""
        self._update(
            "UPDATE outbox SET state = ?, attempts = MAX(attempts, ?), completed_at ="
            " COALESCE(completed_at, ?), detail = COALESCE(detail, ?), recorded = 1"
            " WHERE notification_id = ?",
            (state, attempts, completed_at, detail, str(notification_id)),
        )

    async def settle_soon(
        self,
        notification_id: uuid.UUID,
        state: str,
        now: str,
        *,
        detail: str | None = None,
        skip_reason: str | None = None,
    ) -> bool:
        """A notice that ended without an attempt, whose outcome event is in the store already:
        `finish` and `mark_recorded` in one write. False if it had finished before."""
        assert state in FINAL_STATES
        values = (state, now, detail, skip_reason, str(notification_id))

        def settle(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE outbox SET state = ?, completed_at = ?, detail = ?, skip_reason = ?,"
                " next_attempt_epoch = NULL, recorded = 1 WHERE notification_id = ? AND state"
                " NOT IN ('sent', 'failed', 'skipped')",
                values,
            )
            return cursor.rowcount > 0

        return await self.write_soon(settle)

    def mark_recorded(self, notification_id: uuid.UUID) -> None:
        self._update(_MARK_RECORDED, (str(notification_id),))

    async def mark_recorded_soon(self, notification_id: uuid.UUID) -> None:
        """`mark_recorded` from the event loop (sharing a trip and a commit with other writes)."""
        values = (str(notification_id),)
        await self.write_soon(lambda conn: conn.execute(_MARK_RECORDED, values))

    def rows_for(
        self, tracking_id: str | None = None, state: str | None = None, limit: int = 200
    ) -> list[OutboxRow]:
        where, params = where_equal(tracking_id=tracking_id, state=state)
        sql = "SELECT * FROM outbox" + where  # noqa: S608 (columns from code, values as parameters)
        sql += " ORDER BY cause_position, recipient_kind DESC, notification_id LIMIT ?"
        rows = self._execute(sql, [*params, limit]).fetchall()
        return [OutboxRow.from_row(r) for r in rows]

    def open_by_channel(self) -> dict[str, int]:
        rows = self._execute(
            "SELECT channel, COUNT(*) FROM outbox WHERE state IN ('pending', 'sending',"
            " 'retrying') GROUP BY channel"
        ).fetchall()
        return {r[0]: int(r[1]) for r in rows}
