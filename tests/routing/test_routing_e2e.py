"""Routing against running services (intake, verification, routing, relay, nats-server, SQLite):
an institution's own system, subscribed to its NATS subject, gets exactly its events. This needs
the relay and JetStream, so real processes; routing's API behaviour is tested in process
(test_desk_api.py, test_directory_api.py, test_desk_pages.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from tests.driver import driving
from tests.routing.steps import DINKES, DPUPR, forwarded
from tests.support import NatsServer, System, async_wait_for, start_system

SERVICES = ("intake", "verification", "routing")


@pytest.fixture
def system(fresh_nats: NatsServer, tmp_path: Path) -> Iterator[System]:
    """Its own nats-server: the subscriber reads the whole stream and expects only this
    system's events."""
    running = start_system(tmp_path / "data", fresh_nats.url, services=SERVICES)
    try:
        yield running
    finally:
        running.stop_all()
        for name in ("routing", "verification"):
            print(f"--- {name} log ---\n{running.log(name)[-4000:]}")


async def test_an_agency_system_subscribed_to_its_subject_gets_exactly_its_events(
    system: System,
) -> None:
    # A durable pull consumer of its own on its subject (what an operator can make on a server
    # without LAPOR's users; institutions get `agency-<CODE>`: test_agency_consumer.py).
    nc = await nats.connect(system.nats_url)
    try:
        js = nc.jetstream()
        subscription = await js.pull_subscribe(
            f"lapor.v1.events.*.*.{DINKES}",
            durable="dinkes-kota-kupang-system",
            stream="LAPOR_EVENTS",
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        # Events for two institutions in the same city while the subscriber listens.
        async with driving(system) as drive:
            mine = await forwarded(
                drive, "Air bersih puskesmas", region="5371", category="kesehatan"
            )
            theirs = await forwarded(
                drive, "Jalan berlubang", region="5371", category="infrastruktur"
            )
            assert (mine[1], theirs[1]) == (DINKES, DPUPR)
            followed = await drive.follow_up(mine[0], DINKES, "Tangki air dikirim.")
            assert followed.status_code == 201

        def stored() -> dict[str, str]:
            with sqlite3.connect(f"file:{system.data_dir / 'events.db'}?mode=ro", uri=True) as db:
                rows = db.execute("SELECT event_id, agency_code FROM events").fetchall()
            return {event_id: agency for event_id, agency in rows}

        in_store = await asyncio.to_thread(stored)
        expected = {e for e, agency in in_store.items() if agency == DINKES}
        assert any(agency == DPUPR for agency in in_store.values())

        received: dict[str, str] = {}

        async def everything_arrived() -> bool:
            try:
                for msg in await subscription.fetch(100, timeout=0.5):
                    received[msg.headers["Nats-Msg-Id"]] = msg.subject  # type: ignore[index]
                    await msg.ack()
            except nats.errors.TimeoutError:
                pass
            return expected <= received.keys()

        await async_wait_for(everything_arrived, 20, what="DINKES events at the subscriber")
        assert set(received) == expected
        assert all(subject.endswith(f".{DINKES}") for subject in received.values())
        types = {subject.split(".")[3] for subject in received.values()}
        assert {"ForwardedToOPD", "FollowUpPosted"} <= types
        # The other institution's events never reached this subscriber.
        assert not {e for e, agency in in_store.items() if agency == DPUPR} & received.keys()
    finally:
        await nc.close()
