"""An institution's own system on NATS, as it really connects: the credentials `lapor nats
credentials --agency CODE` prints, its durable pull consumer `agency-<CODE>` (kept by the relay
from the directory), on nats-server as `lapor nats serve` runs it (no anonymous clients).

Real processes: nats-server, the relay, intake, verification and routing on one SQLite store.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import nats
import pytest
from nats.aio.msg import Msg

from tests.driver import Driver, driving, eventually
from tests.routing.steps import DINKES, DPUPR, forwarded
from tests.support import LaporNats, System, free_port, start_system

SERVICES = ("intake", "verification", "routing")
ACK_WAIT = 2.0


@pytest.fixture(scope="module")
def lapor_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaporNats]:
    server = LaporNats(free_port(), tmp_path_factory.mktemp("agency") / "data").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def system(lapor_nats: LaporNats) -> Iterator[System]:
    running = start_system(
        lapor_nats.data_dir,
        lapor_nats.url,
        services=SERVICES,
        extra_env={
            "LAPOR_AGENCY_ACK_WAIT_SECONDS": str(ACK_WAIT),
            "LAPOR_AGENCY_CONSUMERS": "true",
        },
    )
    try:
        yield running
    finally:
        running.stop_all()
        for name in ("relay", *SERVICES):
            if "Traceback" in running.log(name):
                print(f"--- {name} log ---\n{running.log(name)[-4000:]}")


@pytest.fixture
async def drive(system: System) -> AsyncIterator[Driver]:
    async with driving(system) as driver:
        yield driver


@dataclass
class Institution:
    """An institution's system: the worked example of docs/agency-integration.md."""

    url: str
    code: str
    errors: list[str] = field(default_factory=list)
    nc: Any = None
    inbox: Any = None

    async def connect(self) -> Institution:
        async def on_error(error: Exception) -> None:
            self.errors.append(str(error))

        self.nc = await nats.connect(
            self.url, inbox_prefix=f"_INBOX.agency-{self.code}", error_cb=on_error
        )
        self.inbox = await self.nc.jetstream().pull_subscribe_bind(
            f"agency-{self.code}", "LAPOR_EVENTS"
        )
        return self

    async def fetch(self, batch: int = 50, timeout: float = 0.5) -> list[Msg]:
        try:
            return list(await self.inbox.fetch(batch, timeout=timeout))
        except nats.errors.TimeoutError:
            return []

    async def close(self) -> None:
        await self.nc.close()


def event_of(msg: Msg) -> tuple[str, str]:
    """(tracking_id, event_type) of a delivered message."""
    import json

    body = json.loads(msg.data)
    return body["stream"].removeprefix("report-"), body["event_type"]


def stored_for(system: System, agency: str, after: int) -> set[tuple[str, str]]:
    """What the store holds on `agency`'s subject after `after` (the relay's copies aside)."""
    with sqlite3.connect(f"file:{system.data_dir / 'events.db'}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT stream, event_type FROM events WHERE agency_code = ? AND position > ?",
            (agency, after),
        ).fetchall()
    return {(stream.removeprefix("report-"), kind) for stream, kind in rows}


def position_of(system: System, tracking_id: str, event_type: str) -> int:
    with sqlite3.connect(f"file:{system.data_dir / 'events.db'}?mode=ro", uri=True) as db:
        row = db.execute(
            "SELECT max(position) FROM events WHERE stream = ? AND event_type = ?",
            (f"report-{tracking_id}", event_type),
        ).fetchone()
    return int(row[0])


async def receive_until(
    institution: Institution, wanted: set[tuple[str, str]], ack: bool = True
) -> list[Msg]:
    got: list[Msg] = []

    async def arrived() -> bool:
        for msg in await institution.fetch():
            got.append(msg)
            if ack:
                await msg.ack()
        return wanted <= {event_of(m) for m in got}

    await eventually(arrived, 30, what=f"{wanted} at {institution.code}")
    return got


