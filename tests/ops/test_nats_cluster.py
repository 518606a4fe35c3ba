"""A real three-node NATS JetStream cluster on loopback (deploy/nats/cluster.conf, its accounts and
permissions), an R3 LAPOR_EVENTS stream, and the stream's leader SIGKILLed while events flow:
nothing JetStream acknowledged is lost, nothing is stored twice, and consumers on the surviving
nodes carry on. Then the same with the real relay and intake processes instead of a raw publisher.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.client import JetStreamContext

from services.relay.agencies import reconcile
from shared.runtime.messaging import ALL_EVENTS, STREAM_NAME, declare_event_stream
from shared.store.sqlite import SqliteEventStore
from tests.ops.nats_cluster import AGENCY, AGENCY_USER, Cluster, Node, build_cluster
from tests.ops.tools import wait_ready
from tests.support import System, async_wait_for, free_port, wait_for

EVENTS = 240
KILL_AFTER = 80


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    (tmp_path / "nats").mkdir()
    running = build_cluster(tmp_path / "nats")
    try:
        for node in running.nodes:
            running.start(node)
        running.wait_healthy()
        yield running
    finally:
        running.stop()
        for node in running.nodes:
            if node.log.exists():
                print(f"--- {node.name} ---\n{node.log.read_text(errors='replace')[-2000:]}")


class Violations:
    """Collects the server's permission errors on a connection: there must be none."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    async def record(self, error: Exception) -> None:
        if "permission" in str(error).lower():
            self.errors.append(str(error))


async def connect(
    cluster: Cluster, user: str, nodes: list[Node], violations: Violations
) -> NatsClient:
    return await nats.connect(
        servers=[n.url(user) for n in nodes],
        name=f"test-{user}",
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
        connect_timeout=2,
        error_cb=violations.record,
    )


async def stream_leader(js: JetStreamContext) -> str:
    info = await js.stream_info(STREAM_NAME)
    assert info.cluster is not None and info.cluster.leader
    return str(info.cluster.leader)


async def stream_msg_ids(js: JetStreamContext) -> list[str]:
    """Every message's Nats-Msg-Id, in stream order."""
    info = await js.stream_info(STREAM_NAME)
    ids = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(STREAM_NAME, seq=seq)
        ids.append((msg.headers or {})["Nats-Msg-Id"])
    return ids


def caught_up(node: Node, messages: int) -> bool:
    """The node's own copy of LAPOR_EVENTS holds `messages` messages (from its /jsz)."""
    for account in node.jsz().get("account_details", []):
        for stream in account.get("stream_detail", []):
            if stream["name"] == STREAM_NAME:
                return bool(stream["state"]["messages"] == messages)
    return False


@pytest.fixture
async def violations() -> AsyncIterator[Violations]:
    found = Violations()
    yield found
    assert found.errors == [], "permission violations: the deploy accounts refuse a LAPOR user"


