"""The durable timer loop: act on every deadline that has passed, exactly once.

Nothing lives only in memory. Each tick (the periodic job "tick", every
``settings.sla_tick_seconds``, at ``clock.now()``):

1. reads from the view the deadlines whose action (breach or auto-close) is due and that the
   ticker has not finished with (``timer_done``);
2. for each of their reports, reads the report's stream and derives its deadlines again
   (``shared.reports.deadlines.derive``), so a view that lags the store never causes a wrong action;
3. runs every action that is due through ``ReportRepository.execute`` with the action's fixed
   idempotency key and ``retry_on_conflict=True``: a repeat (after a crash, by a second replica)
   finds its event already stored and appends nothing, and the domain records a breach only once
   per stage and report;
4. remembers the keys it finished with. A domain error (the report moved on) or a command that
   produced nothing means the timer is obsolete: it is marked done, never retried forever.

A crash between 3 and 4 only means the next tick runs the command again, which stores nothing.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from services.sla import metrics, views
from services.sla.config import Rules
from shared.clock import Clock
from shared.errors import DomainError
from shared.events.base import Actor
from shared.logs import get_logger
from shared.reports.deadlines import Action, derive
from shared.reports.facts import facts_of
from shared.reports.lifecycle import stream_name
from shared.runtime.bus import Periodic
from shared.runtime.projection import Projector, open_view_db
from shared.runtime.repository import Meta, ReportRepository, fixed_event_id
from shared.store.port import RecordedEvent, StoreError

log = get_logger(__name__)
T = TypeVar("T")

SYSTEM = Actor(kind="system", id="sla")
BATCH = 500


@dataclass
class TickResult:
    """What one tick did (for tests and logs)."""

    appended: list[str] = field(default_factory=list)  # action keys that stored an event
    finished: list[tuple[str, str]] = field(default_factory=list)  # (key, outcome)
    retry: list[str] = field(default_factory=list)  # keys left for a later tick


class Ticker:
    def __init__(
        self,
        projector: Projector,
        reports: ReportRepository,
        clock: Clock,
        rules: Rules,
        interval: float,
    ) -> None:
        self.projector = projector
        self.reports = reports
        self.clock = clock
        self.rules = rules
        self.interval = interval
        self._reader: sqlite3.Connection | None = None

    def job(self) -> Periodic:
        """The ticker as the runtime's periodic job "tick", every `interval` seconds (in process,
        a test runs it when it wants: `await lapor.run("sla", "tick")`)."""
        return Periodic("tick", lambda: self.interval, self.scheduled_tick)

    async def scheduled_tick(self) -> TickResult:
        """One tick at the clock's now; a failed tick is counted and logged, and the runtime's
        next run tries again."""
        try:
            return await self.tick()
        except Exception as error:  # counted here; the runtime goes on with the next run
            metrics.TICK_ERRORS.labels("tick").inc()
            log.error("sla_tick_failed", error_type=type(error).__name__, exc_info=error)
            raise

    async def tick(self, now: datetime | None = None) -> TickResult:
        now = now or self.clock.now()
        result = TickResult()
        rows = await asyncio.to_thread(self._read, views.due_action_rows, now, BATCH)
        by_report: dict[str, set[str]] = {}
        for row in rows:
            by_report.setdefault(row["tracking_id"], set()).add(row["action_key"])
        for tracking_id, keys in by_report.items():
            try:
                await self._act_on_report(tracking_id, keys, now, result)
            except Exception as error:  # one report must not hold up the others
                metrics.TICK_ERRORS.labels(type(error).__name__).inc()
                log.error(
                    "sla_action_failed",
                    tracking_id=tracking_id,
                    error_type=type(error).__name__,
                    exc_info=error,
                )
                result.retry.extend(sorted(keys))
        if result.finished:
            await asyncio.to_thread(self._mark, result.finished, now)
        await self._signal_due_soon(now)
        counts = await asyncio.to_thread(self._read, views.open_state_counts, now)
        for state, count in counts.items():
            metrics.DEADLINES.labels(state).set(count)
        metrics.TICKS.inc()
        return result

    # -- one report --
    async def _act_on_report(
        self, tracking_id: str, keys: set[str], now: datetime, result: TickResult
    ) -> None:
        try:
            events = await self.reports.store.read(stream_name(tracking_id))
        except StoreError as error:
            metrics.TICK_ERRORS.labels("store").inc()
            log.warning("sla_read_failed", tracking_id=tracking_id, error=str(error))
            result.retry.extend(keys)
            return
        derived = derive(tracking_id, facts_of(events), self.rules.calendar, self.rules.policy)
        planned = {a.key: a for a in derived.planned_actions()}
        for key in sorted(keys - planned.keys()):
            # The stream says this action is no longer needed (the view lagged behind it).
            result.finished.append((key, "obsolete"))
        for action in derived.due_actions(now):
            await self._run(action, events, result)
        for key in sorted(keys & planned.keys()):
            if key not in {k for k, _ in result.finished} and key not in result.retry:
                # Planned but not yet due by the stream (a view that lagged a change of region
                # or a pause): leave it, a later tick will see it due.
                result.retry.append(key)

    async def _run(
        self,
        action: Action,
        history: Sequence[RecordedEvent],
        result: TickResult,
    ) -> None:
        stream = stream_name(action.tracking_id)
        first_id = fixed_event_id(stream, action.key, 0)
        stored_before = any(e.event_id == first_id for e in history)
        meta = Meta(
            actor=SYSTEM,
            correlation_id=action.correlation_id,
            causation_id=action.causation_id,
            idempotency_key=action.key,
        )
        try:
            stored = await self.reports.execute(
                action.tracking_id, action.command(), meta, retry_on_conflict=True
            )
        except DomainError as error:
            log.info(
                "sla_timer_obsolete",
                tracking_id=action.tracking_id,
                key=action.key,
                error=str(error),
            )
            result.finished.append((action.key, f"obsolete: {error}"))
            return
        except StoreError as error:  # a conflict after all retries, or the store is down
            metrics.TICK_ERRORS.labels(type(error).__name__).inc()
            log.warning(
                "sla_action_deferred",
                tracking_id=action.tracking_id,
                key=action.key,
                error=str(error),
            )
            result.retry.append(action.key)
            return
        if not stored:
            result.finished.append((action.key, "nothing to do"))
            return
        result.finished.append((action.key, "done"))
        if stored_before or stored[0].event_id != first_id:
            return
        # Stored now (or by a replica racing this one): the metrics count the event when the
        # view applies it, so each stored event is counted exactly once.
        result.appended.append(action.key)
        log.info(
            "sla_breached" if action.kind == "breach" else "sla_auto_closed",
            tracking_id=action.tracking_id,
            stage=action.stage.value,
            due=action.due.isoformat(),
            agency_code=action.agency_code,
        )

    # -- due soon: a signal once per deadline --
    async def _signal_due_soon(self, now: datetime) -> None:
        rows = await asyncio.to_thread(self._read, views.newly_due_soon_rows, now, BATCH)
        if not rows:
            return
        marks: list[tuple[str, str]] = []
        for row in rows:
            metrics.DUE_SOON.labels(row["stage"]).inc()
            log.info(
                "sla_due_soon", tracking_id=row["tracking_id"], stage=row["stage"], due=row["due"]
            )
            marks.append((f"sla:duesoon:{row['key']}:{row['due']}", "signalled"))
        await asyncio.to_thread(self._mark, marks, now)

    # -- the view --
    def _read(self, query: Callable[..., T], *args: object) -> T:
        """Run a read query on the ticker's own read-only connection (never concurrently)."""
        if self._reader is None:
            self._reader = open_view_db(self.projector.path)
            self._reader.execute("PRAGMA query_only=ON")
        return query(self._reader, *args)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _mark(self, keys: Sequence[tuple[str, str]], now: datetime) -> None:
        with self.projector.transaction() as conn:
            views.mark_done(conn, keys, now)