async def test_an_institution_away_gets_exactly_what_it_missed_and_nothing_else(
    system: System, lapor_nats: LaporNats, drive: Driver
) -> None:
    url = lapor_nats.credentials("--agency", DINKES)
    assert url.startswith(f"nats://agency-{DINKES}:")
    first, agency = await forwarded(drive, "Air PAM mati", region="5371", category="kesehatan")
    assert agency == DINKES

    dinkes = await Institution(url, DINKES).connect()
    await receive_until(dinkes, {(first, "ForwardedToOPD")})
    await dinkes.close()  # the institution's system is stopped

    # While it is away: a forward, a follow-up and its own return; another institution's report.
    second, _ = await forwarded(drive, "Obat habis", region="5371", category="kesehatan")
    assert (await drive.follow_up(first, DINKES, "Petugas meninjau.")).status_code == 201
    returned = await drive.agency(
        second, "return", DINKES, {"reason": "not_our_authority", "note": "Bukan urusan kami."}
    )
    assert returned.status_code == 200, returned.text
    _, other = await forwarded(drive, "Jalan berlubang", region="5371", category="infrastruktur")
    assert other == DPUPR

    missed = {(second, "ForwardedToOPD"), (first, "FollowUpPosted"), (second, "ReportReturned")}
    acked_before = position_of(system, first, "ForwardedToOPD")
    assert missed <= stored_for(system, DINKES, acked_before)

    back = await Institution(url, DINKES).connect()
    try:
        got = await receive_until(back, stored_for(system, DINKES, acked_before))
        got += await back.fetch(timeout=1.0)  # and nothing more comes
        assert sorted(event_of(m) for m in got) == sorted(stored_for(system, DINKES, acked_before))
        assert missed <= {event_of(m) for m in got}
        assert all(m.subject.endswith(f".{DINKES}") for m in got)

        # Everything else is refused, clearly.
        await back.nc.subscribe("lapor.v1.events.>")
        other_inbox = await back.nc.jetstream().pull_subscribe_bind(
            f"agency-{DPUPR}", "LAPOR_EVENTS"
        )
        with pytest.raises(nats.errors.TimeoutError):
            await other_inbox.fetch(1, timeout=1)
        with pytest.raises(nats.errors.TimeoutError):
            await back.nc.jetstream().publish("lapor.v1.events.ReportClosed._._", b"{}", timeout=1)

        def refused() -> bool:
            text = " ".join(back.errors).lower()
            return all(
                s in text
                for s in (
                    'permissions violation for subscription to "lapor.v1.events.>"',
                    f"consumer.msg.next.lapor_events.agency-{DPUPR.lower()}",
                    'permissions violation for publish to "lapor.v1.events.reportclosed._._"',
                )
            )

        await eventually(_async(refused), 10, what=f"permission errors: {back.errors}")
    finally:
        await back.close()

    # Anonymous clients and wrong passwords are refused.
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(lapor_nats.url, allow_reconnect=False, max_reconnect_attempts=0)
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(
            url.replace(url.split(":")[2].split("@")[0], "wrong"),
            allow_reconnect=False,
            max_reconnect_attempts=0,
        )


def _async(check: Any) -> Any:
    async def run() -> bool:
        return bool(check())

    return run


