"""Notify's calls made at the same time share one trip to a worker thread, and each caller still
gets its own answer: a batch of reports decrypting their reporters' contacts and planning their
notices, a dispatch run finishing its deliveries."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

from services.notify.outbox import Outbox
from services.notify.trips import OneTrip, each
from tests.notify.harness import commits_of, web_notice


async def test_calls_at_the_same_time_go_in_one_trip_and_each_gets_its_own_answer() -> None:
    trips: list[tuple[list[int], str]] = []

    def halve_many(numbers: Sequence[int]) -> list[int | BaseException]:
        trips.append((list(numbers), threading.current_thread().name))
        return each(halve)(numbers)

    def halve(number: int) -> int:
        if number % 2:
            raise ValueError(f"{number} is odd")
        return number // 2

    trip = OneTrip(halve_many)
    outcomes = await asyncio.gather(*(trip(n) for n in range(10)), return_exceptions=True)

    assert [o if isinstance(o, int) else str(o) for o in outcomes] == [
        n // 2 if n % 2 == 0 else f"{n} is odd" for n in range(10)
    ]
    assert [numbers for numbers, _ in trips] == [list(range(10))]
    assert trips[0][1] != threading.current_thread().name  # never on the event loop's thread
    # A lone call later makes its own trip at once.
    assert await trip(40) == 20
    assert len(trips) == 2


async def test_a_failed_trip_fails_each_call_in_it_and_the_next_trip_still_runs() -> None:
    broken = True

    def run_many(numbers: Sequence[int]) -> list[int | BaseException]:
        if broken:
            raise OSError("disk full")
        return list(numbers)

    trip = OneTrip(run_many)
    outcomes = await asyncio.gather(trip(1), trip(2), return_exceptions=True)
    assert [type(o) for o in outcomes] == [OSError, OSError]
    broken = False
    assert await trip(3) == 3


async def test_the_outbox_commits_the_writes_of_many_callers_once_each_standing_alone(
    tmp_path: Path,
) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    commits = commits_of(outbox)
    planned = [web_notice(n) for n in range(8)]
    now = "2026-12-06T10:00:00+07:00"

    added = await asyncio.gather(*(outbox.enqueue_soon([n], now) for n in planned))
    assert added == [1] * 8
    assert len(commits) == 1

    # Finishing twice: the first answer is the finished row, the second finds it finished.
    finished = await asyncio.gather(
        *(outbox.finish_soon(n.notification_id, "sent", now) for n in planned),
        outbox.finish_soon(planned[0].notification_id, "failed", now),
    )
    assert [row.state if row else None for row in finished] == ["sent"] * 8 + [None]
    await asyncio.gather(*(outbox.mark_recorded_soon(n.notification_id) for n in planned[:4]))
    assert [outbox.get(n.notification_id).recorded for n in planned] == [True] * 4 + [False] * 4  # type: ignore[union-attr]
    assert len(commits) == 3

    # A write that fails is undone alone and raises in its own caller only.
    def broken(conn: object) -> None:
        raise RuntimeError("bad write")

    outcomes = await asyncio.gather(
        outbox.write_soon(broken),
        outbox.mark_recorded_soon(planned[5].notification_id),
        return_exceptions=True,
    )
    assert isinstance(outcomes[0], RuntimeError)
    assert outcomes[1] is None
    assert outbox.get(planned[5].notification_id).recorded  # type: ignore[union-attr]
    outbox.close()
