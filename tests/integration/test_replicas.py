"""Several hosts: two intake processes, each with a data directory of its own (as on two
machines), append to one store; one notify, on a third, tells every reporter. The per-report data
keys live in the store's database, so notify decrypts the contacts either intake wrote.
Real processes on NATS as `lapor nats serve` runs it."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.reports.tracking import is_valid_tracking_id
from tests.security.support import SendsmsSink
from tests.support import LaporNats, System, free_port, wait_for

WEBHOOK_TOKEN = "replica-test-webhook-token"


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[tuple[System, System, System]]:
    shared = tmp_path / "shared"
    lapor_nats = LaporNats(free_port(), shared).start()
    sendsms = SendsmsSink().start()
    env = {
        "LAPOR_EVENT_STORE": f"sqlite:///{shared / 'events.db'}",
        "LAPOR_SMS_SENDSMS_URL": sendsms.url,
        "LAPOR_SMS_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
    }

    def host(name: str, services: tuple[str, ...]) -> System:
        system = System(
            tmp_path / name,
            lapor_nats.url,
            {s: free_port() for s in services} | {"relay_metrics": free_port()},
            extra_env=env,
        )
        system.data_dir.mkdir(parents=True)
        return system

    first, second = host("host-a", ("intake",)), host("host-b", ("intake",))
    third = host("host-c", ("notify",))
    started: list[System] = []
    try:
        third.start("relay")
        started.append(third)
        for system, name in ((first, "intake"), (second, "intake"), (third, "notify")):
            system.start(name)
            started.append(system)
        for system, name in ((first, "intake"), (second, "intake"), (third, "notify")):
            system.wait_ready(name)
        third.sendsms = sendsms  # type: ignore[attr-defined]
        yield first, second, third
    finally:
        for system in started:
            system.stop_all()
        sendsms.stop()
        lapor_nats.stop()
        for system in (first, second, third):
            for name in ("intake", "notify", "relay"):
                if "Traceback" in system.log(name):
                    print(f"--- {system.data_dir.name} {name} ---\n{system.log(name)[-3000:]}")


def test_every_report_submitted_to_either_intake_is_notified(
    hosts: tuple[System, System, System],
) -> None:
    first, second, notify = hosts
    sendsms: SendsmsSink = notify.sendsms  # type: ignore[attr-defined]
    phones = {}
    for n, intake in zip(range(8), itertools.cycle((first, second)), strict=False):
        # The reporter leaves only a phone: intake encrypts it with a new data key, and notify
        # (on another host) must decrypt it to send the receipt by SMS.
        phone = f"+62812000077{n:02d}"
        created = httpx.post(
            f"{intake.url('intake')}/api/v1/reports",
            json={
                "title": f"Lampu jalan mati nomor {n}",
                "body": f"Lampu jalan mati di depan rumah nomor {n} sejak seminggu, Kota Kupang.",
                "category": "infrastruktur",
                "location": {"region_code": "5371", "address": f"Jl. Frans Seda {n}"},
                "reporter": {"name": "Warga", "phone": phone},
            },
            timeout=10,
        )
        assert created.status_code == 201, created.text
        phones[created.json()["tracking_id"]] = phone
    # By SMS, as Kannel calls intake: the reply itself is the receipt (no second SMS).
    reply = httpx.get(
        f"{second.url('intake')}/channels/sms",
        params={
            "from": "+6281200007799",
            "to": "1708",
            "text": "KUPANG Lampu jalan mati di depan rumah nomor 99 sejak seminggu",
            "id": "replica-99",
            "token": WEBHOOK_TOKEN,
        },
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    ids = [t for t in re.findall(r"[2-9A-HJ-NP-Z]{10}", reply.text) if is_valid_tracking_id(t)]
    assert ids, reply.text

    def everyone_told() -> bool:
        return all(
            any(tid in sms.get("text", "") for sms in sendsms.to(phone))
            for tid, phone in phones.items()
        )

    wait_for(everyone_told, 60, what="a receipt SMS for every report")
    for tid, phone in phones.items():
        texts = [sms["text"] for sms in sendsms.to(phone)]
        assert sum(tid in text for text in texts) == 1, texts  # once, whichever intake took it
    # No host keeps a keys file of its own: the keys are in the shared store.
    for system in hosts:
        assert not (system.data_dir / "keys.db").exists()
