"""Read models: each service's own SQLite views, kept with their checkpoint in one transaction.

A projector applies events in global order. Every delivery is treated as at-least-once: an event
at or below the checkpoint is skipped. `rebuild` drops the views and replays the whole store.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from shared.store.port import EventStore, RecordedEvent

Apply = Callable[[sqlite3.Connection, RecordedEvent], None]


class BatchEnd(Protocol):
    """A view that keeps what a transaction's events changed in memory and writes it once at
    the transaction's end (a report with several events in one delivery or rebuild page is
    written once, not at each event). Live delivery and rebuild both end each transaction so,
    so the rows are the same whichever way the events came in."""

    def finish(self, conn: sqlite3.Connection) -> None:
        """Write what this transaction's events changed (called before the checkpoint moves)."""

    def discard(self) -> None:
        """The transaction was rolled back: forget what its events changed."""


class BatchedView(BatchEnd, Protocol):
    """A view object that applies each event and ends each transaction (`BatchEnd`)."""

    def apply(self, conn: sqlite3.Connection, event: RecordedEvent) -> None:
        """Fold one event into what this transaction changed."""


# The views' page cache while rebuilding (KiB; the connection's own size is restored after).
REBUILD_CACHE_KIB = 128 * 1024
# The cyclic garbage collector's thresholds while rebuilding (restored after): a replay allocates
# millions of short-lived objects and frees nearly all of them by reference counting, so each
# of CPython's default 700-allocation rounds finds almost nothing and costs a third of the time.
REBUILD_GC_THRESHOLDS = (20_000, 50, 100)

