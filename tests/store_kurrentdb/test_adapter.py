"""What the KurrentDB adapter does beyond the contract: how it stores events, what it hides,
how it survives a node that fails, restarts or drops its subscriptions, TLS and credentials."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc  # type: ignore[import-untyped]
import pytest
from kurrentdbclient import KurrentDBClient, StreamState
from kurrentdbclient import NewEvent as KdbNewEvent

from cli.audit import audit_store
from shared.store import open_store
from shared.store.kurrentdb import CLAIM_STREAM_PREFIX, KurrentDbEventStore, redact
from shared.store.port import (
    ANY,
    NO_STREAM,
    RecordedEvent,
    StoreUnavailable,
    WrongExpectedVersion,
)
from tests.contract.store_contract import amended, batch, ids
from tests.kurrentdb_double import KurrentDbDouble
from tests.support import async_wait_for

pytestmark = pytest.mark.asyncio


def raw_client(double: KurrentDbDouble) -> KurrentDBClient:
    return KurrentDBClient(double.url)


async def test_open_store_selects_the_adapter_from_the_connection_string(
    double: KurrentDbDouble,
) -> None:
    store = open_store(double.url)
    try:
        assert isinstance(store, KurrentDbEventStore)
        assert len(await store.append("report-A", batch(1), NO_STREAM)) == 1
    finally:
        await store.close()
    with pytest.raises(ValueError, match="Unknown field"):
        open_store("kurrentdb://localhost:2113?Tls=false&Nonsense=1")
    assert redact("kurrentdb://admin:s3cret@db:2113?Tls=false") == (
        "kurrentdb://admin:***@db:2113?Tls=false"
    )


async def test_events_are_stored_as_json_with_the_envelope_and_chain_in_metadata(
    double: KurrentDbDouble,
) -> None:
    store = KurrentDbEventStore(double.url)
    client = raw_client(double)
    try:
        [event] = await store.append(
            "report-A", [amended("satu", region_code="5371", correlation_id="c-1")], NO_STREAM
        )
        [raw] = client.get_stream("report-A")
        assert raw.id == event.event_id and raw.type == "ReportAmended"
        assert raw.content_type == "application/json"
        assert json.loads(raw.data) == {"text": "satu", "attachments": []}
        meta = json.loads(raw.metadata)
        assert meta["stream_version"] == 1 and raw.stream_position == 0
        assert (meta["prev_hash"], meta["hash"]) == (event.prev_hash, event.hash)
        assert meta["$correlationId"] == "c-1" and meta["region_code"] == "5371"
        assert raw.commit_position == event.position
        # its id is claimed for this stream, and the claim is hidden from LAPOR's reads
        claim = client.get_stream(f"{CLAIM_STREAM_PREFIX}{event.event_id}")
        assert json.loads(claim[0].data) == {"stream": "report-A"}
        assert await store.stream_names() == ["report-A"]
        assert await store.read(f"{CLAIM_STREAM_PREFIX}{event.event_id}") == []
        assert [e.event_id for e in await store.read_all()] == [event.event_id]
    finally:
        client.close()
        await store.close()


async def test_system_and_foreign_events_never_reach_the_relay(double: KurrentDbDouble) -> None:
    store = KurrentDbEventStore(double.url)
    client = raw_client(double)
    try:
        first = await store.append("report-A", batch(1), NO_STREAM)
        double.append_system_event()
        for i in range(5):  # another application's events, without LAPOR's envelope
            client.append_to_stream(
                f"other-app-{i}",
                current_version=StreamState.NO_STREAM,
                events=[KdbNewEvent(type="Something", data=b"{}")],
            )
        double.append_system_event()
        second = await store.append("report-B", batch(1), NO_STREAM)
        assert await store.read_all(0, 1000) == first + second
        # a page of nothing but foreign events is skipped, not taken for the end
        assert await store.read_all(first[0].position, 2) == second
        assert await store.last_position() == second[0].position
        assert await store.stream_names() == ["report-A", "report-B"]
    finally:
        client.close()
        await store.close()


async def test_audit_verify_names_an_event_written_around_the_chain(
    double: KurrentDbDouble,
) -> None:
    store = KurrentDbEventStore(double.url)
    client = raw_client(double)
    try:
        stored = await store.append("report-A", batch(3), NO_STREAM)
        assert (await audit_store(store)).problems == []
        # Someone with write access to the cluster appends a forged event that copies the
        # envelope of the last one but says something else.
        meta = json.loads(client.get_stream("report-A")[-1].metadata)
        meta["stream_version"] = 4
        client.append_to_stream(
            "report-A",
            current_version=2,
            events=[
                KdbNewEvent(
                    type="ReportAmended",
                    data=json.dumps({"text": "forged", "attachments": []}).encode(),
                    metadata=json.dumps(meta).encode(),
                )
            ],
        )
        problems = (await audit_store(store)).problems
        assert any("report-A v4" in p and "link to previous event broken" in p for p in problems)
        assert any("report-A v4" in p and "hash mismatch" in p for p in problems)
        assert stored[-1].stream_version == 3
        # and one written with no envelope at all
        client.append_to_stream(
            "report-B", current_version=StreamState.ANY, events=[KdbNewEvent(type="X", data=b"{")]
        )
        problems = (await audit_store(store, "B")).problems
        assert any("report-B v1" in p and "hash mismatch" in p for p in problems)
    finally:
        client.close()
        await store.close()


async def test_a_stale_head_from_an_earlier_read_is_a_conflict_not_a_broken_chain(
    double: KurrentDbDouble,
) -> None:
    mine, theirs = KurrentDbEventStore(double.url), KurrentDbEventStore(double.url)
    try:
        await mine.append("report-A", batch(1), NO_STREAM)
        assert len(await mine.read("report-A")) == 1  # mine now remembers the head at v1
        await theirs.append("report-A", batch(1, "theirs"), 1)
        with pytest.raises(WrongExpectedVersion) as conflict:
            await mine.append("report-A", batch(1, "mine"), 1)
        assert conflict.value.actual == 2
        await mine.append("report-A", batch(1, "mine"), 2)
        events = await theirs.read("report-A")
        assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
        assert (await audit_store(theirs)).problems == []
    finally:
        await mine.close()
        await theirs.close()


async def test_transient_failures_are_retried(double: KurrentDbDouble) -> None:
    store = KurrentDbEventStore(double.url)
    try:
        double.fail_next(4)  # more than the client's own retries
        stored = await store.append("report-A", batch(2), NO_STREAM)
        double.fail_next(4, grpc.StatusCode.DEADLINE_EXCEEDED)
        assert await store.read("report-A") == stored
        double.fail_next(4)
        assert await store.read_all() == stored
    finally:
        await store.close()


async def test_a_node_that_stays_down_makes_the_store_unavailable_until_it_is_back(
    double: KurrentDbDouble,
) -> None:
    store = KurrentDbEventStore(double.url, retry_for=0.5, timeout=2)
    try:
        first = await store.append("report-A", batch(1), NO_STREAM)
        double.stop()
        with pytest.raises(StoreUnavailable):
            await store.append("report-A", batch(1, "down"), 1)
        with pytest.raises(StoreUnavailable):
            await store.read_all()
        double.start()  # the same port, the same data: a node restart
        # The client reconnects on gRPC's own backoff: once a read answers, the node is back.
        await async_wait_for(lambda: store.read("report-A"), 30, what="the node to answer again")
        second = await store.append("report-A", batch(1, "back"), 1)
        assert await store.read("report-A") == first + second
    finally:
        await store.close()


async def test_a_restart_during_a_retry_window_is_ridden_out(double: KurrentDbDouble) -> None:
    store = KurrentDbEventStore(double.url, retry_for=20, timeout=2)
    try:
        await store.append("report-A", batch(1), NO_STREAM)
        double.stop()
        appending = asyncio.ensure_future(store.append("report-A", batch(1, "during"), 1))
        done, _ = await asyncio.wait({appending}, timeout=0.3)
        assert not done  # still retrying while the node is away
        double.start()
        assert len(await asyncio.wait_for(appending, 30)) == 1
        assert [e.stream_version for e in await store.read("report-A")] == [1, 2]
    finally:
        await store.close()


async def test_tls_and_credentials_come_from_the_connection_string(tmp_path: Path) -> None:
    with KurrentDbDouble(tls_dir=tmp_path, credentials=("admin", "changeit")) as double:
        store = open_store(double.url)
        try:
            assert len(await store.append("report-A", batch(1), NO_STREAM)) == 1
        finally:
            await store.close()
        refused = open_store(double.url_for(("admin", "wrong")))
        try:
            with pytest.raises(StoreUnavailable, match="credentials"):
                await refused.read("report-A")
        finally:
            await refused.close()
        assert "wrong" not in repr(refused)


async def test_a_cluster_connection_string_discovers_the_leader_by_gossip(
    double: KurrentDbDouble,
) -> None:
    store = open_store(
        f"kurrentdb://{double.host}:{double.port},{double.host}:{double.port}?Tls=false"
    )
    try:
        assert len(await store.append("report-A", batch(1), ANY)) == 1
        assert double.calls["Gossip.Read"] >= 1
    finally:
        await store.close()


async def test_import_keeps_ids_versions_and_hashes_and_can_run_again(
    double: KurrentDbDouble, shared_double: KurrentDbDouble
) -> None:
    source = KurrentDbEventStore(shared_double.url)
    target = KurrentDbEventStore(double.url)
    try:
        stream = f"report-{uuid.uuid4().hex[:8]}"
        original = await source.append(stream, batch(1200), NO_STREAM)  # several chunks
        await target.import_recorded(stream, original[:700])
        await target.import_recorded(stream, original[:700])  # a re-run after an interruption
        await target.import_recorded(stream, original[700:])
        copied = await target.read(stream)
        assert [(e.event_id, e.stream_version, e.prev_hash, e.hash) for e in copied] == [
            (e.event_id, e.stream_version, e.prev_hash, e.hash) for e in original
        ]
        assert (await audit_store(target)).problems == []
        other = await source.append(f"{stream}-x", batch(1), NO_STREAM)
        with pytest.raises(WrongExpectedVersion):  # something else is already at v1
            await target.import_recorded(stream, [other[0].model_copy(update={"stream": stream})])
    finally:
        await source.close()
        await target.close()


# --- following live ----------------------------------------------------------------------------
async def _collect(
    follower: AsyncIterator[list[RecordedEvent]], want: int, timeout: float = 20
) -> list[RecordedEvent]:
    seen: list[RecordedEvent] = []

    async def run() -> None:
        async for page in follower:
            seen.extend(page)
            if len(seen) >= want:
                return

    await asyncio.wait_for(run(), timeout)
    return seen


async def test_a_subscription_catches_up_then_follows_and_resubscribes_after_failures(
    double: KurrentDbDouble,
) -> None:
    store = KurrentDbEventStore(double.url, retry_for=30, timeout=2)
    try:
        before = await store.append("report-A", batch(3), NO_STREAM)
        start = before[0].position  # everything after the first event
        follower = store.subscribe(start, batch=2)
        seen = await _collect(follower, 2)
        assert ids(seen) == ids(before[1:])

        live = await store.append("report-B", batch(2), NO_STREAM)
        seen += await _collect(follower, 2)

        double.drop_subscriptions()  # the node ends every subscription (leader change)
        more = await store.append("report-C", batch(2), NO_STREAM)
        seen += await _collect(follower, 2)

        double.stop()  # the node restarts
        double.start()
        last = await store.append("report-D", batch(2), NO_STREAM)
        seen += await _collect(follower, 2)

        expected = before[1:] + live + more + last
        assert ids(seen) == ids(expected), "a subscription skipped or repeated an event"
        await follower.aclose()
    finally:
        await store.close()


async def test_a_subscription_from_the_start_of_an_empty_store_waits_for_the_first_event(
    double: KurrentDbDouble,
) -> None:
    store = KurrentDbEventStore(double.url)
    try:
        follower = store.subscribe(0)
        waiting = asyncio.ensure_future(_collect(follower, 1))
        done, _ = await asyncio.wait({waiting}, timeout=0.2)
        assert not done
        appended = await store.append("report-A", batch(1), NO_STREAM)
        assert ids(await waiting) == ids(appended)
        await follower.aclose()
    finally:
        await store.close()


async def test_a_subscription_from_a_position_that_is_no_events_starts_after_it(
    double: KurrentDbDouble,
) -> None:
    store = KurrentDbEventStore(double.url)
    try:
        before = await store.append("report-A", batch(3), NO_STREAM)
        follower = store.subscribe(before[1].position + 1)  # between two events
        assert ids(await _collect(follower, 1)) == ids(before[2:])
        beyond = store.subscribe(before[2].position + 1)  # just past the end
        waiting = asyncio.ensure_future(_collect(beyond, 1))
        later = await store.append("report-A", batch(1, "later"), 3)
        assert ids(await waiting) == ids(later)
        assert ids(await _collect(follower, 1)) == ids(later)
        await follower.aclose()
        await beyond.aclose()
    finally:
        await store.close()
