"""The event store contract: what every adapter of `shared.store.port.EventStore` must do.

Reuse it by subclassing `EventStoreContract` in a test module that provides two fixtures:

    store          an open store (async fixture; closed by the fixture)
    store_factory  an async callable opening *another* store on the same backing data (a second
                   process or client); the fixture closes what it opened

The suite never assumes it is alone in the store: it names its streams with a fresh prefix (`ns`)
and looks at the global order only from the position it started at, so it can run against a
shared KurrentDB server as well as a fresh SQLite file.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import cast

import pytest

from cli.audit import audit_store
from shared.events.base import Actor
from shared.reports.events import ReportAmended, ReportRated
from shared.store.chain import GENESIS
from shared.store.port import (
    ANY,
    NO_STREAM,
    EventRejected,
    EventStore,
    NewEvent,
    RecordedEvent,
    WrongExpectedVersion,
    follow,
)

StoreFactory = Callable[[], Awaitable[EventStore]]

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
CITIZEN = Actor(kind="citizen", id="reporter")


def amended(text: str = "Foto terlampir", **envelope: object) -> NewEvent:
    """A small, valid report event."""
    fields: dict[str, object] = {
        "occurred_at": T0,
        "actor": CITIZEN,
        "correlation_id": "corr-1",
    }
    fields.update(envelope)
    return NewEvent.of(ReportAmended(text=text), **fields)  # type: ignore[arg-type]


def raw(event_type: str, data: dict[str, object], schema_version: int = 1) -> NewEvent:
    """An event built by hand, bypassing the payload models (as a buggy or hostile writer would)."""
    return NewEvent(
        event_type=event_type,
        schema_version=schema_version,
        occurred_at=T0,
        correlation_id="corr-1",
        causation_id="corr-1",
        actor=CITIZEN,
        data=data,
    )


def batch(n: int, prefix: str = "e") -> list[NewEvent]:
    return [amended(f"{prefix}-{i}") for i in range(n)]


def ids(events: list[RecordedEvent] | list[NewEvent]) -> list[uuid.UUID]:
    return [e.event_id for e in events]


async def ours(store: EventStore, ns: str, start: int) -> list[RecordedEvent]:
    """This test's events in global order, from `start` on."""
    found: list[RecordedEvent] = []
    position = start
    while True:
        page = await store.read_all(position, 500)
        if not page:
            return found
        found += [e for e in page if e.stream.startswith(ns)]
        position = page[-1].position