async def test_an_r3_stream_loses_no_acknowledged_event_when_its_leader_is_killed(
    cluster: Cluster, violations: Violations
) -> None:
    relay = await connect(cluster, "relay", cluster.nodes, violations)
    js = relay.jetstream(timeout=2)
    await declare_event_stream(js, replicas=3)
    info = await js.stream_info(STREAM_NAME)
    assert info.config.num_replicas == 3
    victim = cluster.node(await stream_leader(js))
    survivors = [n for n in cluster.nodes if n is not victim]

    # A service's durable consumer, connected to a node that survives.
    consumer_nc = await connect(cluster, "sla", survivors[:1], violations)
    consumer_js = consumer_nc.jetstream(timeout=2)
    sub = await consumer_js.pull_subscribe(
        ALL_EVENTS,
        durable="sla",
        stream=STREAM_NAME,
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=5, max_deliver=-1),
    )
    consumed: set[str] = set()
    publishing_done = asyncio.Event()

    async def consume() -> None:
        while True:
            try:
                for msg in await sub.fetch(50, timeout=0.5):
                    consumed.add((msg.headers or {})["Nats-Msg-Id"])
                    await msg.ack()
            except Exception:  # timeouts, leader elections
                if publishing_done.is_set() and consumed >= set(acked):
                    return
                await asyncio.sleep(0.05)

    acked: dict[str, int] = {}
    consumer = asyncio.create_task(consume())
    for i in range(EVENTS):
        if i == KILL_AFTER:
            cluster.kill(victim)
        event_id = str(uuid.uuid4())
        body = json.dumps({"event_type": "ReportSubmitted", "position": i + 1}).encode()
        subject = "lapor.v1.events.ReportSubmitted.5371._"

        async def published(event_id: str = event_id, body: bytes = body) -> bool:
            # A publisher retries with the same Nats-Msg-Id until JetStream acknowledges it.
            ack = await js.publish(subject, body, headers={"Nats-Msg-Id": event_id}, timeout=1)
            acked[event_id] = ack.seq
            return True

        await async_wait_for(published, 30, 0.1, what=f"event {i} acknowledged")
    publishing_done.set()
    assert victim.process is not None and not victim.alive()
    assert await stream_leader(js) != victim.name  # a survivor took over

    # The consumer on a surviving node carried on through the election.
    await asyncio.wait_for(consumer, 30)
    assert consumed == set(acked)

    # Every acknowledged event is in the stream once, in publishing order.
    ids = await stream_msg_ids(js)
    assert ids == list(acked)

    # The killed node comes back and catches up from its peers.
    cluster.start(victim)
    wait_for(lambda: caught_up(victim, EVENTS), 30, 0.2, what=f"{victim.name} caught up")
    await consumer_nc.close()
    await relay.close()


async def test_agencies_pull_only_their_own_consumer_and_cannot_publish(
    cluster: Cluster, violations: Violations
) -> None:
    relay = await connect(cluster, "relay", cluster.nodes, violations)
    js = relay.jetstream(timeout=2)
    await declare_event_stream(js, replicas=3)
    await reconcile(js, [AGENCY, "DPUPR-KOTA-KUPANG"])  # what the relay keeps from the directory
    denied: list[str] = []

    async def agency_errors(error: Exception) -> None:
        denied.append(str(error))

    agency = await nats.connect(
        servers=[cluster.nodes[2].url(AGENCY_USER)],
        error_cb=agency_errors,
        connect_timeout=2,
        inbox_prefix=f"_INBOX.{AGENCY_USER}",
    )
    own = await agency.jetstream().pull_subscribe_bind(AGENCY_USER, STREAM_NAME)
    everything = await agency.subscribe("lapor.v1.events.>")
    await agency.publish(f"lapor.v1.events.ReportSubmitted.5371.{AGENCY}", b"forged")
    await agency.flush()
    for agency_code in ("DPUPR-KOTA-KUPANG", AGENCY, "_"):
        subject = f"lapor.v1.events.ForwardedToOPD.5371.{agency_code}"
        await js.publish(subject, agency_code.encode(), headers={"Nats-Msg-Id": agency_code})
    got = await own.fetch(10, timeout=5)
    assert [m.data for m in got] == [AGENCY.encode()]  # nothing of the other's, nor its forgery
    await got[0].ack()
    with pytest.raises(nats.errors.TimeoutError):
        await everything.next_msg(timeout=0.1)
    other = await agency.jetstream().pull_subscribe_bind("agency-DPUPR-KOTA-KUPANG", STREAM_NAME)
    with pytest.raises(nats.errors.TimeoutError):
        await other.fetch(1, timeout=1)
    await async_wait_for(
        lambda: _true(
            any("subscription" in e.lower() and "lapor.v1.events.>" in e for e in denied)
            and any("publish" in e.lower() and "dpupr" in e.lower() for e in denied)
            and any("publish" in e.lower() and "reportsubmitted" in e.lower() for e in denied)
        ),
        5,
        what=f"permission violations reported to the agency: {denied}",
    )
    assert (await js.stream_info(STREAM_NAME)).state.messages == 3  # the forgery never got in
    await agency.close()
    await relay.close()


