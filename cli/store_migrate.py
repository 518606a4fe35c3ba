"""`lapor store migrate --from URL --to URL`: copy a whole event store into another one.

The copy keeps the global order (events are appended one stream-run at a time in the source's
global order), every event id, every stream version and every hash chain. Into KurrentDB the
events are written as they are stored (hash fields copied, each run appended with the exact
expected revision); into any other store through the port's `append`, which computes the same
chain again from the same events.

Safe to re-run after an interruption: it resumes after the last event the target holds (when
that event is the source's), and anything appended twice is recognised by its ids. It ends with
a verification pass over both stores in global order: the same events, ids, streams, versions
and hashes in the same order, every target hash recomputed from its content and every chain link
checked.

Positions are not preserved (a KurrentDB commit position is a log offset): after switching the
relay to the new store, set its checkpoint to the target's last position (see docs/kurrentdb.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from shared.store import open_store
from shared.store.chain import GENESIS, event_hash
from shared.store.port import (
    EventStore,
    NewEvent,
    RecordedEvent,
    StoreError,
    WrongExpectedVersion,
)

ProgressCallback = Callable[[str, int, int], None]
"""progress(phase, done, total): phase is "copy" or "verify"; done/total are source positions."""

MAX_PROBLEMS = 50


@runtime_checkable
class Importer(Protocol):
    """A store that can take events recorded elsewhere as they are (KurrentDbEventStore)."""

    async def import_recorded(self, stream: str, events: Sequence[RecordedEvent]) -> int: ...


@dataclass
class MigrationReport:
    source_events: int = 0
    copied: int = 0
    resumed_after: int = 0
    verified: bool = False
    target_events: int = 0
    target_last_position: int = 0
    problems: list[str] = field(default_factory=list)
    complete: bool = False

    @property
    def ok(self) -> bool:
        return self.complete and self.verified and not self.problems

    def summary(self) -> str:
        if not self.complete and self.problems:
            return f"migration FAILED after copying {self.copied} event(s)"
        if not self.complete:
            return f"migration stopped early: {self.copied} event(s) copied; run it again"
        state = "verified" if self.ok else f"FAILED verification ({len(self.problems)} problem(s))"
        resumed = f", resumed after source position {self.resumed_after}" * bool(self.resumed_after)
        return (
            f"migration {state}: {self.source_events} event(s) in the source,"
            f" {self.target_events} in the target, {self.copied} copied this run{resumed};"
            f" target's last position is {self.target_last_position}"
        )


def _as_new(event: RecordedEvent) -> NewEvent:
    return NewEvent(
        event_id=event.event_id,
        event_type=event.event_type,
        schema_version=event.schema_version,
        occurred_at=event.occurred_at,
        correlation_id=event.correlation_id,
        causation_id=event.causation_id,
        actor=event.actor,
        region_code=event.region_code,
        agency_code=event.agency_code,
        data=event.data,
    )


def _runs(events: list[RecordedEvent]) -> list[list[RecordedEvent]]:
    """Consecutive events of the same stream, in order."""
    runs: list[list[RecordedEvent]] = []
    for event in events:
        if runs and runs[-1][-1].stream == event.stream:
            runs[-1].append(event)
        else:
            runs.append([event])
    return runs


async def _copy_run(target: EventStore, run: list[RecordedEvent]) -> None:
    if isinstance(target, Importer):
        await target.import_recorded(run[0].stream, run)
        return
    stored = await target.append(
        run[0].stream, [_as_new(e) for e in run], expected_version=run[0].stream_version - 1
    )
    if [(e.event_id, e.hash) for e in stored] != [(e.event_id, e.hash) for e in run]:
        raise RuntimeError(f"{run[0].stream}: the target computed a different hash chain")


async def _resume_position(source: EventStore, target: EventStore) -> int:
    """The source position of the last event the target holds, if the target is a copy in
    progress of this source; 0 to copy from the start (ids make the repeats no-ops)."""
    last = await target.last_position()
    if last <= 0:
        return 0
    tail = await target.read_all(last - 1, 1)
    if not tail:
        return 0
    mine = [e for e in await source.read(tail[0].stream) if e.event_id == tail[0].event_id]
    return mine[0].position if mine else 0


async def _events(store: EventStore, batch: int) -> AsyncGenerator[RecordedEvent, None]:
    """Every event in global order, the next page read while this one is looked at."""
    pending = asyncio.ensure_future(store.read_all(0, batch))
    try:
        while page := await pending:
            pending = asyncio.ensure_future(store.read_all(page[-1].position, batch))
            for event in page:
                yield event
    finally:
        pending.cancel()
        with contextlib.suppress(BaseException):
            await pending


async def _verify(
    source: EventStore,
    target: EventStore,
    report: MigrationReport,
    progress: ProgressCallback,
    batch: int,
    total: int,
) -> None:
    def problem(text: str) -> None:
        if len(report.problems) < MAX_PROBLEMS:
            report.problems.append(text)
        elif len(report.problems) == MAX_PROBLEMS:
            report.problems.append("… more problems not listed")

    heads: dict[str, tuple[int, str]] = {}
    sources = _events(source, batch)
    targets = _events(target, batch)
    count = extra_source = extra_target = 0
    try:
        while True:
            mine = await anext(sources, None)
            theirs = await anext(targets, None)
            if mine is None or theirs is None:
                extra_source = (mine is not None) + sum([1 async for _ in sources])
                extra_target = (theirs is not None) + sum([1 async for _ in targets])
                break
            count += 1
            if count % batch == 0:
                progress("verify", mine.position, total)
            copied = (theirs.event_id, theirs.stream, theirs.stream_version)
            if (mine.event_id, mine.stream, mine.stream_version) != copied:
                problem(
                    f"event #{count}: source has {mine.stream} v{mine.stream_version}"
                    f" ({mine.event_id}), target has {theirs.stream} v{theirs.stream_version}"
                    f" ({theirs.event_id})"
                )
                continue
            if (mine.prev_hash, mine.hash) != (theirs.prev_hash, theirs.hash):
                problem(f"{theirs.stream} v{theirs.stream_version}: hash differs from the source")
            if _recomputed_hash(theirs) != theirs.hash:
                problem(f"{theirs.stream} v{theirs.stream_version}: content does not match hash")
            version, previous = heads.get(theirs.stream, (0, GENESIS))
            if (theirs.stream_version, theirs.prev_hash) != (version + 1, previous):
                problem(f"{theirs.stream} v{theirs.stream_version}: chain link broken")
            heads[theirs.stream] = (theirs.stream_version, theirs.hash)
    finally:
        await sources.aclose()
        await targets.aclose()
    progress("verify", total, total)
    if extra_source:
        problem(f"the target lacks {extra_source} event(s) the source has after event #{count}")
    if extra_target:
        problem(f"the target holds {extra_target} event(s) the source does not, after #{count}")
    report.source_events = count + extra_source
    report.target_events = count + extra_target
    report.verified = True


def _recomputed_hash(event: RecordedEvent) -> str:
    return event_hash(
        prev_hash=event.prev_hash,
        event_id=str(event.event_id),
        event_type=event.event_type,
        schema_version=event.schema_version,
        stream=event.stream,
        stream_version=event.stream_version,
        occurred_at=event.occurred_at.isoformat(),
        correlation_id=event.correlation_id,
        causation_id=event.causation_id,
        actor=event.actor.model_dump(mode="json"),
        region_code=event.region_code,
        agency_code=event.agency_code,
        data=event.data,
    )


async def migrate(
    from_url: str,
    to_url: str,
    progress: ProgressCallback | None = None,
    *,
    batch: int = 2000,
    stop_after: int | None = None,
) -> MigrationReport:
    """Copy every event of `from_url` into `to_url`, then verify the copy.

    `stop_after` stops the copy after about that many events (no verification): what an
    interruption does, for tests and for migrating in slices.
    """
    report_progress = progress or (lambda phase, done, total: None)
    source = open_store(from_url, create=False)  # the source must exist as it is
    try:
        target = open_store(to_url)
    except BaseException:
        await source.close()
        raise
    report = MigrationReport()
    try:
        total = await source.last_position()
        position = report.resumed_after = await _resume_position(source, target)
        report_progress("copy", position, total)
        next_page: asyncio.Future[list[RecordedEvent]] = asyncio.ensure_future(
            source.read_all(position, batch)
        )
        try:
            while page := await next_page:
                # Read the next page while this one is written.
                next_page = asyncio.ensure_future(source.read_all(page[-1].position, batch))
                for run in _runs(page):
                    try:
                        await _copy_run(target, run)
                    except WrongExpectedVersion as error:
                        report.problems.append(
                            f"{run[0].stream}: the target holds other events at"
                            f" v{run[0].stream_version} ({error}); it is not a copy of the source"
                        )
                        return report
                    report.copied += len(run)
                    position = run[-1].position
                    report_progress("copy", position, total)
                    if stop_after is not None and report.copied >= stop_after:
                        return report
        finally:
            next_page.cancel()
            with contextlib.suppress(BaseException):
                await next_page
        report.complete = True
        await _verify(source, target, report, report_progress, batch, total)
        report.target_last_position = await target.last_position()
        return report
    finally:
        await source.close()
        await target.close()


async def translate_position(source: EventStore, target: EventStore, position: int) -> int:
    """Where the source's event at `position` sits in the target (positions are not kept)."""
    if position <= 0:
        return 0
    found = await source.read_all(position - 1, 1)
    if not found or found[0].position != position:
        raise ValueError(f"the source has no event at position {position}")
    event = found[0]
    copies = [e for e in await target.read(event.stream) if e.event_id == event.event_id]
    if not copies:
        raise ValueError(f"{event.stream} v{event.stream_version} is not in the target yet")
    return copies[0].position


