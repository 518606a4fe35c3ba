"""One running LAPOR (nats-server, relay, intake, verification as real processes) for the whole
verification test package: start-up costs seconds, so the tests share it and keep apart by
creating their own reports (and their own region codes where they look at the queue)."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.auth import Role, create_token
from shared.calendar import WIB
from shared.store.sqlite import SqliteEventStore
from tests.support import System, free_port, nats_server, wait_for

_regions = itertools.count(random.randint(1000, 8999))


def fresh_region(province: str = "32") -> str:
    """A region code no other test uses (a made-up village under a real province)."""
    return f"{province}{next(_regions):04d}01"


@dataclass
class Lapor:
    system: System
    intake: httpx.Client = field(init=False)
    desk: httpx.Client = field(init=False)
    admin_token: str = field(init=False)

    def __post_init__(self) -> None:
        self.intake = httpx.Client(base_url=self.system.url("intake"), timeout=10)
        self.desk = httpx.Client(base_url=self.system.url("verification"), timeout=10)
        self.admin_token = self.token("admin")

    def token(self, role: str, **claims: Any) -> str:
        return create_token(self.system.secret.encode(), Role(role), **claims)

    def auth(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin_token}"}

    def submit(self, **fields: Any) -> tuple[str, str]:
        """A citizen reports through intake; returns (tracking_id, access_code)."""
        body = {
            "title": "Jalan rusak",
            "body": "Jalan di depan puskesmas rusak parah dan berlubang.",
            "location": {"region_code": fresh_region()},
        } | fields
        created = self.intake.post("/api/v1/reports", json=body)
        assert created.status_code == 201, created.text
        data = created.json()
        return data["tracking_id"], data["access_code"]

    def seen(self, tracking_id: str, token: str | None = None) -> dict[str, Any]:
        """The desk's view of a report, once the desk has projected it."""

        def get() -> dict[str, Any] | None:
            got = self.desk.get(f"/api/v1/reports/{tracking_id}", headers=self.auth(token))
            return got.json() if got.status_code == 200 else None

        return wait_for(get, 15, what=f"{tracking_id} at the desk")

    def queued(self, token: str | None = None, **params: Any) -> list[dict[str, Any]]:
        got = self.desk.get("/api/v1/queue", params=params, headers=self.auth(token))
        assert got.status_code == 200, got.text
        rows: list[dict[str, Any]] = got.json()
        return rows

    def queue_ids(self, token: str | None = None, **params: Any) -> list[str]:
        return [row["tracking_id"] for row in self.queued(token, **params)]

    def act(
        self,
        tracking_id: str,
        action: str,
        body: dict[str, Any] | None = None,
        token: str | None = None,
        key: str | None = None,
    ) -> httpx.Response:
        headers = self.auth(token) | ({"Idempotency-Key": key} if key else {})
        return self.desk.post(
            f"/api/v1/reports/{tracking_id}/{action}", json=body or {}, headers=headers
        )

    def timeline(self, tracking_id: str, length: int) -> list[dict[str, Any]]:
        """Intake's timeline of the report, once it has `length` events."""

        def get() -> list[dict[str, Any]] | None:
            got = self.intake.get(f"/api/v1/reports/{tracking_id}/timeline", headers=self.auth())
            events: list[dict[str, Any]] = got.json() if got.status_code == 200 else []
            return events if len(events) >= length else None

        return wait_for(get, 15, what=f"{length} events in intake's timeline")

    def stored(self, tracking_id: str) -> list[str]:
        """The report's events as the store holds them (the source of truth)."""

        async def read() -> list[str]:
            store = SqliteEventStore(self.system.data_dir / "events.db")
            try:
                return [e.event_type for e in await store.read(f"report-{tracking_id}")]
            finally:
                await store.close()

        return asyncio.run(read())

    def history(self, tracking_id: str) -> list[str]:
        return [e["event_type"] for e in self.seen(tracking_id)["history"]]

    def set_clock(self, at: datetime | None) -> None:
        self.system.set_clock(at.isoformat() if at else "")

    def close(self) -> None:
        self.intake.close()
        self.desk.close()


SERVICES = ("intake", "verification")


@pytest.fixture(scope="package")
def lapor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lapor]:
    tmp = tmp_path_factory.mktemp("verification")
    with nats_server(tmp) as nats:
        # What tests.support.start_system does, except that the processes already started are
        # stopped when one of them fails to come up (start_system would leave them running).
        data_dir = tmp / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        system = System(data_dir, nats.url, {name: free_port() for name in SERVICES})
        try:
            system.start("relay")
            for name in SERVICES:
                system.start(name)
            for name in SERVICES:
                system.wait_ready(name)
            running = Lapor(system)
            try:
                yield running
            finally:
                running.close()
        finally:
            system.stop_all()
            for name in ("verification", "relay"):
                print(f"--- {name} log (tail) ---", system.log(name)[-4000:], sep="\n")


@pytest.fixture
def wall_clock(lapor: Lapor) -> Iterator[Lapor]:
    """For tests that move time: the clock goes back to the wall clock afterwards."""
    try:
        yield lapor
    finally:
        lapor.set_clock(None)


def days_from_now(days: int) -> str:
    """A date `days` after today in WIB (the desk's "today" for a report without a region)."""
    return (datetime.now(WIB) + timedelta(days=days)).date().isoformat()