async def _true(value: bool) -> bool:
    return value


def test_the_relay_and_a_service_carry_on_when_the_stream_leader_is_killed(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The real relay (user relay) and intake (user intake) on the cluster: citizens keep
    submitting while the stream leader is SIGKILLed; every report reaches intake's read model
    through its durable consumer, and every stored event is in the stream exactly once."""
    data = tmp_path / "data"
    data.mkdir()
    # Each process its own NATS user, as in deploy/compose/production.yml.
    env = {"LAPOR_NATS_STREAM_REPLICAS": "3"}
    relay = System(data, cluster.urls("relay"), extra_env=env)
    intake = System(data, cluster.urls("intake"), ports={"intake": free_port()}, extra_env=env)
    relay.start("relay")
    intake.start("intake")
    try:
        wait_ready(intake, "intake")
        admin = {"Authorization": f"Bearer {intake.token('admin')}"}
        ops_url = cluster.urls("ops")

        async def leader_and_replicas() -> tuple[str, int]:
            nc = await nats.connect(
                servers=ops_url.split(","), connect_timeout=2, inbox_prefix="_INBOX.ops"
            )
            try:
                info = await nc.jetstream(timeout=2).stream_info(STREAM_NAME)
                assert info.cluster is not None
                return str(info.cluster.leader), int(info.config.num_replicas or 1)
            finally:
                await nc.close()

        leader, replicas = wait_for(
            lambda: asyncio.run(leader_and_replicas()), 30, 0.2, what="LAPOR_EVENTS declared"
        )
        assert replicas == 3, (
            "the relay declared LAPOR_EVENTS with 1 replica: set LAPOR_NATS_STREAM_REPLICAS"
        )
        victim = cluster.node(leader)

        tracking_ids: list[str] = []
        errors: list[str] = []

        def submit(count: int) -> None:
            with httpx.Client(timeout=10) as http:
                for i in range(count):
                    answer = http.post(
                        f"{intake.url('intake')}/api/v1/reports",
                        json={
                            "title": f"Jalan rusak {i}",
                            "body": "Jalan berlubang di depan sekolah, berbahaya bagi murid.",
                            "location": {"region_code": "5371"},
                        },
                    )
                    if answer.status_code != 201:
                        errors.append(answer.text)
                        continue
                    tracking_ids.append(answer.json()["tracking_id"])

        first = threading.Thread(target=submit, args=(15,))
        first.start()
        first.join()
        cluster.kill(victim)
        second = threading.Thread(target=submit, args=(15,))
        second.start()
        second.join()
        assert errors == [] and len(tracking_ids) == 30

        def in_read_model() -> bool:
            with httpx.Client(timeout=5, headers=admin) as http:
                return all(
                    http.get(f"{intake.url('intake')}/api/v1/reports/{tid}").status_code == 200
                    for tid in tracking_ids
                )

        wait_for(in_read_model, 60, 0.5, what="every report in intake's read model")

        cluster.start(victim)

        async def stream_matches_store() -> bool:
            store = SqliteEventStore(data / "events.db")
            try:
                stored = [str(e.event_id) for e in await store.read_all(0, 10_000)]
            finally:
                await store.close()
            nc = await nats.connect(servers=cluster.urls("relay").split(","), connect_timeout=2)
            try:
                ids = await stream_msg_ids(nc.jetstream(timeout=2))
            finally:
                await nc.close()
            return ids == stored and len(stored) >= 30

        wait_for(lambda: asyncio.run(stream_matches_store()), 30, 0.5, what="stream == store")
        wait_for(lambda: caught_up(victim, _count(data)), 30, 0.2, what=f"{victim.name} caught up")
    finally:
        relay.stop_all()
        intake.stop_all()
        for system, name in ((relay, "relay"), (intake, "intake")):
            print(f"--- {name} ---\n{system.log(name)[-3000:]}")


def _count(data: Path) -> int:
    import sqlite3

    with sqlite3.connect(data / "events.db") as conn:
        row: Any = conn.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0])
