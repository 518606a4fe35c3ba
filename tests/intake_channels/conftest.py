"""One running intake (real processes: nats-server, relay, intake) for the channel tests, with
every channel configured: inbound SMTP, the Meta and X webhooks pointing their send APIs at a local
fake, and outbound mail to a local SMTP sink."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.intake_channels.fakes import FakePlatforms, Mailbox
from tests.support import System, free_port, nats_server, wait_for

META_SECRET = "meta-app-secret-for-tests"
META_VERIFY_TOKEN = "verify-me-lapor"
X_SECRET = "x-consumer-secret-for-tests"


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
        """The report's view once intake's projection has it."""
        headers = {"X-Access-Code": access_code} if access_code else {}

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
        text = httpx.get(f"{self.url}/metrics").text
        wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in text.splitlines():
            if not line.startswith(name + "{"):
                continue
            head, _, value = line.rpartition(" ")
            got = head[len(name) + 1 : -1].split(",")
            if sorted(got) == sorted(wanted.split(",")):
                return float(value)
        return 0.0

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
    from shared.reports.commands import (
        Command,
        ForwardReport,
        PostFollowUp,
        RejectReport,
        VerifyReport,
    )
    from shared.reports.events import RejectionReason
    from shared.runtime.repository import Meta, ReportRepository
    from shared.store.sqlite import SqliteEventStore

    store = SqliteEventStore(data_dir / "events.db")
    try:
        repo = ReportRepository(store, SystemClock())
        for step in steps:
            command: Command
            if step == "verify":
                command = VerifyReport()
            elif step == "forward":
                command = ForwardReport(
                    agency_code="PEMKOT-KUPANG",
                    agency_name="Pemerintah Kota Kupang",
                    follow_up_due=date(2030, 1, 10),
                    routed_by="admin",
                )
            elif step == "follow_up":
                command = PostFollowUp(
                    agency_code="PEMKOT-KUPANG",
                    text="Jalan sudah kami tambal; mohon konfirmasi apakah sudah baik.",
                )
            elif step == "reject":
                command = RejectReport(reason=RejectionReason.SPAM)
            else:
                raise ValueError(step)
            kind = "agency" if step == "follow_up" else "admin"
            await repo.execute(
                tracking_id,
                command,
                Meta(actor=Actor(kind=kind, id="test"), correlation_id="test-drive"),
            )
    finally:
        await store.close()


@pytest.fixture(scope="package")
def channels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChannelSystem]:
    root = tmp_path_factory.mktemp("channels")
    platforms = FakePlatforms()
    mailbox = Mailbox()
    smtp_port = free_port()
    env = {
        "LAPOR_INTAKE_SMTP_PORT": str(smtp_port),
        "LAPOR_SMTP_URL": mailbox.url,
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
        "LAPOR_INTAKE_SMTP_MAX_BYTES": "3000000",
    }
    with contextlib.ExitStack() as stack:
        platforms.start()
        stack.callback(platforms.stop)
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