_CHECKPOINT_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoint (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (
    position INTEGER PRIMARY KEY, event_id TEXT NOT NULL, event_type TEXT NOT NULL,
    stream TEXT NOT NULL, error TEXT NOT NULL, recorded_at TEXT NOT NULL DEFAULT (datetime('now'))
);
"""


# SQLite's words for "the disk, not the data": full, read-only, failing, locked, out of memory.
_DISK_TROUBLE = (
    "SQLITE_FULL",
    "SQLITE_READONLY",
    "SQLITE_IOERR",
    "SQLITE_CANTOPEN",
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_NOMEM",
)


def disk_trouble(error: BaseException) -> bool:
    """A SQLite error that says nothing about the event or request at hand: it passes when the
    disk has room again, is writable again, or the lock is released. Worth waiting out (NACK and
    redeliver, or 503 and retry), never a reason to dead-letter an event."""
    if not isinstance(error, sqlite3.OperationalError):
        return False
    name = str(getattr(error, "sqlite_errorname", ""))
    return name.startswith(_DISK_TROUBLE)


def open_view_db(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
        )
    else:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
    # Views can be rebuilt from the store, so NORMAL durability is enough here.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.row_factory = sqlite3.Row
    return conn


_rebuilds = 0  # rebuilds running in this process


def rebuilding() -> bool:
    """Whether a view of this process is being rebuilt (a view may keep more in memory then)."""
    return _rebuilds > 0


# Reports a view keeps in memory between events (sla's and verification's kept derivations, ≈ 10
# kB each): live, the reports touched in the last minutes (4,096 kept sla at 132 MB resident
# after `bench/memory.py`'s load, over the 120 MB it may hold idle); while rebuilding, a wider
# window (a replay meets each report's events close together: 1,024 instead of 4,096 cost a
# third of sla's rebuild speed).
KEPT_REPORTS = 1024
KEPT_REPORTS_REBUILDING = 4096


def trim_kept(kept: OrderedDict[str, Any]) -> None:
    """Forget the reports used least recently beyond what a view may keep now."""
    limit = KEPT_REPORTS_REBUILDING if rebuilding() else KEPT_REPORTS
    while len(kept) > limit:
        kept.popitem(last=False)


def give_back_memory() -> None:
    """Return the heap a replay freed to the OS (glibc keeps freed blocks for reuse: a service
    that rebuilt 100,000 events at start held 365 MB, 288 MB after this). A no-op elsewhere."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class Projector:
    """Applies events to one service's views. Writes happen on one thread; reads anywhere.

    `version` (PRAGMA user_version of the view file): raise it when the schema changes. A file
    of an older version is dropped when the projector opens it (`stale` is then True) and the
    service rebuilds it from the store before it starts (`shared.runtime.service`)."""

    def __init__(
        self,
        path: Path,
        name: str,
        schema: str,
        view: Apply | BatchedView,
        drop: Sequence[str] = (),
        version: int = 0,
        deferred_indexes: Sequence[str] = (),
    ) -> None:
        """`view` is either a function applying one event, or a `BatchedView` that also
        writes what a transaction changed once, at its end. `deferred_indexes`: indexes of
        `schema` the view's `apply` never reads through (only its queries do): a rebuild drops
        them and creates them again from `schema` at its end, one sort each, instead of updating
        every one of them at every row it writes."""
        self.path = path
        self.name = name
        self.schema = schema
        self._drop = drop
        self._deferred = tuple(deferred_indexes)
        self._apply: Apply
        self._batch_end: BatchEnd | None
        if callable(view):
            self._apply, self._batch_end = view, None
        else:
            self._apply, self._batch_end = view.apply, view
        self._lock = threading.Lock()
        self.conn = open_view_db(path)
        self.conn.executescript(_CHECKPOINT_SCHEMA)
        self.stale = False
        if version:
            found = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
            if found < version and self.checkpoint() > 0:
                for table in drop:
                    self.conn.execute(f"DROP TABLE IF EXISTS {table}")
                self.conn.execute("DELETE FROM checkpoint WHERE name = ?", (name,))
                self.stale = True
            self.conn.execute(f"PRAGMA user_version = {int(version)}")
        self.conn.executescript(schema)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def checkpoint(self) -> int:
        row = self.conn.execute(
            "SELECT position FROM checkpoint WHERE name = ?", (self.name,)
        ).fetchone()
        return int(row[0]) if row else 0

    def _set_checkpoint(self, conn: sqlite3.Connection, position: int) -> None:
        conn.execute(
            "INSERT INTO checkpoint (name, position) VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET position = excluded.position"
            " WHERE excluded.position > checkpoint.position",
            (self.name, position),
        )

    def apply_batch(self, events: Sequence[RecordedEvent]) -> int:
        """Apply the events above the checkpoint in one transaction; returns how many."""
        applied = 0
        with self.transaction() as conn:
            try:
                done = self.checkpoint()
                for event in events:
                    if event.position <= done:
                        continue
                    self._apply(conn, event)
                    done = event.position
                    applied += 1
                if self._batch_end is not None:
                    self._batch_end.finish(conn)
                if applied:
                    self._set_checkpoint(conn, done)
            except BaseException:
                # Under the lock, before the next transaction can begin. (A COMMIT that fails
                # after `finish` leaves nothing pending: the views check what they keep against
                # the stored rows before using it.)
                if self._batch_end is not None:
                    self._batch_end.discard()
                raise
        return applied

    def record_dead_letter(self, event: RecordedEvent, error: str, *, advance: bool = True) -> None:
        """Give up on one event: remember why and (`advance`) move the checkpoint past it."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO dead_letters"
                " (position, event_id, event_type, stream, error) VALUES (?, ?, ?, ?, ?)",
                (event.position, str(event.event_id), event.event_type, event.stream, error[:2000]),
            )
            if advance:
                self._set_checkpoint(conn, event.position)

    def reset(self) -> None:
        with self.transaction() as conn:
            for table in self._drop:
                conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute("DELETE FROM checkpoint WHERE name = ?", (self.name,))
            conn.execute("DELETE FROM dead_letters")
        self.conn.executescript(self.schema)

    async def rebuild(
        self,
        store: EventStore,
        progress: Callable[[int, int], None] | None = None,
        batch: int = 10_000,
    ) -> int:
        """Drop the views and replay every event in the store. Returns the events replayed.

        The next page is read from the store while the current one is applied, and the views'
        page cache is enlarged meanwhile (a million reports' indexes do not fit SQLite's 2 MB
        default, and every miss is a read from the file); the garbage collector runs less often
        meanwhile and leaves what the process held before alone. Each page is one transaction:
        views that write a report once per transaction (`BatchEnd`) write it once per page
        (10,000 events: sla 109 → 94 µs of CPU per event against pages of 5,000, for ≈ 50 MB
        more at the peak; 20,000: 91 µs, ≈ 150 MB more). The view's deferred indexes are
        created once the replay is done (`deferred_indexes`)."""
        self.reset()
        for index in self._deferred:  # made again below, once the tables are full
            self.conn.execute(f"DROP INDEX IF EXISTS {index}")
        total = await store.last_position()
        count = 0
        cache_size = self.conn.execute("PRAGMA cache_size").fetchone()[0]
        self.conn.execute(f"PRAGMA cache_size = {-REBUILD_CACHE_KIB}")
        # What the process holds before the replay (modules, schemas, the calendar, the regions)
        # lives on: the collector stops walking it at every round while the replay runs.
        thresholds = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(*REBUILD_GC_THRESHOLDS)
        global _rebuilds
        _rebuilds += 1
        replayed = False
        try:
            events = await store.read_all(0, batch)
            while events:
                position = events[-1].position
                ahead = asyncio.ensure_future(store.read_all(position, batch))
                try:
                    await asyncio.to_thread(self.apply_batch, events)
                except BaseException:
                    ahead.cancel()
                    raise
                count += len(events)
                if progress:
                    progress(position, total)
                events = await ahead
            replayed = True
        finally:
            _rebuilds -= 1
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            with self._lock:  # after an apply still running (if cancelled) has finished
                # The indexes dropped above (after a failed replay too, unless that fails as
                # well: the replay's own error is the one raised).
                with contextlib.suppress(*(() if replayed else (sqlite3.Error,))):
                    if self._deferred:
                        self.conn.executescript(self.schema)
                self.conn.execute(f"PRAGMA cache_size = {int(cache_size)}")
            gc.collect()
            give_back_memory()
        return count

    def close(self) -> None:
        self.conn.close()


class ViewReader:
    """Read-only queries on a service's views, off the event loop, one connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_view_db(self.path)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
        return conn

    def fetchall_sync(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        return self._conn().execute(sql, tuple(params)).fetchall()

    async def fetchall(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        return await asyncio.to_thread(self.fetchall_sync, sql, params)

    async def fetchone(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None