class EventStoreContract:
    @pytest.fixture
    def ns(self) -> str:
        """A fresh stream-name prefix for one test."""
        return f"t{uuid.uuid4().hex[:10]}-"

    # --- append and read --------------------------------------------------------------------
    async def test_a_new_stream_starts_at_version_1_and_reads_back_as_appended(
        self, store: EventStore, ns: str
    ) -> None:
        stream = f"{ns}report-A"
        wita = timezone(timedelta(hours=8))
        new = [
            amended(
                "satu",
                occurred_at=datetime(2026, 3, 2, 15, 30, 12, 345678, tzinfo=wita),
                correlation_id="corr-9",
                causation_id="cause-9",
                region_code="5371",
                agency_code="DINKES-KOTA-KUPANG",
            ),
            NewEvent.of(
                ReportRated(rating=4, comment="Cepat ditangani 👍 — terima kasih"),
                occurred_at=T0,
                actor=Actor(kind="system", id="sla"),
                correlation_id="corr-9",
            ),
        ]
        recorded = await store.append(stream, new, NO_STREAM)
        assert [e.stream_version for e in recorded] == [1, 2]
        assert ids(recorded) == ids(new)
        assert all(e.stream == stream for e in recorded)
        assert recorded[0].position < recorded[1].position
        assert recorded[0].prev_hash == GENESIS
        assert recorded[1].prev_hash == recorded[0].hash
        first = recorded[0]
        assert first.occurred_at == datetime(2026, 3, 2, 7, 30, 12, 345678, tzinfo=UTC)
        assert first.occurred_at.utcoffset() == timedelta(0)
        assert (first.correlation_id, first.causation_id) == ("corr-9", "cause-9")
        assert (first.region_code, first.agency_code) == ("5371", "DINKES-KOTA-KUPANG")
        assert first.actor == CITIZEN
        assert recorded[1].data == {"rating": 4, "comment": "Cepat ditangani 👍 — terima kasih"}
        assert recorded[1].causation_id == "corr-9"  # defaults to the correlation id
        # what append returned is exactly what a reader gets
        assert await store.read(stream) == recorded
        assert [e.payload() for e in recorded] == [
            ReportAmended(text="satu"),
            ReportRated(rating=4, comment="Cepat ditangani 👍 — terima kasih"),
        ]

    async def test_appending_continues_the_stream_from_its_version(
        self, store: EventStore, ns: str
    ) -> None:
        stream = f"{ns}report-A"
        first = await store.append(stream, batch(2), NO_STREAM)
        second = await store.append(stream, batch(3, "more"), 2)
        assert [e.stream_version for e in second] == [3, 4, 5]
        assert second[0].prev_hash == first[-1].hash
        assert [e.stream_version for e in await store.read(stream)] == [1, 2, 3, 4, 5]

    async def test_a_stream_that_does_not_exist_reads_empty(
        self, store: EventStore, ns: str
    ) -> None:
        assert await store.read(f"{ns}nothing-here") == []

    async def test_appending_nothing_stores_nothing(self, store: EventStore, ns: str) -> None:
        start = await store.last_position()
        assert await store.append(f"{ns}report-A", [], NO_STREAM) == []
        assert await store.read(f"{ns}report-A") == []
        assert await ours(store, ns, start) == []

    async def test_streams_are_independent(self, store: EventStore, ns: str) -> None:
        await store.append(f"{ns}report-A", batch(3), NO_STREAM)
        other = await store.append(f"{ns}report-B", batch(1), NO_STREAM)
        assert other[0].stream_version == 1 and other[0].prev_hash == GENESIS
        assert len(await store.read(f"{ns}report-A")) == 3

    # --- expected version -------------------------------------------------------------------
    async def test_no_stream_means_the_stream_must_not_exist(
        self, store: EventStore, ns: str
    ) -> None:
        stream = f"{ns}report-A"
        await store.append(stream, batch(2), NO_STREAM)
        with pytest.raises(WrongExpectedVersion) as conflict:
            await store.append(stream, batch(1, "late"), NO_STREAM)
        assert (conflict.value.stream, conflict.value.expected, conflict.value.actual) == (
            stream,
            NO_STREAM,
            2,
        )
        assert len(await store.read(stream)) == 2

    @pytest.mark.parametrize("expected", [1, 3, 7, -1])
    async def test_a_stale_or_future_expected_version_is_a_conflict_and_stores_nothing(
        self, store: EventStore, ns: str, expected: int
    ) -> None:
        stream = f"{ns}report-A"
        await store.append(stream, batch(2), NO_STREAM)
        start = await store.last_position()
        with pytest.raises(WrongExpectedVersion) as conflict:
            await store.append(stream, batch(2, "x"), expected)
        assert conflict.value.actual == 2
        assert len(await store.read(stream)) == 2
        assert await ours(store, ns, start) == []

    async def test_an_expected_version_on_a_stream_that_does_not_exist_is_a_conflict(
        self, store: EventStore, ns: str
    ) -> None:
        with pytest.raises(WrongExpectedVersion) as conflict:
            await store.append(f"{ns}report-A", batch(1), 3)
        assert conflict.value.actual == 0
        assert await store.read(f"{ns}report-A") == []

    async def test_any_skips_the_check(self, store: EventStore, ns: str) -> None:
        stream = f"{ns}report-A"
        assert ANY is None
        await store.append(stream, batch(1), ANY)
        await store.append(stream, batch(2, "b"), ANY)
        assert [e.stream_version for e in await store.read(stream)] == [1, 2, 3]

    # --- idempotent appends -----------------------------------------------------------------
    @pytest.mark.parametrize("expected_on_retry", [NO_STREAM, ANY, 5])
    async def test_re_appending_the_same_events_returns_them_and_stores_nothing_new(
        self, store: EventStore, ns: str, expected_on_retry: int | None
    ) -> None:
        """A retry after a lost answer (timeout, crash) must not duplicate the events, whatever
        expected version the retry carries."""
        stream = f"{ns}report-A"
        events = batch(3)
        stored = await store.append(stream, events, NO_STREAM)
        position = await store.last_position()
        again = await store.append(stream, events, expected_on_retry)
        assert again == stored
        assert await store.read(stream) == stored
        assert await store.last_position() == position

    async def test_re_appending_an_earlier_batch_after_later_ones_returns_it(
        self, store: EventStore, ns: str
    ) -> None:
        stream = f"{ns}report-A"
        first, second = batch(2, "first"), batch(2, "second")
        stored_first = await store.append(stream, first, NO_STREAM)
        await store.append(stream, second, 2)
        assert await store.append(stream, first, NO_STREAM) == stored_first
        assert len(await store.read(stream)) == 4

    async def test_re_appending_the_head_of_a_stored_batch_returns_that_part(
        self, store: EventStore, ns: str
    ) -> None:
        stream = f"{ns}report-A"
        events = batch(3)
        stored = await store.append(stream, events, NO_STREAM)
        assert await store.append(stream, events[:2], NO_STREAM) == stored[:2]
        assert len(await store.read(stream)) == 3

    @pytest.mark.parametrize(
        "shape",
        ["stored then new", "new then stored", "stored out of order", "stored plus a later one"],
    )
    async def test_partially_overlapping_ids_are_a_conflict_and_store_nothing(
        self, store: EventStore, ns: str, shape: str
    ) -> None:
        stream = f"{ns}report-A"
        stored = batch(3)
        await store.append(stream, stored, NO_STREAM)
        start = await store.last_position()
        fresh = amended("new")
        retry = {
            "stored then new": [stored[0], stored[1], stored[2], fresh],
            "new then stored": [fresh, stored[2]],
            "stored out of order": [stored[1], stored[0]],
            "stored plus a later one": [stored[0], stored[2]],
        }[shape]
        with pytest.raises(WrongExpectedVersion):
            await store.append(stream, retry, ANY)
        assert len(await store.read(stream)) == 3
        assert await ours(store, ns, start) == []

    async def test_an_event_id_stored_in_another_stream_is_a_conflict(
        self, store: EventStore, ns: str
    ) -> None:
        events = batch(1)
        await store.append(f"{ns}report-A", events, NO_STREAM)
        with pytest.raises(WrongExpectedVersion):
            await store.append(f"{ns}report-B", events, NO_STREAM)
        assert await store.read(f"{ns}report-B") == []

    async def test_the_same_event_id_twice_in_one_batch_is_refused(
        self, store: EventStore, ns: str
    ) -> None:
        event = amended()
        with pytest.raises(WrongExpectedVersion):
            await store.append(f"{ns}report-A", [event, event], NO_STREAM)
        assert await store.read(f"{ns}report-A") == []

    # --- schema validation ------------------------------------------------------------------
    @pytest.mark.parametrize(
        ("event_type", "data", "schema_version"),
        [
            ("ReportRated", {"rating": 9}, 1),
            ("ReportRated", {}, 1),
            ("ReportRated", {"rating": "lima"}, 1),
            ("ReportRated", {"rating": 4, "surprise": True}, 1),
            ("ReportRated", {"rating": 4}, 2),  # a version this code does not know
            ("ReportRated", {"rating": 4}, 0),
            ("ReportExploded", {"rating": 4}, 1),
            ("ReportRated", {"rating": Decimal(4)}, 1),  # passes the model, is not JSON
        ],
        ids=[
            "out of range",
            "missing field",
            "wrong type",
            "extra field",
            "future version",
            "version zero",
            "unknown type",
            "not JSON",
        ],
    )
    async def test_an_event_that_fails_its_schema_is_rejected_and_nothing_is_stored(
        self,
        store: EventStore,
        ns: str,
        event_type: str,
        data: dict[str, object],
        schema_version: int,
    ) -> None:
        stream = f"{ns}report-A"
        start = await store.last_position()
        good = amended("good")
        bad = raw(event_type, data, schema_version)
        with pytest.raises(EventRejected):
            await asyncio.wait_for(store.append(stream, [good, bad], NO_STREAM), 30)
        assert await store.read(stream) == []
        assert await ours(store, ns, start) == []
        # and the store goes on working
        assert len(await asyncio.wait_for(store.append(stream, [good], NO_STREAM), 30)) == 1

    async def test_a_typed_event_whose_data_was_replaced_is_validated_again(
        self, store: EventStore, ns: str
    ) -> None:
        # The store trusts data a typed payload made (no second validation); a copy carrying
        # other data is not that payload's any more.
        stream = f"{ns}report-A"
        forged = amended("good").model_copy(update={"data": {"text": 42, "surprise": True}})
        with pytest.raises(EventRejected):
            await asyncio.wait_for(store.append(stream, [forged], NO_STREAM), 30)
        assert await store.read(stream) == []

    # --- the global order -------------------------------------------------------------------
    async def test_read_all_gives_every_event_once_in_global_order(
        self, store: EventStore, ns: str
    ) -> None:
        start = await store.last_position()
        appended: list[RecordedEvent] = []
        for round_ in range(3):
            for name in ("A", "B", "C"):
                expected = NO_STREAM if round_ == 0 else 2 * round_
                appended += await store.append(
                    f"{ns}report-{name}", batch(2, f"{name}{round_}"), expected
                )
        found = await ours(store, ns, start)
        assert found == appended
        positions = [e.position for e in found]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        assert all(p > start for p in positions)

    async def test_read_all_pages_by_position_and_limit(self, store: EventStore, ns: str) -> None:
        start = await store.last_position()
        appended = await store.append(f"{ns}report-A", batch(7), NO_STREAM)
        page = await store.read_all(start, 3)
        assert len(page) == 3 and page[0].position > start
        # from a position: strictly after it
        middle = appended[3].position
        after = [e for e in await store.read_all(middle, 1000) if e.stream.startswith(ns)]
        assert after == appended[4:]
        # paging with a small limit reconstructs the whole
        paged: list[RecordedEvent] = []
        position = start
        while page := await store.read_all(position, 2):
            assert len(page) <= 2
            paged += [e for e in page if e.stream.startswith(ns)]
            position = page[-1].position
        assert paged == appended
        assert await store.read_all(appended[-1].position + 10_000_000, 10) == []

    async def test_last_position_is_the_position_of_the_last_event(
        self, store: EventStore, ns: str
    ) -> None:
        appended = await store.append(f"{ns}report-A", batch(3), NO_STREAM)
        assert await store.last_position() >= appended[-1].position
        assert (await store.read_all(appended[-1].position - 1, 1))[0] == appended[-1]

    async def test_stream_names_lists_each_stream_once_by_exact_prefix(
        self, store: EventStore, ns: str
    ) -> None:
        for name in ("report-B", "report-A", "REPORT-C", "notify-A", "report%x", "report_y"):
            await store.append(f"{ns}{name}", batch(2), NO_STREAM)
        assert await store.stream_names(f"{ns}report-") == [f"{ns}report-A", f"{ns}report-B"]
        assert await store.stream_names(f"{ns}report%") == [f"{ns}report%x"]
        assert await store.stream_names(f"{ns}report_") == [f"{ns}report_y"]
        everything = await store.stream_names(ns)
        assert everything == sorted(everything) and len(everything) == 6
        assert f"{ns}notify-A" in await store.stream_names()
        assert await store.stream_names(f"{ns}nothing") == []

    async def test_follow_yields_new_events_as_they_are_appended(
        self, store: EventStore, ns: str
    ) -> None:
        start = await store.last_position()
        follower = cast(
            AsyncGenerator[list[RecordedEvent], None],
            follow(store, start, idle_sleep=0.005, max_idle_sleep=0.02),
        )
        try:
            waiting = asyncio.ensure_future(anext(follower))
            appended = await store.append(f"{ns}report-A", batch(3), NO_STREAM)
            seen: list[RecordedEvent] = []
            first = await asyncio.wait_for(waiting, 10)
            seen += [e for e in first if e.stream.startswith(ns)]
            while len(seen) < 3:
                more = await asyncio.wait_for(anext(follower), 10)
                seen += [e for e in more if e.stream.startswith(ns)]
            assert seen == appended
        finally:
            await follower.aclose()

    # --- concurrency ------------------------------------------------------------------------
    async def test_fifty_concurrent_appends_to_different_streams_all_succeed(
        self, store: EventStore, ns: str
    ) -> None:
        start = await store.last_position()
        results = await asyncio.gather(
            *(store.append(f"{ns}report-{i:02d}", batch(2, str(i)), NO_STREAM) for i in range(50))
        )
        assert all(len(r) == 2 for r in results)
        found = await ours(store, ns, start)
        assert len(found) == 100
        assert sorted(e.position for r in results for e in r) == [e.position for e in found]
        assert len(await store.stream_names(ns)) == 50

    async def test_twenty_writers_with_the_same_expected_version_exactly_one_wins(
        self, store: EventStore, ns: str
    ) -> None:
        stream = f"{ns}report-A"
        await store.append(stream, batch(1), NO_STREAM)
        attempts = [batch(2, f"writer{i}") for i in range(20)]
        results = await asyncio.gather(
            *(store.append(stream, events, 1) for events in attempts), return_exceptions=True
        )
        winners = [r for r in results if not isinstance(r, BaseException)]
        losers = [r for r in results if isinstance(r, WrongExpectedVersion)]
        assert len(winners) == 1 and len(losers) == 19
        assert all(r.actual == 3 for r in losers)
        stored = await store.read(stream)
        assert stored[1:] == winners[0]

    async def test_concurrent_retries_of_the_same_append_store_it_once(
        self, store: EventStore, ns: str
    ) -> None:
        stream = f"{ns}report-A"
        events = batch(3)
        results = await asyncio.gather(
            *(store.append(stream, events, NO_STREAM) for _ in range(20))
        )
        assert all(r == results[0] for r in results)
        assert await store.read(stream) == results[0]

    async def test_two_clients_of_one_store_see_each_other_and_conflict_properly(
        self, store: EventStore, store_factory: StoreFactory, ns: str
    ) -> None:
        other = await store_factory()
        stream = f"{ns}report-A"
        written = await store.append(stream, batch(1), NO_STREAM)
        assert await other.read(stream) == written
        results = await asyncio.gather(
            store.append(stream, batch(1, "mine"), 1),
            other.append(stream, batch(1, "theirs"), 1),
            return_exceptions=True,
        )
        assert sum(isinstance(r, WrongExpectedVersion) for r in results) == 1
        assert len(await store.read(stream)) == len(await other.read(stream)) == 2
        # and many appends through both at once lose nothing
        start = await store.last_position()
        await asyncio.gather(
            *(
                (store if i % 2 else other).append(f"{ns}many-{i}", batch(3, str(i)), NO_STREAM)
                for i in range(40)
            )
        )
        assert len(await ours(store, ns, start)) == 120

    async def test_a_cancelled_caller_does_not_stop_the_store(
        self, store: EventStore, ns: str
    ) -> None:
        """A client that gives up (HTTP disconnect, timeout) must not break other writers; its
        events are then either stored whole or not at all, and a retry is idempotent."""
        attempts = [batch(2, str(i)) for i in range(20)]
        tasks = [
            asyncio.ensure_future(store.append(f"{ns}c-{i}", events, NO_STREAM))
            for i, events in enumerate(attempts)
        ]
        await asyncio.sleep(0)  # let every task reach the store (a yield, not a wait)
        for task in tasks[::2]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        after = await asyncio.wait_for(store.append(f"{ns}after", batch(1), NO_STREAM), 30)
        assert len(after) == 1
        for i, events in enumerate(attempts):
            stored = await store.read(f"{ns}c-{i}")
            assert ids(stored) in ([], ids(events))
            retried = await asyncio.wait_for(store.append(f"{ns}c-{i}", events, NO_STREAM), 30)
            assert ids(retried) == ids(events)

    # --- tamper evidence --------------------------------------------------------------------
    async def test_new_streams_and_continued_ones_return_the_hashes_an_audit_recomputes(
        self, store: EventStore, ns: str
    ) -> None:
        """A new stream's links are made before its head is looked up, a continued one's after:
        both must be the chain an audit recomputes, with and without region and agency codes,
        non-ASCII and escaped text, batches of one to three."""
        returned: list[RecordedEvent] = []
        for n in range(6):
            texts = [f'Jalan rusak \u00e9\u2028 "{n}.{i}" \\ \x1f' for i in range(1 + n % 3)]
            codes = {"region_code": "35.78", "agency_code": "dishub-35"} if n % 2 else {}
            events = [amended(text, **codes) for text in texts]
            returned += await store.append(f"{ns}report-{n}", events, NO_STREAM)
            returned += await store.append(f"{ns}report-{n}", [amended(f"lagi {n}")], len(events))
        stored = {e.event_id: e for e in await ours(store, ns, 0)}
        assert [(e.stream_version, e.prev_hash, e.hash) for e in returned] == [
            (
                stored[e.event_id].stream_version,
                stored[e.event_id].prev_hash,
                stored[e.event_id].hash,
            )
            for e in returned
        ]
        result = await audit_store(store)
        assert result.problems == []

    async def test_every_stream_chain_is_intact_after_many_interleaved_appends(
        self, store: EventStore, ns: str
    ) -> None:
        async def writer(n: int) -> None:
            for round_ in range(5):
                stream = n % 12
                size = 1 + (n + round_) % 3
                await store.append(f"{ns}report-{stream:02d}", batch(size, f"{n}.{round_}"), ANY)

        await asyncio.gather(*(writer(n) for n in range(36)))
        for stream in range(12):
            events = await store.read(f"{ns}report-{stream:02d}")
            assert [e.stream_version for e in events] == list(range(1, len(events) + 1))
            previous = GENESIS
            for event in events:
                assert event.prev_hash == previous
                previous = event.hash
        result = await audit_store(store)
        assert result.problems == []
        assert result.events >= 36 * 5
