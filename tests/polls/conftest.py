"""The polls' fixtures and what their tests share.

- In process (`lapor`, `drive`): intake alone in the test's event loop (tests/harness.py), its
  e-mailed one-time codes going to an SMTP sink (`mailbox`, aiosmtpd on loopback).
- Real processes (`polls`, `drive_processes`), for what needs them: one running intake per test
  module with nats-server and the relay, a real Kannel (bearerbox + smsbox + fakesmsc handsets)
  both delivering the citizens' SMS to intake and carrying intake's verification codes out, and
  the SMTP sink. The test process reads the same SQLite store.

Both speak through the one driver (tests/driver.py); the helpers below take it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.store.port import RecordedEvent
from shared.store.sqlite import SqliteEventStore
from tests.driver import Driver, driving
from tests.harness import InProcessSystem, in_process
from tests.intake_channels.fakes import Mailbox
from tests.intake_channels.kannel import KannelGateway, missing_kannel, require_kannel
from tests.support import NatsServer, System, free_port, nats_server, wait_for

START = "2026-05-04T08:00:00+07:00"
OTP = re.compile(r"\b(\d{6})\b")
OWNER = "PEMKOT-KUPANG"
OTHER = "PEMKAB-KUPANG"
CLOSES_AIR = "2026-05-11T08:00:00+07:00"
CLOSES_BBM = "2026-05-06T08:00:00+07:00"
AFTER_BBM = "2026-05-06T08:00:30+07:00"
BBM26 = {
    "code": "BBM26",
    "title": "Pembatasan BBM bersubsidi untuk kendaraan dinas",
    "policy_text": "Rancangan kebijakan pembatasan BBM bersubsidi.",
    "closes_at": CLOSES_BBM,
    "agency_code": OWNER,
    "allow_comment": False,
    "questions": [{"text": "Setuju?", "choices": ["Setuju", "Tidak setuju", "Ragu-ragu"]}],
}


def air26(**fields: Any) -> dict[str, Any]:
    """The water tariff consultation of Kota Kupang: two questions, one of them multiple."""
    return {
        "code": "AIR26",
        "title": "Penyesuaian tarif air minum 2026",
        "policy_text": "Rancangan Peraturan Wali Kota tentang tarif air minum PDAM Kota Kupang.",
        "region_code": "5371",
        "closes_at": CLOSES_AIR,
        "questions": [
            {"text": "Setuju tarif naik 10%?", "choices": ["Setuju", "Tidak setuju", "Ragu"]},
            {
                "text": "Apa yang harus diperbaiki dulu?",
                "kind": "multiple",
                "choices": ["Tekanan air", "Kualitas air", "Tagihan"],
            },
        ],
    } | fields


# --- speaking to intake through the driver ----------------------------------------------------
def intake(drive: Driver, role: str | None = None, agency: str | None = None) -> httpx.AsyncClient:
    """Intake as a citizen (no role) or with a token of `role`."""
    return drive.client("intake", drive.token(role, agency=agency) if role else None)


async def verify(drive: Driver, code: str, **identity: str) -> httpx.Response:
    return await intake(drive).post(f"/api/v1/polls/{code}/verification", json=identity)


async def answer(drive: Driver, code: str, body: dict[str, Any]) -> httpx.Response:
    return await intake(drive).post(f"/api/v1/polls/{code}/answers", json=body)


async def assert_sealed(drive: Driver, code: str) -> None:
    """No role reads the results before the poll closes: not even administrators."""
    for role, agency in (
        (None, None),
        ("admin", None),
        ("agency", OWNER),
        ("agency", OTHER),
        ("ombudsman", None),
        ("client", None),
    ):
        results = await intake(drive, role, agency).get(f"/api/v1/polls/{code}/results")
        assert results.status_code == 409, (role, agency, results.text)
        assert results.json()["detail"]["status"] == "sealed", (role, agency)
        assert "tallies" not in results.text


def mailed_code(mailbox: Mailbox, address: str, count: int) -> str:
    """The one-time code in the `count`-th mail to `address`."""
    mails = mailbox.to(address)
    assert len(mails) >= count, f"{len(mails)} mails to {address}"
    body = mails[count - 1].message.get_body(("plain",))
    assert body is not None
    found = OTP.search(body.get_content())
    assert found is not None, body.get_content()
    return found.group(1)


# --- in process -------------------------------------------------------------------------------
@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.start()
    try:
        yield box
    finally:
        box.stop()


@pytest.fixture
async def lapor(tmp_path: Path, mailbox: Mailbox) -> AsyncIterator[InProcessSystem]:
    """Intake alone in this event loop, mailing its one-time codes to `mailbox`; the clock at
    START. (No SMS gateway: codes to phones go through the real Kannel, in `polls`.)"""
    async with in_process(
        tmp_path / "lapor", ("intake",), env={"LAPOR_SMTP_URL": mailbox.url}
    ) as system:
        system.set_clock(START)
        yield system


# --- real processes ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def module_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    with nats_server(tmp_path_factory.mktemp("polls-nats")) as server:
        yield server


@dataclass
class PollSystem:
    system: System
    mailbox: Mailbox
    kannel: KannelGateway | None

    @property
    def data_dir(self) -> Path:
        return self.system.data_dir

    def sms(self) -> KannelGateway:
        if self.kannel is None:
            require_kannel()  # skips (or fails under CI)
        assert self.kannel is not None
        return self.kannel

    def set_clock(self, iso: str) -> None:
        self.system.set_clock(iso)

    async def events(self, code: str) -> list[RecordedEvent]:
        """The poll's stream, read from the store the processes share."""
        store = SqliteEventStore(self.data_dir / "events.db")
        try:
            return list(await store.read(f"poll-{code}"))
        finally:
            await store.close()

    async def event_types(self, code: str) -> list[str]:
        return [e.event_type for e in await self.events(code)]

    def mailed_code(self, address: str, count: int) -> str:
        """The code in the `count`-th mail to `address` (waits for it)."""
        wait_for(
            lambda: len(self.mailbox.to(address)) >= count,
            timeout=30,
            what=f"mail {count} to {address}",
        )
        return mailed_code(self.mailbox, address, count)


