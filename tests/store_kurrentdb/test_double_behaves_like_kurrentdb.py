"""What the double claims about KurrentDB, checked through the real client.

Every test here that takes `kurrentdb_url` also runs against a real server when
LAPOR_TEST_KURRENTDB_URL is set, so a run there shows whether the double is faithful. The few
that only make sense against the double (fault injection, TLS with its own certificate, its
answer to a position that is no event's) take `double` instead.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc  # type: ignore[import-untyped]
import pytest
from kurrentdbclient import KurrentDBClient, NewEvent, StreamState
from kurrentdbclient.exceptions import (
    InvalidCommitPositionError,
    MaximumAppendSizeExceededError,
    NotFoundError,
    ServiceUnavailableError,
    UnauthenticatedError,
    WrongCurrentVersionError,
)

from tests.kurrentdb_double import KurrentDbDouble


@pytest.fixture
def client(kurrentdb_url: str) -> Iterator[KurrentDBClient]:
    one = KurrentDBClient(kurrentdb_url)
    yield one
    one.close()


def stream_name() -> str:
    return f"double-check-{uuid.uuid4().hex[:12]}"


def new(n: int = 1) -> list[NewEvent]:
    return [NewEvent(type="Checked", data=json.dumps({"i": i}).encode()) for i in range(n)]


def test_an_append_returns_the_commit_position_of_its_last_event(
    client: KurrentDBClient,
) -> None:
    stream = stream_name()
    position = client.append_to_stream(stream, current_version=StreamState.NO_STREAM, events=new(3))
    stored = client.get_stream(stream)
    assert [e.stream_position for e in stored] == [0, 1, 2]
    assert stored[-1].commit_position == position
    positions = [e.commit_position for e in stored]
    assert positions == sorted(positions) and len(set(positions)) == 3  # one event each


@pytest.mark.parametrize("retry_with", [StreamState.NO_STREAM, StreamState.ANY, StreamState.EXISTS])
def test_re_appending_the_same_ids_returns_the_same_position_and_writes_nothing(
    client: KurrentDBClient, retry_with: StreamState
) -> None:
    stream = stream_name()
    events = new(2)
    first = client.append_to_stream(stream, current_version=StreamState.NO_STREAM, events=events)
    again = client.append_to_stream(stream, current_version=retry_with, events=events)
    assert again == first
    assert len(client.get_stream(stream)) == 2


def test_re_appending_at_an_exact_revision_is_idempotent_too(client: KurrentDBClient) -> None:
    stream = stream_name()
    client.append_to_stream(stream, current_version=StreamState.NO_STREAM, events=new(1))
    events = new(2)
    first = client.append_to_stream(stream, current_version=0, events=events)
    client.append_to_stream(stream, current_version=2, events=new(1))
    assert client.append_to_stream(stream, current_version=0, events=events) == first
    assert len(client.get_stream(stream)) == 4


def test_a_retry_that_matches_only_part_of_what_is_stored_is_a_wrong_version(
    client: KurrentDBClient,
) -> None:
    stream = stream_name()
    events = new(2)
    client.append_to_stream(stream, current_version=StreamState.NO_STREAM, events=events)
    with pytest.raises(WrongCurrentVersionError):
        client.append_to_stream(
            stream, current_version=StreamState.NO_STREAM, events=[events[0], *new(2)]
        )
    assert len(client.get_stream(stream)) == 2


def test_wrong_expected_versions_name_the_actual_one(client: KurrentDBClient) -> None:
    stream = stream_name()
    with pytest.raises(WrongCurrentVersionError) as missing:
        client.append_to_stream(stream, current_version=StreamState.EXISTS, events=new(1))
    assert missing.value.actual_version is StreamState.NO_STREAM
    with pytest.raises(WrongCurrentVersionError):
        client.append_to_stream(stream, current_version=4, events=new(1))
    client.append_to_stream(stream, current_version=StreamState.NO_STREAM, events=new(2))
    with pytest.raises(WrongCurrentVersionError) as exists:
        client.append_to_stream(stream, current_version=StreamState.NO_STREAM, events=new(1))
    assert exists.value.actual_version == 1
    with pytest.raises(WrongCurrentVersionError) as stale:
        client.append_to_stream(stream, current_version=0, events=new(1))
    assert stale.value.actual_version == 1
    client.append_to_stream(stream, current_version=1, events=new(1))
    client.append_to_stream(stream, current_version=StreamState.ANY, events=new(1))
    assert client.get_current_version(stream) == 3


def test_a_stream_that_does_not_exist_is_not_found(client: KurrentDBClient) -> None:
    with pytest.raises(NotFoundError):
        client.get_stream(stream_name())
    assert client.get_current_version(stream_name()) is StreamState.NO_STREAM


def test_stream_reads_go_forwards_backwards_and_from_a_revision(
    client: KurrentDBClient,
) -> None:
    stream = stream_name()
    client.append_to_stream(stream, current_version=StreamState.NO_STREAM, events=new(5))
    assert [e.stream_position for e in client.get_stream(stream, stream_position=3)] == [3, 4]
    assert [e.stream_position for e in client.get_stream(stream, limit=2)] == [0, 1]
    backwards = client.get_stream(stream, backwards=True, limit=2)
    assert [e.stream_position for e in backwards] == [4, 3]


def test_reading_all_forwards_from_a_position_includes_it_and_backwards_does_not(
    client: KurrentDBClient,
) -> None:
    stream = stream_name()
    client.append_to_stream(stream, current_version=StreamState.NO_STREAM, events=new(3))
    stored = client.get_stream(stream)
    middle = stored[1].commit_position
    forwards = [e for e in client.read_all(commit_position=middle, limit=2)]
    assert [e.id for e in forwards] == [stored[1].id, stored[2].id]
    backwards = list(client.read_all(commit_position=middle, backwards=True, limit=1))
    assert backwards[0].id == stored[0].id


def test_system_events_are_filtered_out_by_default(client: KurrentDBClient) -> None:
    everything = list(client.read_all(filter_exclude=(), limit=10_000))
    assert any(e.type.startswith("$") for e in everything)  # a node writes its own
    assert not any(e.type.startswith("$") for e in client.read_all(limit=10_000))
    assert client.get_commit_position() <= everything[-1].commit_position


def test_filters_select_by_stream_name_prefix(client: KurrentDBClient) -> None:
    stream = stream_name()
    client.append_to_stream(stream, current_version=StreamState.NO_STREAM, events=new(2))
    found = list(
        client.read_all(filter_include=(stream,), filter_by_stream_name=True, filter_by_prefix=True)
    )
    assert {e.stream_name for e in found} == {stream} and len(found) == 2


def test_a_subscription_gets_what_came_after_its_position_then_live_events(
    client: KurrentDBClient,
) -> None:
    stream = stream_name()
    client.append_to_stream(stream, current_version=StreamState.NO_STREAM, events=new(2))
    first, second = client.get_stream(stream)
    with client.subscribe_to_all(commit_position=first.commit_position) as subscription:
        assert next(subscription).id == second.id  # after the position, not at it
        live = new(1)
        client.append_to_stream(stream, current_version=1, events=live)
        received = next(e for e in subscription if e.stream_name == stream)
        assert received.id == live[0].id


def test_an_append_over_the_maximum_size_is_refused(client: KurrentDBClient) -> None:
    stream = stream_name()
    huge = NewEvent(type="Checked", data=json.dumps({"x": "a" * (1024 * 1024 + 10)}).encode())
    with pytest.raises(MaximumAppendSizeExceededError):
        client.append_to_stream(stream, current_version=StreamState.NO_STREAM, events=[huge])
    with pytest.raises(NotFoundError):
        client.get_stream(stream)


# --- only against the double ---------------------------------------------------------------
def test_the_double_refuses_a_position_that_is_no_events(double: KurrentDbDouble) -> None:
    client = KurrentDBClient(double.url)
    try:
        client.append_to_stream("s", current_version=StreamState.NO_STREAM, events=new(1))
        position = client.get_stream("s")[0].commit_position
        with pytest.raises(InvalidCommitPositionError):
            list(client.read_all(commit_position=position + 1, filter_exclude=("x",)))
    finally:
        client.close()


def test_the_double_answers_gossip_for_cluster_connection_strings(
    double: KurrentDbDouble,
) -> None:
    hosts = f"{double.host}:{double.port},{double.host}:{double.port}"
    for url in (
        f"kurrentdb://{hosts}?Tls=false",
        f"kurrentdb+discover://{double.host}:{double.port}?Tls=false",
    ):
        client = KurrentDBClient(url)
        try:
            client.append_to_stream(stream_name(), current_version=StreamState.ANY, events=new(1))
        finally:
            client.close()
    assert double.calls["Gossip.Read"] >= 2


def test_the_double_checks_credentials_over_tls(tmp_path: Path) -> None:
    with KurrentDbDouble(tls_dir=tmp_path, credentials=("admin", "changeit")) as double:
        assert "TlsCaFile=" in double.url and "Tls=false" not in double.url
        client = KurrentDBClient(double.url)
        try:
            client.append_to_stream("s", current_version=StreamState.NO_STREAM, events=new(1))
        finally:
            client.close()
        wrong = KurrentDBClient(double.url_for(("admin", "wrong")))
        try:
            with pytest.raises(UnauthenticatedError):
                wrong.get_stream("s")
        finally:
            wrong.close()


def test_the_double_fails_calls_on_demand(double: KurrentDbDouble) -> None:
    client = KurrentDBClient(double.url)
    try:
        double.fail_next(5, grpc.StatusCode.UNAVAILABLE)
        with pytest.raises(ServiceUnavailableError):
            client.get_commit_position()  # the client itself retries twice, then gives up
    finally:
        client.close()
