"""The outbox's writes made at the same time share one commit, and each still stands alone.

A batch of reports plans its notices from many reactions at once, and a dispatch run finishes many
deliveries at once: their writes go to disk together (one fsync instead of one each), yet every
caller returns only once its own write is committed, and a write that fails takes nothing else
with it."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import cast

from services.notify.notices import Notice
from services.notify.outbox import Outbox
from tests.notify.harness import commits_of, web_notice
from tests.support import Deadline

WRITERS = 12


def test_writes_at_the_same_time_are_committed_together_and_each_one_stands(
    tmp_path: Path,
) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    commits = commits_of(outbox)
    planned = [web_notice(n) for n in range(WRITERS)]
    start = threading.Barrier(WRITERS)
    added: dict[int, int] = {}

    def plan_and_finish(number: int) -> None:
        start.wait()
        added[number] = outbox.enqueue([planned[number]], "2026-12-06T10:00:00+07:00")
        outbox.finish(planned[number].notification_id, "sent", "2026-12-06T10:00:01+07:00")

    threads = [threading.Thread(target=plan_and_finish, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert added == dict.fromkeys(range(WRITERS), 1)
    # On disk for anyone who opens the file (a restarted notify): every notice, finished.
    reopened = sqlite3.connect(tmp_path / "outbox.db")
    states = dict(reopened.execute("SELECT notification_id, state FROM outbox").fetchall())
    assert states == {str(n.notification_id): "sent" for n in planned}
    assert len(commits) <= 2 * WRITERS  # never more than one each; fewer when they meet
    # Planning the same notice again adds nothing (a redelivered event).
    assert outbox.enqueue([planned[0]], "2026-12-06T10:00:02+07:00") == 0
    reopened.close()
    outbox.close()


def test_a_write_that_fails_is_undone_alone_and_raises_only_for_its_caller(
    tmp_path: Path,
) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    commits = commits_of(outbox)
    good = web_notice(1)
    # Two notices planned together, the second unwritable (SQLite cannot store its position):
    # neither may be left behind.
    half, unwritable = web_notice(2), replace(web_notice(3), cause_position=cast(int, object()))
    outcomes: dict[str, object] = {}

    def plan(name: str, notices: list[Notice]) -> None:
        try:
            outcomes[name] = outbox.enqueue(notices, "2026-12-06T10:00:00+07:00")
        except sqlite3.Error as error:
            outcomes[name] = error

    # Both writes wait while the connection is busy, so they meet in one group.
    with outbox._lock:
        threads = [
            threading.Thread(target=plan, args=("good", [good])),
            threading.Thread(target=plan, args=("bad", [half, unwritable])),
        ]
        for thread in threads:
            thread.start()
        deadline = Deadline(10)
        while len(outbox._waiting) < 2:
            assert not deadline.passed(), "the writes never queued"
            time.sleep(0.001)
    for thread in threads:
        thread.join()

    assert outcomes["good"] == 1
    assert isinstance(outcomes["bad"], sqlite3.Error)
    assert len(commits) == 1
    ids = {row[0] for row in outbox._conn.execute("SELECT notification_id FROM outbox")}
    assert ids == {str(good.notification_id)}
    outbox.close()