async def test_both_institutions_hear_of_a_transfer_and_the_services_handle_it_once(
    system: System, lapor_nats: LaporNats, drive: Driver
) -> None:
    tracking_id, agency = await forwarded(
        drive, "Saluran air tersumbat", region="5371", category="kesehatan"
    )
    assert agency == DINKES
    moved = await drive.agency(tracking_id, "transfer", DINKES, {"agency_code": DPUPR})
    assert moved.status_code == 200, moved.text

    leaver = await Institution(lapor_nats.credentials("--agency", DINKES), DINKES).connect()
    receiver = await Institution(lapor_nats.credentials("--agency", DPUPR), DPUPR).connect()
    try:
        left = await receive_until(leaver, {(tracking_id, "ReportTransferred")})
        came = await receive_until(receiver, {(tracking_id, "ReportTransferred")})
    finally:
        await leaver.close()
        await receiver.close()
    copy = next(m for m in left if event_of(m) == (tracking_id, "ReportTransferred"))
    original = next(m for m in came if event_of(m) == (tracking_id, "ReportTransferred"))
    assert copy.subject.endswith(f".{DINKES}") and original.subject.endswith(f".{DPUPR}")
    assert copy.data == original.data  # the same event, same event_id and position
    assert copy.headers and original.headers
    assert copy.headers["Lapor-Position"] == original.headers["Lapor-Position"]
    assert copy.headers["Nats-Msg-Id"] == f"{original.headers['Nats-Msg-Id']}:{DINKES}"

    # The services saw one event: the report is in DPUPR's inbox once, and not in DINKES's.
    inbox = await drive.inbox(DPUPR)
    assert [item["tracking_id"] for item in inbox].count(tracking_id) == 1
    assert tracking_id not in [item["tracking_id"] for item in await drive.inbox(DINKES)]


async def test_a_client_that_acks_late_or_drops_mid_batch_loses_nothing(
    system: System, lapor_nats: LaporNats, drive: Driver
) -> None:
    code = "DPUPR-KOTA-KUPANG"
    url = lapor_nats.credentials("--agency", code)
    first = await Institution(url, code).connect()
    await receive_until(first, set())  # whatever is there from other tests: taken and acked
    while await first.fetch(timeout=0.3):
        pass
    reports = [
        (await forwarded(drive, f"Lampu jalan {n}", region="5371", category="infrastruktur"))[0]
        for n in range(3)
    ]
    wanted = {(tid, "ForwardedToOPD") for tid in reports}
    got = await receive_until(first, wanted, ack=False)
    mine = [m for m in got if event_of(m) in wanted]
    await mine[0].ack()  # one acknowledged, then the client dies mid-batch
    await first.close()

    again = await Institution(url, code).connect()
    try:
        redelivered = await receive_until(again, {event_of(m) for m in mine[1:]}, ack=False)
        ids = {m.headers["Nats-Msg-Id"] for m in redelivered if m.headers}
        # The unacknowledged two come back, with the same Nats-Msg-Id; the acked one does not.
        assert {m.headers["Nats-Msg-Id"] for m in mine[1:] if m.headers} <= ids
        assert mine[0].headers and mine[0].headers["Nats-Msg-Id"] not in ids

        # Acking late (after ack_wait) gets the message again; acking then settles it.
        late = redelivered[0]
        twice = await receive_until(again, {event_of(late)}, ack=False)
        assert late.headers and twice[0].headers
        assert twice[0].headers["Nats-Msg-Id"] == late.headers["Nats-Msg-Id"]
        for msg in [*redelivered, *twice]:
            await msg.ack()
        await asyncio.sleep(0)
        assert not [m for m in await again.fetch(timeout=ACK_WAIT * 2) if event_of(m) in wanted]
    finally:
        await again.close()


async def test_an_institution_added_to_the_directory_can_connect_without_editing_config(
    system: System, lapor_nats: LaporNats, drive: Driver
) -> None:
    code = "PUSKESMAS-ALAK"
    admin = drive.client("routing", drive.admin())
    created = await admin.post(
        "/api/v1/agencies",
        json={
            "code": code,
            "name": "Puskesmas Alak",
            "level": "unit",
            "region_code": "5371",
            "parent": DINKES,
        },
    )
    assert created.status_code == 201, created.text
    url = lapor_nats.credentials("--agency", code)

    async def connected() -> bool:
        institution = Institution(url, code)
        try:
            await institution.connect()
            await institution.fetch(timeout=0.3)
            info = await institution.inbox.consumer_info()
            return bool(info.config.filter_subject == f"lapor.v1.events.*.*.{code}")
        except (nats.errors.Error, httpx.HTTPError, OSError):
            return False
        finally:
            if institution.nc is not None:
                await institution.nc.close()

    await eventually(connected, 30, what="the new institution's user and consumer")
    assert "nats_accounts_reloaded" in (lapor_nats.data_dir / "nats.log").read_text()
