"""`lapor store migrate`: SQLite → KurrentDB (and back), interrupted and resumed, verified."""

from __future__ import annotations

import asyncio
import functools
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from rich.console import Console

from cli.audit import audit_store
from cli.store_migrate import migrate, run_migration
from services.relay.relay import Checkpoint
from shared.store import kurrentdb
from shared.store.kurrentdb import KurrentDbEventStore
from shared.store.port import ANY, NO_STREAM, NewEvent, RecordedEvent
from shared.store.sqlite import SqliteEventStore
from tests.contract.store_contract import amended, batch
from tests.kurrentdb_double import KurrentDbDouble
from tests.support import ROOT

pytestmark = pytest.mark.asyncio

BIG = 100_000
PER_REPORT = 10
DIRECTORY_EVERY = 20  # one directory event after every 20 reports: runs of different lengths


def events(n: int, text: str = "e") -> list[NewEvent]:
    """Fresh events, cheaply: copies of one valid event with new ids."""
    template = amended(text)
    return [template.model_copy(update={"event_id": uuid.uuid4()}) for _ in range(n)]


async def fill(path: Path, reports: int, *, interleave: bool = False) -> int:
    """A store of `reports` streams of PER_REPORT events each, plus a shared stream written
    in between; returns how many events it holds. Appends run concurrently so the SQLite
    writer commits them in groups."""
    store = SqliteEventStore(path)
    total = 0
    try:
        pending: list[asyncio.Future[list[RecordedEvent]]] = []
        for i in range(reports):
            if interleave:  # two halves per report, far apart in the global order
                pending.append(
                    asyncio.ensure_future(
                        store.append(f"report-{i:05d}", events(5, "a"), NO_STREAM)
                    )
                )
            else:
                pending.append(
                    asyncio.ensure_future(
                        store.append(f"report-{i:05d}", events(PER_REPORT), NO_STREAM)
                    )
                )
            if i % DIRECTORY_EVERY == DIRECTORY_EVERY - 1:
                pending.append(asyncio.ensure_future(store.append("directory", [amended()], ANY)))
            if len(pending) >= 256:
                total += sum(len(r) for r in await asyncio.gather(*pending))
                pending = []
        total += sum(len(r) for r in await asyncio.gather(*pending))
        if interleave:
            total += sum(
                len(r)
                for r in await asyncio.gather(
                    *(store.append(f"report-{i:05d}", events(5, "b"), 5) for i in range(reports))
                )
            )
    finally:
        await store.close()
    return total


