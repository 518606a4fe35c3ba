"""The SQLite event store: the store contract, plus what only SQLite promises (gap-free positions
by group commit, append-only enforced by the database, several processes on one file) and the
audit that names what someone altered, deleted or reordered behind its back."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cli.audit import audit_sqlite_positions, audit_store
from shared.store.port import NO_STREAM, EventRejected, StoreUnavailable, WrongExpectedVersion
from shared.store.sqlite import SqliteEventStore
from tests.contract.store_contract import (
    EventStoreContract,
    StoreFactory,
    amended,
    batch,
    ours,
)
from tests.integration.sqlite_writer import SHARED_STREAM, write


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "events.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteEventStore]:
    opened = SqliteEventStore(db_path)
    yield opened
    await opened.close()


@pytest.fixture
async def store_factory(db_path: Path) -> AsyncIterator[StoreFactory]:
    opened: list[SqliteEventStore] = []

    async def another() -> SqliteEventStore:
        opened.append(SqliteEventStore(db_path))
        return opened[-1]

    yield another
    for one in opened:
        await one.close()


class TestSqliteStoreKeepsTheContract(EventStoreContract):
    """Every test of the contract, against a fresh SQLite file."""


# --- what SQLite adds to the contract ------------------------------------------------------------
async def test_a_fresh_store_is_empty(store: SqliteEventStore) -> None:
    assert await store.last_position() == 0
    assert await store.read_all() == []
    assert await store.stream_names() == []


async def test_group_commit_gives_fifty_concurrent_appends_contiguous_positions(
    store: SqliteEventStore, db_path: Path
) -> None:
    results = await asyncio.gather(
        *(store.append(f"report-{i:02d}", batch(2, str(i)), NO_STREAM) for i in range(50))
    )
    positions = sorted(e.position for r in results for e in r)
    assert positions == list(range(1, 101))
    for recorded in results:  # each append's events sit together, in order
        assert recorded[1].position == recorded[0].position + 1
    assert await store.last_position() == 100
    assert audit_sqlite_positions(db_path) == []


async def test_a_pollers_quick_look_sees_what_another_writer_appended_at_once(
    store_factory: StoreFactory,
) -> None:
    # The relay asks "anything new?" this way 50 times a second when idle: it must never miss
    # an append made through another connection (intake's), or a report would wait unpublished.
    writer, poller = await store_factory(), await store_factory()
    assert isinstance(poller, SqliteEventStore)
    assert poller.newest_position_nowait() == 0
    recorded = await writer.append("report-A", batch(3, "a"), NO_STREAM)
    assert poller.newest_position_nowait() == recorded[-1].position == 3
    await writer.append("report-B", batch(1, "b"), NO_STREAM)
    assert poller.newest_position_nowait() == 4 == await poller.last_position()


async def test_appends_that_fail_inside_a_group_leave_no_gap(
    store: SqliteEventStore, db_path: Path
) -> None:
    await store.append("report-A", batch(1), NO_STREAM)
    attempts = [
        *(store.append("report-A", batch(2, f"w{i}"), 1) for i in range(20)),  # one wins
        *(store.append(f"report-{i}", batch(3, str(i)), NO_STREAM) for i in range(20)),
    ]
    await asyncio.gather(*attempts, return_exceptions=True)
    assert await store.last_position() == 1 + 2 + 60
    assert [e.position for e in await store.read_all()] == list(range(1, 64))
    assert audit_sqlite_positions(db_path) == []


async def test_new_reports_submitted_together_each_get_their_own_answer(
    store: SqliteEventStore, db_path: Path
) -> None:
    """Submissions that start a report together (one group, one statement for their rows) with
    a retry, a clash and a reused id among them: every citizen gets the answer a lone
    submission would get, what the store returns is what it stored, positions have no gap."""
    (old,) = await store.append("report-OLD", batch(1, "old"), NO_STREAM)
    retry = old.model_copy()  # the very event again: answered with what was stored
    fresh = [batch(1, f"new{i}") for i in range(6)]
    twins = [batch(1, "twin-a"), batch(1, "twin-b")]
    reused_id = [amended("again", event_id=old.event_id)]  # an id stored in another stream
    outcomes = await asyncio.gather(
        store.append("report-N0", fresh[0], NO_STREAM),
        store.append("report-N1", fresh[1], NO_STREAM),
        store.append("report-OLD", [retry], NO_STREAM),
        store.append("report-N2", fresh[2], NO_STREAM),
        store.append("report-TWIN", twins[0], NO_STREAM),
        store.append("report-TWIN", twins[1], NO_STREAM),
        store.append("report-OLD", batch(1, "late"), NO_STREAM),
        store.append("report-N3", fresh[3], NO_STREAM),
        store.append("report-REUSED", reused_id, NO_STREAM),
        store.append("report-N4", fresh[4], NO_STREAM),
        store.append("report-N5", fresh[5], NO_STREAM),
        return_exceptions=True,
    )
    (n0, n1, again, n2, twin_a, twin_b, late, n3, reused, n4, n5) = outcomes
    assert again == [old]
    assert isinstance(twin_a, list) and isinstance(twin_b, WrongExpectedVersion)
    assert isinstance(late, WrongExpectedVersion) and late.actual == 1
    assert isinstance(reused, WrongExpectedVersion)
    stored = {e.event_id: e for e in await store.read_all()}
    positions = []
    for recorded in (n0, n1, n2, twin_a, n3, n4, n5):
        assert isinstance(recorded, list)
        (event,) = recorded
        assert event.stream_version == 1
        assert stored[event.event_id] == event  # position and hash as stored
        positions.append(event.position)
    assert sorted(positions) == list(range(2, 9))
    assert await store.read("report-REUSED") == []
    assert audit_sqlite_positions(db_path) == []
    assert (await audit_store(store)).problems == []


async def test_the_writer_commits_with_full_sync_in_wal(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An append that returned is on disk (fsync at every commit): the writer's own connection
    runs in WAL with synchronous=FULL, whatever else is tuned for speed."""
    import threading

    import shared.store.sqlite as sqlite_store

    made: list[sqlite3.Connection] = []
    opened = sqlite_store.connect

    def recording(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
        conn = opened(path, readonly=readonly)
        if threading.current_thread().name == "store-writer":
            made.append(conn)
        return conn

    monkeypatch.setattr(sqlite_store, "connect", recording)
    store = SqliteEventStore(db_path)
    try:
        await store.append("report-A", batch(1), NO_STREAM)
        (writer,) = made
        assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert writer.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        await store.close()


async def test_an_event_whose_row_cannot_be_made_is_rejected_and_the_store_goes_on(
    store: SqliteEventStore,
) -> None:
    """The appender makes each row before the writer's turn: an event it cannot write (here one
    built around validation, with no time) is refused alone, as the writer refused it, and the
    appends beside it are stored."""
    good = batch(2, "beside")
    broken = batch(1, "broken")[0].model_copy(update={"occurred_at": None})
    with pytest.raises(EventRejected):
        await store.append("report-BROKEN", [good[0], broken], NO_STREAM)
    stored = await store.append("report-GOOD", good, NO_STREAM)
    assert [e.stream_version for e in stored] == [1, 2]
    assert await store.read("report-BROKEN") == []
    assert (await audit_store(store)).problems == []


async def test_events_survive_closing_and_reopening_the_store(db_path: Path) -> None:
    first = SqliteEventStore(db_path)
    written = await first.append("report-A", batch(2), NO_STREAM)
    await first.close()
    again = SqliteEventStore(db_path)
    try:
        assert await again.read("report-A") == written
        more = await again.append("report-A", batch(1, "more"), 2)
        assert more[0].prev_hash == written[-1].hash and more[0].position == 3
    finally:
        await again.close()


async def test_a_closed_store_refuses_appends_instead_of_hanging(db_path: Path) -> None:
    closed = SqliteEventStore(db_path)
    await closed.close()
    await closed.close()  # twice is fine
    with pytest.raises(StoreUnavailable):
        await asyncio.wait_for(closed.append("report-A", batch(1), NO_STREAM), 10)


async def test_a_caller_cancelled_while_another_process_holds_the_lock_breaks_nothing(
    store: SqliteEventStore, db_path: Path
) -> None:
    """The writer thread used to die on the cancelled caller's future: every later append hung."""
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        tasks = [
            asyncio.ensure_future(store.append(f"report-{i}", batch(1, str(i)), NO_STREAM))
            for i in range(5)
        ]
        await asyncio.sleep(0)  # let them queue (a yield, not a wait)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    after = await asyncio.wait_for(store.append("report-after", batch(1), NO_STREAM), 30)
    assert len(after) == 1
    assert audit_sqlite_positions(db_path) == []


async def test_a_data_directory_with_uri_characters_in_its_name_works(tmp_path: Path) -> None:
    path = tmp_path / "data #1?x=%20y" / "events.db"
    odd = SqliteEventStore(path)
    try:
        await odd.append("report-A", batch(2), NO_STREAM)
    finally:
        await odd.close()
    assert audit_sqlite_positions(path) == []


def test_the_store_keeps_its_own_tables_and_guards(db_path: Path) -> None:
    asyncio.run(SqliteEventStore(db_path).close())
    conn = sqlite3.connect(db_path)
    triggers = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
    journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.close()
    assert triggers == {"events_are_append_only_no_update", "events_are_append_only_no_delete"}
    assert journal == "wal"


# --- append-only, enforced by the database --------------------------------------------------------
TAMPERING = [
    'UPDATE events SET data = \'{"text":"diubah"}\' WHERE stream_version = 1',
    "UPDATE events SET hash = 'x'",
    "UPDATE events SET stream_version = stream_version + 100",
    "DELETE FROM events WHERE stream_version = 2",
    "DELETE FROM events",
]


@pytest.mark.parametrize("sql", TAMPERING)
async def test_update_and_delete_fail_from_a_plain_sqlite3_connection(
    store: SqliteEventStore, db_path: Path, sql: str
) -> None:
    written = await store.append("report-A", batch(3), NO_STREAM)
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(sql)
    finally:
        conn.close()
    assert await store.read("report-A") == written
    assert (await audit_store(store)).problems == []


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="no sqlite3 command-line tool")
@pytest.mark.parametrize("sql", TAMPERING)
async def test_update_and_delete_fail_from_the_sqlite3_command_line(
    store: SqliteEventStore, db_path: Path, sql: str
) -> None:
    written = await store.append("report-A", batch(3), NO_STREAM)
    done = await asyncio.to_thread(
        subprocess.run, ["sqlite3", str(db_path), sql], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "append-only" in done.stderr
    assert await store.read("report-A") == written


# --- tamper detection: someone with the file drops the guards and edits a copy --------------------
async def copy_without_guards(store: SqliteEventStore, source: Path, target: Path) -> None:
    """A consistent copy of the live database (backup API), its append-only triggers dropped."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.execute("DROP TRIGGER events_are_append_only_no_update")
    dst.execute("DROP TRIGGER events_are_append_only_no_delete")
    dst.commit()
    dst.close()


def edit(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for sql in statements:
        conn.execute(sql)
    conn.close()


async def audit_copy(path: Path) -> tuple[list[str], list[str]]:
    """What `lapor audit verify` says of a database: (chain problems, position/guard problems).

    Positions first: opening the store would put the guards back."""
    positions = audit_sqlite_positions(path)
    copy = SqliteEventStore(path)
    try:
        chains = (await audit_store(copy)).problems
    finally:
        await copy.close()
    return chains, positions


GUARDS_GONE = [
    "append-only guard events_are_append_only_no_update was removed",
    "append-only guard events_are_append_only_no_delete was removed",
]


@pytest.fixture
async def history(store: SqliteEventStore) -> dict[str, list[str]]:
    """Three reports, appended interleaved: A has 4 events, B 3, C 2 (positions 1..9)."""
    written: dict[str, list[str]] = {"A": [], "B": [], "C": []}
    plan = [("A", 1), ("B", 1), ("A", 2), ("C", 1), ("B", 1), ("A", 1), ("C", 1), ("B", 1)]
    for name, n in plan:
        events = await store.append(f"report-{name}", batch(n, name), None)
        written[name] += [str(e.event_id) for e in events]
    assert await store.last_position() == 9
    return written


async def test_an_untouched_copy_audits_clean_except_for_the_dropped_guards(
    store: SqliteEventStore, db_path: Path, tmp_path: Path, history: dict[str, list[str]]
) -> None:
    copy = tmp_path / "copy.db"
    await copy_without_guards(store, db_path, copy)
    chains, positions = await audit_copy(copy)
    assert chains == [] and positions == GUARDS_GONE


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("data", json.dumps({"text": "Laporan dicabut"})),
        ("actor", json.dumps({"kind": "admin", "id": "someone-else"})),
        ("occurred_at", "2026-01-01T00:00:00+00:00"),
        ("agency_code", "DISHUB-KOTA-KUPANG"),
        ("event_type", "ReporterReplied"),
        ("correlation_id", "other"),
    ],
)
async def test_altering_one_event_is_named(
    store: SqliteEventStore,
    db_path: Path,
    tmp_path: Path,
    history: dict[str, list[str]],
    column: str,
    value: str,
) -> None:
    copy = tmp_path / "copy.db"
    await copy_without_guards(store, db_path, copy)
    edit(
        copy,
        f"UPDATE events SET {column} = '{value}' WHERE stream = 'report-A' AND stream_version = 2",
    )
    chains, positions = await audit_copy(copy)
    altered = history["A"][1]
    assert chains == [f"report-A v2 ({altered}): content altered (hash mismatch)"]
    assert positions == GUARDS_GONE


async def test_altering_an_event_and_fixing_its_own_hash_breaks_the_next_link(
    store: SqliteEventStore, db_path: Path, tmp_path: Path, history: dict[str, list[str]]
) -> None:
    from shared.store.chain import event_hash

    copy = tmp_path / "copy.db"
    await copy_without_guards(store, db_path, copy)
    conn = sqlite3.connect(copy)
    conn.row_factory = sqlite3.Row
    row = dict(
        conn.execute("SELECT * FROM events WHERE stream='report-A' AND stream_version=2").fetchone()
    )
    conn.close()
    data = {"text": "Laporan dicabut"}
    forged = event_hash(
        prev_hash=row["prev_hash"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        schema_version=row["schema_version"],
        stream=row["stream"],
        stream_version=2,
        occurred_at=row["occurred_at"],
        correlation_id=row["correlation_id"],
        causation_id=row["causation_id"],
        actor=json.loads(row["actor"]),
        region_code=row["region_code"],
        agency_code=row["agency_code"],
        data=data,
    )
    edit(
        copy,
        f"UPDATE events SET data = '{json.dumps(data)}', hash = '{forged}'"
        " WHERE stream = 'report-A' AND stream_version = 2",
    )
    chains, _ = await audit_copy(copy)
    assert chains == [f"report-A v3 ({history['A'][2]}): link to previous event broken"]


async def test_deleting_an_event_in_the_middle_of_a_stream_is_named(
    store: SqliteEventStore, db_path: Path, tmp_path: Path, history: dict[str, list[str]]
) -> None:
    copy = tmp_path / "copy.db"
    await copy_without_guards(store, db_path, copy)
    conn = sqlite3.connect(copy)
    (position,) = conn.execute(
        "SELECT position FROM events WHERE stream='report-B' AND stream_version=2"
    ).fetchone()
    conn.close()
    edit(copy, "DELETE FROM events WHERE stream = 'report-B' AND stream_version = 2")
    chains, positions = await audit_copy(copy)
    after = history["B"][2]
    assert chains == [
        f"report-B v3 ({after}): missing event(s) before it: expected v2",
        f"report-B v3 ({after}): link to previous event broken",
    ]
    assert positions == [f"global positions {position}..{position}: event(s) missing", *GUARDS_GONE]


async def test_deleting_the_last_event_of_a_stream_is_named_by_the_positions(
    store: SqliteEventStore, db_path: Path, tmp_path: Path, history: dict[str, list[str]]
) -> None:
    """A stream's chain cannot show its own tail was cut; SQLite's gap-free positions can."""
    copy = tmp_path / "copy.db"
    await copy_without_guards(store, db_path, copy)
    conn = sqlite3.connect(copy)
    (position,) = conn.execute(
        "SELECT position FROM events WHERE stream='report-A' AND stream_version=4"
    ).fetchone()
    conn.close()
    edit(copy, "DELETE FROM events WHERE stream = 'report-A' AND stream_version = 4")
    chains, positions = await audit_copy(copy)
    assert chains == []
    assert positions == [f"global positions {position}..{position}: event(s) missing", *GUARDS_GONE]


async def test_deleting_the_newest_event_of_the_store_is_named(
    store: SqliteEventStore, db_path: Path, tmp_path: Path, history: dict[str, list[str]]
) -> None:
    copy = tmp_path / "copy.db"
    await copy_without_guards(store, db_path, copy)
    edit(copy, "DELETE FROM events WHERE position = 9")
    chains, positions = await audit_copy(copy)
    assert chains == []
    assert positions == ["global positions 9..9: event(s) missing at the end", *GUARDS_GONE]


async def test_swapping_two_versions_of_a_stream_is_named(
    store: SqliteEventStore, db_path: Path, tmp_path: Path, history: dict[str, list[str]]
) -> None:
    copy = tmp_path / "copy.db"
    await copy_without_guards(store, db_path, copy)
    edit(
        copy,
        "UPDATE events SET stream_version = 1000 WHERE stream = 'report-A' AND stream_version = 2",
        "UPDATE events SET stream_version = 2 WHERE stream = 'report-A' AND stream_version = 3",
        "UPDATE events SET stream_version = 3 WHERE stream = 'report-A' AND stream_version = 1000",
    )
    chains, _ = await audit_copy(copy)
    was_v2, was_v3 = history["A"][1], history["A"][2]
    assert f"report-A v2 ({was_v3}): link to previous event broken" in chains
    assert f"report-A v2 ({was_v3}): content altered (hash mismatch)" in chains
    assert f"report-A v3 ({was_v2}): content altered (hash mismatch)" in chains
    assert all(p.startswith("report-A v") for p in chains)


async def test_a_forged_event_slipped_in_is_named(
    store: SqliteEventStore, db_path: Path, tmp_path: Path, history: dict[str, list[str]]
) -> None:
    """INSERT is allowed (that is how events are appended), so a forgery needs a valid hash."""
    copy = tmp_path / "copy.db"
    await copy_without_guards(store, db_path, copy)
    conn = sqlite3.connect(copy)
    (last_hash,) = conn.execute(
        "SELECT hash FROM events WHERE stream='report-C' AND stream_version=2"
    ).fetchone()
    conn.close()
    edit(
        copy,
        "INSERT INTO events (event_id, stream, stream_version, event_type, schema_version,"
        " occurred_at, correlation_id, causation_id, actor, data, prev_hash, hash) VALUES"
        " ('00000000-0000-0000-0000-000000000001', 'report-C', 3, 'ReportClosed', 1,"
        " '2026-03-02T08:00:00+00:00', 'c', 'c', '{\"id\":\"x\",\"kind\":\"admin\"}',"
        f" '{{\"reason\":\"resolved\",\"note\":null}}', '{last_hash}', '{'f' * 64}')",
    )
    chains, _ = await audit_copy(copy)
    assert chains == [
        "report-C v3 (00000000-0000-0000-0000-000000000001): content altered (hash mismatch)"
    ]


async def test_auditing_one_report_names_only_its_problems(
    store: SqliteEventStore, db_path: Path, tmp_path: Path, history: dict[str, list[str]]
) -> None:
    copy = tmp_path / "copy.db"
    await copy_without_guards(store, db_path, copy)
    edit(copy, "UPDATE events SET data = '{\"text\":\"x\"}' WHERE stream = 'report-B'")
    audited = SqliteEventStore(copy)
    try:
        assert (await audit_store(audited, "A")).problems == []
        assert len((await audit_store(audited, "B")).problems) == 3
        missing = await audit_store(audited, "NOPE")
        assert missing.problems == ["report-NOPE: no such stream"]
    finally:
        await audited.close()


# --- several processes on one file ---------------------------------------------------------------
async def test_two_processes_appending_to_one_file_lose_nothing(db_path: Path) -> None:
    count = 60
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(2)
    writers = [
        spawn.Process(target=write, args=(str(db_path), name, count, barrier))
        for name in ("north", "south")
    ]
    for process in writers:
        process.start()
    for process in writers:
        await asyncio.to_thread(process.join, 240)
    assert [p.exitcode for p in writers] == [0, 0]

    store = SqliteEventStore(db_path)
    try:
        everything = await ours(store, "", 0)
        assert len(everything) == 2 * 2 * count
        assert [e.position for e in everything] == list(range(1, 4 * count + 1))
        shared = await store.read(SHARED_STREAM)
        assert [e.stream_version for e in shared] == list(range(1, 2 * count + 1))
        texts = {e.data["text"] for e in shared}
        assert texts == {f"{n}-shared-{i}" for n in ("north", "south") for i in range(count)}
        for name in ("north", "south"):
            own = [e for e in everything if e.stream.startswith(f"report-{name}-")]
            assert {e.data["text"] for e in own} == {f"{name}-own-{i}" for i in range(count)}
        assert (await audit_store(store)).problems == []
    finally:
        await store.close()
    assert audit_sqlite_positions(db_path) == []


async def test_events_read_back_behave_as_models(store: SqliteEventStore) -> None:
    """Rows become RecordedEvent without a second validation: they still copy, pickle and
    compare as the validated model would."""
    import copy
    import pickle

    from shared.store.port import RecordedEvent

    written = await store.append("report-A", batch(1), NO_STREAM)
    [read] = await store.read("report-A")
    assert read == written[0] == RecordedEvent.model_validate(read.model_dump())
    changed = read.model_copy(update={"data": {"text": "lain"}})
    assert changed.data == {"text": "lain"} and read.data != changed.data
    assert copy.deepcopy(read) == read == pickle.loads(pickle.dumps(read))
    assert read.model_fields_set == set(RecordedEvent.model_fields)
