"""The SQLite event store under SIGKILL, a full disk and a read-only data directory.

- A child process appends from many tasks at once, so the writer thread commits group after
  group; it is SIGKILLed at random moments, again and again, and restarted on the same file.
  Every append it reported as acknowledged is stored exactly once, no append is half-stored, the
  versions of each stream run without a gap, every hash chain verifies and no global position is
  missing (the `lapor audit verify` functions).
- On a full disk the store refuses with StoreUnavailable naming the cause, acknowledges nothing
  it did not store, keeps what it did, and works again once there is space.
- On a read-only data directory the store refuses appends with StoreUnavailable naming the cause
  (reads still work), and a store that cannot be opened there says so with its path.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sqlite3
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.audit import audit_sqlite_positions, audit_store
from shared.events.base import Actor
from shared.reports.events import ReportAmended
from shared.store.port import NewEvent, StoreError, StoreUnavailable
from shared.store.sqlite import SqliteEventStore
from tests.faults.disk import can_chattr, can_mount, frozen, small_disk, unwritable
from tests.support import ROOT, wait_for

ROUNDS = 6
TASKS = 32


def acknowledged(path: Path) -> list[tuple[str, int, list[str]]]:
    if not path.exists():
        return []
    lines = []
    for line in path.read_text().splitlines():
        stream, first, ids = line.split(" ")
        lines.append((stream, int(first), ids.split(",")))
    return lines


def child(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.store_child", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def audit(path: Path) -> list[str]:
    async def go() -> list[str]:
        store = SqliteEventStore(path, create_schema=False)
        try:
            return (await audit_store(store)).problems
        finally:
            await store.close()

    return [*asyncio.run(go()), *audit_sqlite_positions(path)]


def stored_rows(path: Path) -> list[sqlite3.Row]:
    with closing(sqlite3.connect(path)) as conn:
        conn.row_factory = sqlite3.Row
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return conn.execute(
            "SELECT event_id, stream, stream_version, correlation_id FROM events"
            " ORDER BY stream, stream_version"
        ).fetchall()


def test_sigkill_during_group_commits_loses_no_acknowledged_append(tmp_path: Path) -> None:
    store, acks = tmp_path / "events.db", tmp_path / "acks.txt"
    rng = random.Random(1708)
    for round_ in range(ROUNDS):
        before = len(acknowledged(acks))
        process = child("crash", str(store), str(acks), str(round_), str(TASKS))
        try:
            # Let it commit a random number of appends first: a random moment, not a sync.
            want = before + rng.randint(50, 600)
            wait_for(
                lambda: process.poll() is None and len(acknowledged(acks)) >= want,
                timeout=120,
                interval=0.01,
                what=f"round {round_}: {want} acknowledged appends",
            )
        finally:
            process.send_signal(signal.SIGKILL)
            output = process.communicate(timeout=30)[0]
        assert process.returncode == -signal.SIGKILL, output.decode(errors="replace")[-2000:]

    acked = acknowledged(acks)
    rows = stored_rows(store)
    where = {row["event_id"]: (row["stream"], row["stream_version"]) for row in rows}
    assert len(where) == len(rows), "an event id stored twice"
    missing, misplaced = [], []
    for stream, first, ids in acked:
        for offset, event_id in enumerate(ids):
            if event_id not in where:
                missing.append(event_id)
            elif where[event_id] != (stream, first + offset):
                misplaced.append((event_id, where[event_id], stream, first + offset))
    assert not missing, f"{len(missing)} acknowledged events lost"
    assert not misplaced, misplaced[:5]

    # Nothing half-stored: an append is all its events or none of them.
    sizes: Counter[str] = Counter(row["correlation_id"] for row in rows)
    partial = {cid: n for cid, n in sizes.items() if n != int(cid.rsplit("-of-", 1)[1])}
    assert not partial, partial
    versions: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        versions[row["stream"]].append(row["stream_version"])
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())
    assert audit(store) == []
    unacknowledged = len(rows) - sum(len(ids) for _, _, ids in acked)
    # Stored but never acknowledged: the appends committed when the kill came before the child
    # could write its line; at most what the tasks had in flight.
    assert 0 <= unacknowledged <= ROUNDS * TASKS * 3
    print(
        f"{ROUNDS} SIGKILLs, {len(acked)} acknowledged appends, {len(rows)} events stored,"
        f" {unacknowledged} stored but not yet acknowledged when killed"
    )


@pytest.fixture
def full_disk_child(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """Run the filling child on a small tmpfs, or under RLIMIT_FSIZE where mounting fails."""
    acks = tmp_path / "acks.txt"
    if can_mount():
        with small_disk(tmp_path / "disk", 2048) as disk:
            disk.fill(leave=512 * 1024)  # the store gets half a megabyte
            store = disk.path / "events.db"
            process = child("fill", str(store), str(acks))
            output = process.communicate(timeout=300)[0].decode(errors="replace")
            assert process.returncode == 0, output[-3000:]
            disk.free()  # room again: the check below opens the store as it is
            yield store, json.loads(output.strip().splitlines()[-1])
    else:
        store = tmp_path / "events.db"
        process = child("fill", str(store), str(acks), str(1024 * 1024))
        output = process.communicate(timeout=300)[0].decode(errors="replace")
        assert process.returncode == 0, output[-3000:]
        yield store, json.loads(output.strip().splitlines()[-1])


def test_a_full_disk_is_a_clear_error_and_acknowledges_nothing_unstored(
    tmp_path: Path, full_disk_child: tuple[Path, list[str]]
) -> None:
    store, refusals = full_disk_child
    assert len(refusals) == 4, refusals
    assert all(r.startswith("StoreUnavailable: event store write failed:") for r in refusals)
    assert any(cause in refusals[0] for cause in ("database or disk is full", "disk I/O error")), (
        refusals[0]
    )
    acked = acknowledged(tmp_path / "acks.txt")
    rows = stored_rows(store)
    assert [(r["stream"], r["stream_version"], r["event_id"]) for r in rows] == sorted(
        (s, v, ids[0]) for s, v, ids in acked
    ), "the store holds something other than exactly what it acknowledged"
    assert len(rows) > 10
    assert audit(store) == []

    # With room again, the same file takes appends.
    async def append_again() -> int:
        opened = SqliteEventStore(store)
        try:
            stored = await opened.append("fill-after", [amended("room again")], None)
            return stored[0].position
        finally:
            await opened.close()

    assert asyncio.run(append_again()) > len(rows)


def amended(text: str) -> NewEvent:
    return NewEvent.of(
        ReportAmended(text=text),
        occurred_at=datetime.now(UTC),
        actor=Actor(kind="system", id="test"),
        correlation_id=text,
    )


def test_a_read_only_data_directory_is_a_clear_error(tmp_path: Path) -> None:
    """Read-only from the moment the store opens it (a remount while SQLite holds the files
    open for writing is refused by the kernel, and an immutable -shm file SIGBUSes the process)."""
    if can_mount():
        with small_disk(tmp_path / "disk", 2048) as disk:
            check_read_only(disk.path, disk.read_only, disk.writable)
    elif can_chattr():
        data = tmp_path / "data"
        data.mkdir()
        with ExitStack() as stack:
            check_read_only(data, lambda: stack.enter_context(frozen(data)), stack.close)
    else:
        pytest.skip("neither mount nor chattr works here: cannot make a directory read-only")


def check_read_only(
    data: Path, read_only: Callable[[], object], writable: Callable[[], object]
) -> None:
    path = data / "events.db"
    (data / "fresh").mkdir()

    async def write(text: str) -> None:
        store = SqliteEventStore(path)
        try:
            await store.append("report-ro", [amended(text)], None)
        finally:
            await store.close()

    async def on_read_only() -> list[str]:
        try:
            store = SqliteEventStore(path)
        except StoreUnavailable as error:  # some file systems refuse even to open it
            assert str(path) in str(error), str(error)
            return ["before"]
        try:
            with pytest.raises(StoreError) as refused:
                await store.append("report-ro", [amended("while read-only")], None)
            assert isinstance(refused.value, StoreUnavailable), repr(refused.value)
            assert "readonly" in str(refused.value), str(refused.value)
            return [e.data["text"] for e in await store.read("report-ro")]
        finally:
            await store.close()

    asyncio.run(write("before"))
    read_only()
    try:
        assert unwritable(data)
        assert asyncio.run(on_read_only()) == ["before"]
        # A store that cannot even be created there says where and why.
        with pytest.raises(StoreUnavailable, match=str(data / "fresh")):
            SqliteEventStore(data / "fresh" / "events.db")
    finally:
        writable()
    asyncio.run(write("after"))

    async def texts() -> list[str]:
        store = SqliteEventStore(path)
        try:
            return [e.data["text"] for e in await store.read("report-ro")]
        finally:
            await store.close()

    assert asyncio.run(texts()) == ["before", "after"]


def test_operator_commands_on_a_full_disk_say_so_without_a_traceback(tmp_path: Path) -> None:
    """`lapor token revoke`, `lapor privacy erase` and `lapor rebuild` on a full data disk
    printed a Python traceback (rich frames, then StoreUnavailable or OperationalError on the
    last line); the operator revoking a leaked token needs the cause and what to do. Each says
    it stopped, why (the store's own words) and what to do, exits 2, and shows no frames."""
    if not can_mount():
        pytest.skip("needs a tmpfs mount (root with CAP_SYS_ADMIN)")
    with small_disk(tmp_path / "disk", 1024) as disk:
        data = disk.path
        asyncio.run(_store_with_one_event(data / "events.db"))
        disk.fill()
        env = {
            "PATH": "/usr/bin:/bin",
            "LAPOR_DATA_DIR": str(data),
            "LAPOR_SECRET_KEY": "full-disk-test-secret",
        }
        for args in (
            ("token", "revoke", "--subject", "petugas-budi"),
            ("privacy", "erase", "3WLANB2D6T"),
            ("rebuild", "verification", "--force"),
        ):
            done = subprocess.run(
                [sys.executable, "-m", "cli.main", *args],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            said = done.stdout + done.stderr
            assert done.returncode == 2, (args, said[-2000:])
            assert "Traceback" not in said and "│" not in said, (args, said[-2000:])
            assert "stopped:" in said and ("disk" in said or "full" in said), (args, said)
            assert "free space" in said.lower(), (args, said)


async def _store_with_one_event(path: Path) -> None:
    store = SqliteEventStore(path)
    try:
        await store.append("fill-before", [amended("before the disk filled")], None)
    finally:
        await store.close()