@pytest.fixture
def double_process() -> Iterator[str]:
    """The double in a process of its own: 100,000 events through gRPC in both directions are
    twice as fast when the test and the double do not share one interpreter lock."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.kurrentdb_double"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    url = process.stdout.readline().strip()  # printed once it accepts calls
    assert url.startswith("kurrentdb://"), url
    try:
        yield url
    finally:
        process.stdin.close()
        process.wait(30)


async def test_a_store_of_100000_events_is_copied_halfway_resumed_and_verified(
    tmp_path: Path, double_process: str
) -> None:
    source = tmp_path / "events.db"
    reports = (BIG * DIRECTORY_EVERY) // (PER_REPORT * DIRECTORY_EVERY + 1)
    started = time.perf_counter()
    total = await fill(source, reports)
    total += await fill_to(source, BIG - total)
    generated = time.perf_counter()
    assert total == BIG

    seen: list[tuple[str, int, int]] = []
    first = await migrate(
        f"sqlite:///{source}", double_process, lambda *p: seen.append(p), stop_after=BIG // 2
    )
    assert not first.complete and BIG // 2 <= first.copied < BIG // 2 + PER_REPORT + 1
    interrupted = time.perf_counter()

    second = await migrate(f"sqlite:///{source}", double_process, lambda *p: seen.append(p))
    finished = time.perf_counter()
    assert second.problems == []
    assert second.ok, second.summary()
    assert second.resumed_after > 0
    assert first.copied + second.copied == BIG, "an event was copied twice or not at all"
    assert second.source_events == second.target_events == BIG
    assert {phase for phase, _, _ in seen} == {"copy", "verify"}
    assert seen[-1][1] == seen[-1][2]  # the verify bar reached the end
    print(
        f"\n100k migration: generate {generated - started:.1f}s, first half"
        f" {interrupted - generated:.1f}s, rest + verify {finished - interrupted:.1f}s"
    )


async def fill_to(path: Path, missing: int) -> int:
    """Top the store up to an exact count with single events on the shared stream."""
    if missing <= 0:
        return 0
    store = SqliteEventStore(path)
    try:
        await store.append("directory", batch(missing, "top"), ANY)
    finally:
        await store.close()
    return missing


# --- a small store, every path -------------------------------------------------------------
@pytest.fixture
async def small_source(tmp_path: Path) -> AsyncIterator[tuple[str, int]]:
    path = tmp_path / "small.db"
    total = await fill(path, 60, interleave=True)
    yield f"sqlite:///{path}", total


async def test_a_finished_migration_run_again_copies_nothing_and_the_copy_audits_clean(
    small_source: tuple[str, int], double: KurrentDbDouble
) -> None:
    url, total = small_source
    done = await migrate(url, double.url, batch=50)
    assert done.ok and done.copied == total
    again = await migrate(url, double.url, batch=50)
    assert again.ok and again.copied == 0 and again.target_events == total
    target = KurrentDbEventStore(double.url)
    try:
        audit = await audit_store(target)
        assert audit.problems == [] and audit.events == total
    finally:
        await target.close()


async def test_a_migration_killed_mid_copy_resumes_where_it_stopped(
    small_source: tuple[str, int], double: KurrentDbDouble
) -> None:
    url, total = small_source

    class Killed(Exception):
        pass

    def kill_at_300(phase: str, done: int, _total: int) -> None:
        if phase == "copy" and done >= 300:
            raise Killed

    with pytest.raises(Killed):
        await migrate(url, double.url, kill_at_300, batch=64)
    resumed = await migrate(url, double.url, batch=64)
    assert resumed.ok, resumed.problems
    assert 0 < resumed.copied < total and resumed.target_events == total


async def test_back_from_kurrentdb_into_sqlite_through_the_port(
    small_source: tuple[str, int], double: KurrentDbDouble, tmp_path: Path
) -> None:
    url, total = small_source
    assert (await migrate(url, double.url)).ok
    back = await migrate(double.url, f"sqlite:///{tmp_path / 'back.db'}")
    assert back.ok, back.problems
    assert back.copied == total


async def test_a_target_that_is_not_a_copy_of_the_source_is_refused(
    small_source: tuple[str, int], double: KurrentDbDouble
) -> None:
    url, _ = small_source
    squatter = KurrentDbEventStore(double.url)
    try:
        await squatter.append("report-00003", batch(1, "someone else"), NO_STREAM)
    finally:
        await squatter.close()
    report = await migrate(url, double.url)
    assert not report.ok
    assert any("report-00003" in p and "not a copy" in p for p in report.problems)


async def test_the_command_shows_progress_and_says_what_to_do_next(
    small_source: tuple[str, int],
    double: KurrentDbDouble,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, total = small_source
    console = Console(stderr=True, force_terminal=False)
    code = await asyncio.to_thread(run_migration, url, double.url, console)
    out = capsys.readouterr().out
    assert code == 0
    assert f"migration verified: {total} event(s) in the source, {total} in the target" in out
    assert "--relay-checkpoint" in out


async def test_the_relay_checkpoint_moves_to_the_same_event_in_the_new_store(
    small_source: tuple[str, int], double: KurrentDbDouble, tmp_path: Path
) -> None:
    url, _ = small_source
    source = SqliteEventStore(Path(url.removeprefix("sqlite:///")))
    try:
        published = (await source.read_all(0, 100))[-1]  # the relay got this far
        following = (await source.read_all(published.position, 1))[0]
    finally:
        await source.close()
    checkpoint = Checkpoint(tmp_path / "relay.db")
    checkpoint.save(published.position)
    checkpoint.close()
    console = Console(stderr=True, force_terminal=False)
    code = await asyncio.to_thread(
        run_migration, url, double.url, console, 2000, tmp_path / "relay.db"
    )
    assert code == 0
    target = KurrentDbEventStore(double.url)
    checkpoint = Checkpoint(tmp_path / "relay.db")
    try:
        moved = checkpoint.load()
        [copy] = [
            e for e in await target.read(published.stream) if e.event_id == published.event_id
        ]
        assert moved == copy.position != published.position
        # so the relay resumes with exactly the events after it
        assert (await target.read_all(moved, 1))[0].event_id == following.event_id
    finally:
        checkpoint.close()
        await target.close()


async def test_an_unreachable_target_stops_the_command_with_a_clear_message(
    small_source: tuple[str, int],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, _ = small_source
    with KurrentDbDouble() as double:
        gone = double.url  # nobody listens there any more
    impatient = functools.partial(kurrentdb.KurrentDbEventStore, retry_for=0.3, timeout=1)
    monkeypatch.setattr(kurrentdb, "KurrentDbEventStore", impatient)
    console = Console(stderr=True, force_terminal=False)
    code = await asyncio.to_thread(run_migration, url, gone, console)
    assert code == 2
    assert "StoreUnavailable" in capsys.readouterr().err


async def test_a_source_store_that_does_not_exist_stops_the_command_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo in --from (`events.dbb`) made an empty SQLite store there, copied its nothing and
    said "migration verified: 0 event(s)": an operator could switch LAPOR to an empty store."""
    missing = tmp_path / "data" / "events.dbb"
    console = Console(stderr=True, force_terminal=False)
    code = await asyncio.to_thread(
        run_migration, f"sqlite:///{missing}", f"sqlite:///{tmp_path / 'new.db'}", console
    )
    captured = capsys.readouterr()
    assert code == 2
    assert "StoreUnavailable" in captured.err and str(missing) in captured.err
    assert "migration verified" not in captured.out
    assert not missing.exists()
