"""Intake with every channel configured, for the channel tests: the Meta and X webhooks pointing
their send APIs at a local fake of the platforms (`fakes.FakePlatforms`).

- `hooks`: intake in process (tests/harness.py), for the webhooks' behaviour (SMS calls as Kannel
  makes them, the social platforms' deliveries).
- `channels`: one running intake (real processes: nats-server, relay, intake) where a real peer
  or the process matters: Kannel, inbound SMTP and outbound mail to a local SMTP sink, the
  process's log."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.reports.commands import Command
from shared.sms.gsm7 import is_gsm7, septet_length
from tests.harness import InProcessSystem, in_process
from tests.intake_channels.fakes import FakePlatforms, Mailbox
from tests.intake_web.officers import act
from tests.support import System, free_port, nats_server, wait_for

META_SECRET = "meta-app-secret-for-tests"
META_VERIFY_TOKEN = "verify-me-lapor"
X_SECRET = "x-consumer-secret-for-tests"
RECEIPT = re.compile(r"ID: (?P<id>[2-9A-HJ-NP-Z]{10}) Kode akses: (?P<code>[2-9A-HJ-NP-Z]{8})")


def one_sms(text: str) -> str:
    assert is_gsm7(text), text
    assert septet_length(text) <= 160, (septet_length(text), text)
    return text


def receipt(text: str) -> tuple[str, str]:
    match = RECEIPT.search(one_sms(text))
    assert match, text
    return match["id"], match["code"]


def channel_env(platforms: FakePlatforms) -> dict[str, str]:
    """The webhooks' secrets and the send APIs at the fake platforms."""
    return {
        "LAPOR_META_APP_SECRET": META_SECRET,
        "LAPOR_META_VERIFY_TOKEN": META_VERIFY_TOKEN,
        "LAPOR_META_GRAPH_URL": f"{platforms.url}/graph/v21.0",
        "LAPOR_INSTAGRAM_GRAPH_URL": f"{platforms.url}/instagram/v21.0",
        "LAPOR_WHATSAPP_ACCESS_TOKEN": "wa-token",
        "LAPOR_MESSENGER_ACCESS_TOKEN": "page-token",
        "LAPOR_INSTAGRAM_ACCESS_TOKEN": "ig-token",
        "LAPOR_X_CONSUMER_SECRET": X_SECRET,
        "LAPOR_X_ACCESS_TOKEN": "x-user-token",
        "LAPOR_X_API_URL": f"{platforms.url}/x",
        "LAPOR_CHANNEL_MESSAGES_PER_HOUR": "10",
    }


def step(name: str) -> tuple[Command, str]:
    """A step another service takes on a report (verify, forward, follow_up, reject,
    request_completion): the command, and the kind of officer who gives it."""
    from shared.reports.commands import (
        ForwardReport,
        PostFollowUp,
        RejectReport,
        RequestCompletion,
        VerifyReport,
    )
    from shared.reports.events import RejectionReason

    command: Command
    if name == "verify":
        command = VerifyReport()
    elif name == "forward":
        command = ForwardReport(
            agency_code="PEMKOT-KUPANG",
            agency_name="Pemerintah Kota Kupang",
            follow_up_due=date(2030, 1, 10),
            routed_by="admin",
        )
    elif name == "follow_up":
        command = PostFollowUp(
            agency_code="PEMKOT-KUPANG",
            text="Jalan sudah kami tambal; mohon konfirmasi apakah sudah baik.",
        )
    elif name == "reject":
        command = RejectReport(reason=RejectionReason.SPAM)
    elif name == "request_completion":
        command = RequestCompletion(note="Sebutkan kantor dan harinya")
    else:
        raise ValueError(name)
    return command, "agency" if name == "follow_up" else "admin"


@pytest.fixture(scope="package")
def platforms() -> Iterator[FakePlatforms]:
    fake = FakePlatforms()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@dataclass
class Hooks:
    """Intake in process with the channels configured; reads as the other tests' `channels`."""

    lapor: InProcessSystem
    platforms: FakePlatforms
    http: httpx.AsyncClient

    async def report(self, tracking_id: str, access_code: str | None = None) -> dict[str, Any]:
        """The report as its reporter (`access_code`) or, without one, as the national
        administrator sees it: all of it, published or not."""
        headers = (
            {"X-Access-Code": access_code}
            if access_code
            else {"Authorization": f"Bearer {self.lapor.token('admin')}"}
        )
        response = await self.http.get(f"/api/v1/reports/{tracking_id}", headers=headers)
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        return report

    async def timeline(self, tracking_id: str, access_code: str | None = None) -> list[str]:
        headers = {"X-Access-Code": access_code} if access_code else {}
        response = await self.http.get(f"/api/v1/reports/{tracking_id}/timeline", headers=headers)
        response.raise_for_status()
        return [e["event_type"] for e in response.json()]

    async def metric(self, name: str, **labels: str) -> float:
        """One sample from intake's /metrics (0 when absent; counters live as long as the test
        process: compare before and after)."""
        return sample((await self.http.get("/metrics")).text, name, labels)

    async def drive(self, tracking_id: str, *steps: str) -> None:
        """Move a report along as the other services would."""
        for name in steps:
            command, kind = step(name)
            await act(self.lapor, tracking_id, command, kind)


