"""Redelivered and duplicated NATS messages change nothing.

A few reports go their way (submitted, verified, forwarded, notices sent). Then the very messages
the relay published for them (same subjects, same bodies) are published to LAPOR_EVENTS again:
- with their own `Nats-Msg-Id`: JetStream drops them as duplicates (PubAck.duplicate);
- with a new `Nats-Msg-Id`: JetStream keeps them, and every running service's consumer gets each
  event a second time;
- and, while routing and notify are down, copies that the test pulls from their durable
  consumers and NAKs, so each is redelivered to the restarted service (JetStream's own
  redelivery path, delivery count 2).
Afterwards every service's views, notify's outbox, the event store and the SMTP server's mailbox
are exactly as before, and the consumers counted the copies as redeliveries.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx
import nats
from nats.js.api import PubAck

from shared.runtime.messaging import POSITION_HEADER, STREAM_NAME
from shared.settings import SERVICE_NAMES
from tests.faults.harness import Faults, table_as_written, view_tables
from tests.support import wait_for

REPORTS = 12
NAKED = ("routing", "notify")  # the services with side effects: events appended, mail sent


def submit_and_forward(faults: Faults, count: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    tracking_ids = []
    for index in range(count):
        response = httpx.post(
            f"{faults.url('intake')}/api/v1/reports",
            json={
                "title": f"Uji pesan ganda {run}-{index}",
                "body": "Air bersih tidak mengalir tiga hari di kelurahan ini.",
                "category": "kesehatan",
                "location": {"region_code": "5371"},
                "reporter": {"email": f"ganda.{run}.{index}@example.org"},
            },
            timeout=60,
        )
        assert response.status_code == 201, response.text
        tracking_ids.append(response.json()["tracking_id"])
    verified = httpx.post(
        f"{faults.url('verification')}/api/v1/bulk-verify",
        json={"tracking_ids": tracking_ids},
        headers=faults.admin(),
        timeout=120,
    )
    assert verified.status_code == 200, verified.text
    streams = [f"report-{t}" for t in tracking_ids]

    def forwarded() -> bool:
        rows = faults.store(
            "SELECT COUNT(DISTINCT stream) FROM events WHERE event_type = 'ForwardedToOPD'"
            f" AND stream IN ({','.join('?' * len(streams))})",
            streams,
        )
        return int(rows[0][0]) == len(streams)

    wait_for(forwarded, timeout=120, interval=0.5, what="reports forwarded")
    return tracking_ids


def snapshot(faults: Faults) -> dict[str, Any]:
    """Everything a duplicate could change."""
    state: dict[str, Any] = {
        "events": faults.last_position(),
        "outbox": [tuple(r) for r in faults.store_outbox("SELECT * FROM outbox")],
        "mails": len(faults.sink.received()),
    }
    for name in SERVICE_NAMES:
        state[f"{name}.checkpoint"] = faults.checkpoint(name)
        for table in view_tables(name):
            state[f"{name}.{table}"] = table_as_written(faults.view_path(name), table)
    return state


def redeliveries(faults: Faults, service: str) -> float:
    text = httpx.get(f"{faults.url(service)}/metrics", timeout=10).text
    match = re.search(
        rf'^lapor_consumer_redeliveries_total{{service="{service}"}} ([0-9.e+]+)$', text, re.M
    )
    return float(match.group(1)) if match else 0.0


async def copies_of(url: str, first_position: int) -> list[Any]:
    """The messages the relay published for every event from `first_position` on."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(STREAM_NAME)
        found = []
        seq = info.state.last_seq
        while seq >= info.state.first_seq:
            msg = await js.get_msg(STREAM_NAME, seq=seq)
            assert msg.headers is not None
            if int(msg.headers[POSITION_HEADER]) < first_position:
                break
            found.append(msg)
            seq -= 1
        return list(reversed(found))
    finally:
        await nc.close()