@pytest.fixture(scope="module")
def polls(
    tmp_path_factory: pytest.TempPathFactory, module_nats: NatsServer
) -> Iterator[PollSystem]:
    root = tmp_path_factory.mktemp("polls")
    data = root / "data"
    data.mkdir()
    (data / "clock.txt").write_text(START)
    system = System(data, module_nats.url, {"intake": free_port()})
    kannel = None if missing_kannel() else KannelGateway(root / "kannel", system.url("intake"))
    mailbox = Mailbox()
    system.extra_env.update(
        LAPOR_SMTP_URL=mailbox.url,
        LAPOR_POLLS_TICK_SECONDS="0.3",
        LAPOR_CHANNEL_MESSAGES_PER_HOUR="30",
    )
    if kannel is not None:
        system.extra_env["LAPOR_SMS_SENDSMS_URL"] = kannel.sendsms_url
    with contextlib.ExitStack() as stack:
        mailbox.start()
        stack.callback(mailbox.stop)
        stack.callback(lambda: print(system.log("intake")[-4000:]))  # shown when a test fails
        stack.callback(system.stop_all)
        system.start("relay")
        system.start("intake")
        system.wait_ready("intake")
        if kannel is not None:
            (root / "kannel").mkdir()
            stack.enter_context(kannel)
        yield PollSystem(system, mailbox, kannel)


@pytest.fixture
async def drive_processes(polls: PollSystem) -> AsyncIterator[Driver]:
    """The driver on the running processes of `polls` (reads may lag: use `eventually`)."""
    async with driving(polls.system) as driver:
        yield driver