async def move_relay_checkpoint(path: Path, from_url: str, to_url: str) -> tuple[int, int]:
    """Point the relay's checkpoint (its `relay.db`) at the same event in the new store, so it
    publishes exactly what it had not published yet. Returns (old, new) position."""
    from services.relay.relay import Checkpoint

    source, target = open_store(from_url, create=False), open_store(to_url)
    checkpoint = Checkpoint(path)
    try:
        old = checkpoint.load()
        new = await translate_position(source, target, old)
        checkpoint.save(new)
        return old, new
    finally:
        checkpoint.close()
        await source.close()
        await target.close()


def run_migration(
    from_url: str,
    to_url: str,
    console: Console,
    batch: int = 2000,
    relay_checkpoint: Path | None = None,
) -> int:
    """What `lapor store migrate` runs: a progress bar per phase, the outcome, an exit code.
    With `relay_checkpoint` (the relay's relay.db), a verified copy also moves the relay's
    checkpoint to the new store's positions."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total or 1)
            bar.update(tasks[phase], completed=done, total=total or 1)

        try:
            report = asyncio.run(migrate(from_url, to_url, progress, batch=batch))
        except (StoreError, ValueError) as error:
            console.print(f"migration stopped: {type(error).__name__}: {error}")
            return 2
    for problem in report.problems:
        print(f"MISMATCH: {problem}")
    print(report.summary())
    if not report.ok:
        return 1
    if relay_checkpoint is not None and relay_checkpoint.exists():
        old, new = asyncio.run(move_relay_checkpoint(relay_checkpoint, from_url, to_url))
        print(f"relay checkpoint {relay_checkpoint}: position {old} in the old store is {new} now")
    else:
        print(
            "Positions differ between the stores: before the relay runs on the new one, move its"
            " checkpoint with --relay-checkpoint PATH/relay.db (see docs/kurrentdb.md)."
        )
    return 0