@pytest.fixture
async def hooks(tmp_path: Path, platforms: FakePlatforms) -> AsyncIterator[Hooks]:
    env = channel_env(platforms)
    async with (
        in_process(tmp_path / "lapor", ("intake",), env=env) as lapor,
        lapor.client("intake") as http,
    ):
        yield Hooks(lapor, platforms, http)


def sample(text: str, name: str, labels: dict[str, str]) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        head, _, value = line.rpartition(" ")
        got = head[len(name) + 1 : -1].split(",")
        if sorted(got) == sorted(wanted.split(",")):
            return float(value)
    return 0.0


@dataclass
class ChannelSystem:
    system: System
    platforms: FakePlatforms
    mailbox: Mailbox
    smtp_port: int

    @property
    def url(self) -> str:
        return self.system.url("intake")

    @property
    def data_dir(self) -> Path:
        return self.system.data_dir

    def report(self, tracking_id: str, access_code: str | None = None) -> dict[str, Any]:
        """The report's view once intake's projection has it: as its reporter (`access_code`)
        or, without one, as the national administrator sees it (all of it, published or not)."""
        headers = (
            {"X-Access-Code": access_code}
            if access_code
            else {"Authorization": f"Bearer {self.token('admin')}"}
        )

        def fetch() -> dict[str, Any] | None:
            response = httpx.get(f"{self.url}/api/v1/reports/{tracking_id}", headers=headers)
            return response.json() if response.status_code == 200 else None

        return wait_for(fetch, what=f"report {tracking_id} visible")

    def timeline(self, tracking_id: str, access_code: str | None = None) -> list[str]:
        headers = {"X-Access-Code": access_code} if access_code else {}
        response = httpx.get(f"{self.url}/api/v1/reports/{tracking_id}/timeline", headers=headers)
        response.raise_for_status()
        return [e["event_type"] for e in response.json()]

    def metric(self, name: str, **labels: str) -> float:
        """One sample from intake's /metrics (0 when absent)."""
        return sample(httpx.get(f"{self.url}/metrics").text, name, labels)

    def token(self, role: str, agency: str | None = None) -> str:
        return self.system.token(role, agency=agency)

    def events(self, tracking_id: str) -> list[Any]:
        """The report's stream as stored (RecordedEvent), read from the shared event store."""
        from shared.store.sqlite import SqliteEventStore

        async def read() -> list[Any]:
            store = SqliteEventStore(self.system.data_dir / "events.db")
            try:
                return list(await store.read(f"report-{tracking_id}"))
            finally:
                await store.close()

        return asyncio.run(read())

    def drive(self, tracking_id: str, *steps: str) -> None:
        """Move a report along as the other services would (verify, forward, follow_up, reject),
        by running the domain commands against the shared event store."""
        asyncio.run(_drive(self.system.data_dir, tracking_id, steps))


async def _drive(data_dir: Path, tracking_id: str, steps: tuple[str, ...]) -> None:
    from shared.clock import SystemClock
    from shared.events.base import Actor
    from shared.runtime.repository import Meta, ReportRepository
    from shared.store.sqlite import SqliteEventStore

    store = SqliteEventStore(data_dir / "events.db")
    try:
        repo = ReportRepository(store, SystemClock())
        for name in steps:
            command, kind = step(name)
            await repo.execute(
                tracking_id,
                command,
                Meta(actor=Actor(kind=kind, id="test"), correlation_id="test-drive"),
            )
    finally:
        await store.close()


@pytest.fixture(scope="package")
def channels(
    tmp_path_factory: pytest.TempPathFactory, platforms: FakePlatforms
) -> Iterator[ChannelSystem]:
    root = tmp_path_factory.mktemp("channels")
    mailbox = Mailbox()
    smtp_port = free_port()
    env = {
        **channel_env(platforms),
        "LAPOR_INTAKE_SMTP_PORT": str(smtp_port),
        "LAPOR_SMTP_URL": mailbox.url,
        "LAPOR_INTAKE_SMTP_MAX_BYTES": "3000000",
    }
    with contextlib.ExitStack() as stack:
        mailbox.start()
        stack.callback(mailbox.stop)
        nats = stack.enter_context(nats_server(root))
        # start_system's steps, with the stop registered first: a failed start cleans up too.
        (root / "data").mkdir()
        system = System(root / "data", nats.url, {"intake": free_port()}, extra_env=env)
        stack.callback(lambda: print(system.log("intake")[-4000:]))  # shown when a test fails
        stack.callback(system.stop_all)
        system.start("relay")
        system.start("intake")
        system.wait_ready("intake")
        wait_for(_port_open(smtp_port), what="intake's SMTP port")
        yield ChannelSystem(system, platforms, mailbox, smtp_port)


def _port_open(port: int) -> Any:
    import socket
    from contextlib import closing

    def check() -> bool:
        with closing(socket.socket()) as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    return check