async def republish(url: str, messages: list[Any], *, same_id: bool) -> list[PubAck]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        acks = []
        for msg in messages:
            headers = dict(msg.headers or {})
            if not same_id:
                headers["Nats-Msg-Id"] = f"copy-{uuid.uuid4()}"
            acks.append(await js.publish(msg.subject, msg.data, headers=headers))
        return acks
    finally:
        await nc.close()


async def pull_and_nak(url: str, durable: str, expected: int) -> int:
    """Take what waits for `durable` (its service is down) and NAK it: JetStream redelivers."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe_bind(durable, STREAM_NAME)
        naked = 0
        while naked < expected:
            for msg in await sub.fetch(expected - naked, timeout=10):
                await msg.nak()
                naked += 1
        return naked
    finally:
        await nc.close()


async def all_delivered(url: str) -> bool:
    """Every consumer has been handed every message in the stream (acks aside: a message whose
    ack a NATS restart lost stays pending until `ack_wait` and is skipped when it comes back)."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        last = (await js.stream_info(STREAM_NAME)).state.last_seq
        for name in SERVICE_NAMES:
            info = await js.consumer_info(STREAM_NAME, name)
            if info.num_pending or (info.delivered.stream_seq or 0) < last:
                return False
        return True
    finally:
        await nc.close()


def took_copies(faults: Faults, since: dict[str, float], copies: int) -> bool:
    """Every consumer counted at least `copies` more messages it had handled already."""
    return asyncio.run(all_delivered(faults.nats.url)) and all(
        redeliveries(faults, name) - since.get(name, 0.0) >= copies for name in SERVICE_NAMES
    )


def test_duplicated_and_redelivered_messages_change_nothing(whole: Faults) -> None:
    faults = whole
    first = faults.last_position() + 1
    tracking_ids = submit_and_forward(faults, REPORTS)
    faults.wait_quiet()
    before = snapshot(faults)
    counted = {name: redeliveries(faults, name) for name in SERVICE_NAMES}
    url = faults.nats.url
    messages = asyncio.run(copies_of(url, first))
    # Each report: submitted, verified, forwarded, and the outcomes of its four notices (three
    # to the reporter, one e-mail to the agency).
    assert len(messages) >= REPORTS * 3, len(messages)

    # The same Nats-Msg-Id: JetStream itself drops the copy.
    acks = asyncio.run(republish(url, messages, same_id=True))
    assert all(ack.duplicate for ack in acks), "JetStream stored a copy with a known Nats-Msg-Id"

    # New ids while everyone runs: every consumer gets every event again.
    asyncio.run(republish(url, messages, same_id=False))
    faults.copies_published += len(messages)
    wait_for(
        lambda: took_copies(faults, counted, len(messages)),
        timeout=120,
        interval=0.5,
        what="every consumer took the copies",
    )

    first_round = {name: redeliveries(faults, name) for name in SERVICE_NAMES}

    # NAK and redelivery: the copies wait for routing and notify while they are down; the test
    # pulls them from those services' own durables, NAKs them, and the restarted services get
    # them again from JetStream.
    for name in NAKED:
        faults.kill(name)
    asyncio.run(republish(url, messages, same_id=False))
    faults.copies_published += len(messages)
    for name in NAKED:
        assert asyncio.run(pull_and_nak(url, name, len(messages))) == len(messages)
    for name in NAKED:
        faults.start(name)
    for name in NAKED:
        faults.wait_ready(name)
    # The restarted processes count from zero; the others get this second round as well.
    since = {name: 0.0 if name in NAKED else first_round[name] for name in SERVICE_NAMES}
    wait_for(
        lambda: took_copies(faults, since, len(messages)),
        timeout=120,
        interval=0.5,
        what="every consumer took the redeliveries",
    )
    faults.wait_quiet()

    after = snapshot(faults)
    changed = [key for key in before if before[key] != after[key]]
    assert not changed, f"duplicates changed {changed}"
    assert len(tracking_ids) == REPORTS
