"""One running intake per test module for the polls' round trips: nats-server, relay and intake
as real processes, a real Kannel (bearerbox + smsbox + fakesmsc handsets) both delivering the
citizens' SMS to intake and carrying intake's verification codes out, and an SMTP sink
(aiosmtpd) receiving the e-mailed codes. The test process reads the same SQLite store."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.store.port import RecordedEvent
from tests.intake_channels.fakes import Mailbox
from tests.intake_channels.kannel import KannelGateway, missing_kannel, require_kannel
from tests.support import NatsServer, System, free_port, nats_server, wait_for

START = "2026-05-04T08:00:00+07:00"
OTP = re.compile(r"\b(\d{6})\b")


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
    def url(self) -> str:
        return self.system.url("intake")

    @property
    def data_dir(self) -> Path:
        return self.system.data_dir

    def sms(self) -> KannelGateway:
        if self.kannel is None:
            require_kannel()  # skips (or fails under CI)
        assert self.kannel is not None
        return self.kannel

    def auth(self, role: str, agency: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.system.token(role, agency=agency)}"}

    def set_clock(self, iso: str) -> None:
        self.system.set_clock(iso)

    def events(self, code: str) -> list[RecordedEvent]:
        from shared.store.sqlite import SqliteEventStore

        async def read() -> list[RecordedEvent]:
            store = SqliteEventStore(self.data_dir / "events.db")
            try:
                return list(await store.read(f"poll-{code}"))
            finally:
                await store.close()

        return asyncio.run(read())

    def event_types(self, code: str) -> list[str]:
        return [e.event_type for e in self.events(code)]

    def mailed_code(self, address: str, count: int) -> str:
        """The code in the `count`-th mail to `address` (waits for it)."""

        def arrived() -> str | None:
            mails = self.mailbox.to(address)
            if len(mails) < count:
                return None
            body = mails[count - 1].message.get_body(("plain",))
            assert body is not None
            found = OTP.search(body.get_content())
            return found.group(1) if found else None

        return wait_for(arrived, timeout=30, what=f"mail {count} to {address}")

    def poll(self, code: str, **expected: Any) -> dict[str, Any]:
        """GET the poll once the view shows it as expected."""

        def fetch() -> dict[str, Any] | None:
            answer = httpx.get(f"{self.url}/api/v1/polls/{code}", timeout=10)
            body: dict[str, Any] = answer.json()
            ok = answer.status_code == 200 and all(body.get(k) == v for k, v in expected.items())
            return body if ok else None

        return wait_for(fetch, timeout=30, what=f"poll {code} with {expected}")


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
