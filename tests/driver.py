"""The one driver tests use to act on LAPOR as its users do: citizens, administrators, officers.

It speaks HTTP only, so the same story runs against the in-process harness (`tests/harness.py`)
or against real processes (`tests/support.py`). Over real processes a read may lag a write: use
`eventually`. In process, every response is followed by delivery, so reads never lag.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from tests.harness import InProcessSystem
from tests.support import Deadline, System

T = TypeVar("T")
REPORT = {
    "title": "Jalan rusak di depan sekolah",
    "body": "Jalan berlubang besar di depan SD Negeri 3, membahayakan anak-anak.",
    "category": "infrastruktur",
    "location": {"region_code": "5371"},
}


@dataclass(frozen=True)
class Submitted:
    tracking_id: str
    access_code: str


@dataclass
class Driver:
    """`clients(service, token)` makes an HTTP client of a service; `token(role, …)` signs one."""

    make_client: Callable[[str, str | None], httpx.AsyncClient]
    make_token: Callable[..., str]
    _clients: dict[tuple[str, str | None], httpx.AsyncClient] = field(default_factory=dict)
    _admin: str | None = None

    @classmethod
    def of(cls, system: InProcessSystem | System) -> Driver:
        if isinstance(system, InProcessSystem):
            return cls(lambda service, token: system.client(service, token), system.token)

        def over_http(service: str, token: str | None) -> httpx.AsyncClient:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return httpx.AsyncClient(base_url=system.url(service), headers=headers, timeout=30)

        return cls(over_http, system.token)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    def client(self, service: str, token: str | None = None) -> httpx.AsyncClient:
        key = (service, token)
        if key not in self._clients:
            self._clients[key] = self.make_client(service, token)
        return self._clients[key]

    def token(self, role: str, agency: str | None = None, region: str | None = None) -> str:
        return self.make_token(role, agency=agency, region=region)

    def admin(self) -> str:
        """The token of the national administrator who acts when no other token is given (one
        person for the driver's life: a repeat by them is a repeat, not another admin's)."""
        if self._admin is None:
            self._admin = self.token("admin")
        return self._admin

    # --- citizens ---------------------------------------------------------------------------
    async def submit(self, **fields: Any) -> Submitted:
        response = await self.client("intake").post("/api/v1/reports", json=REPORT | fields)
        assert response.status_code == 201, response.text
        body = response.json()
        return Submitted(body["tracking_id"], body["access_code"])

    async def report(self, tracking_id: str, code: str | None = None) -> httpx.Response:
        headers = {"X-Access-Code": code} if code else {}
        return await self.client("intake").get(f"/api/v1/reports/{tracking_id}", headers=headers)

    async def timeline(self, tracking_id: str, code: str | None = None) -> list[dict[str, Any]]:
        headers = {"X-Access-Code": code} if code else {}
        response = await self.client("intake").get(
            f"/api/v1/reports/{tracking_id}/timeline", headers=headers
        )
        assert response.status_code == 200, response.text
        events: list[dict[str, Any]] = response.json()
        return events

    async def reporter(
        self, tracking_id: str, code: str, action: str, body: dict[str, Any]
    ) -> httpx.Response:
        """A reporter's action: `amendments`, `replies`, `close`, `rating`."""
        return await self.client("intake").post(
            f"/api/v1/reports/{tracking_id}/{action}", json=body, headers={"X-Access-Code": code}
        )

    # --- administrators ----------------------------------------------------------------------
    async def desk(
        self,
        tracking_id: str,
        action: str,
        body: dict[str, Any] | None = None,
        token: str | None = None,
        key: str | None = None,
    ) -> httpx.Response:
        """A verification desk action: `verify`, `reject`, `request-completion`, `postpone`…
        (`key`: an Idempotency-Key)."""
        headers = {"Idempotency-Key": key} if key else {}
        return await self.client("verification", token or self.admin()).post(
            f"/api/v1/reports/{tracking_id}/{action}", json=body or {}, headers=headers
        )

    async def verify(self, tracking_id: str, **body: Any) -> httpx.Response:
        response = await self.desk(tracking_id, "verify", body)
        assert response.status_code == 200, response.text
        return response

    async def desk_report(self, tracking_id: str, token: str | None = None) -> dict[str, Any]:
        """The verification desk's view of one report."""
        response = await self.client("verification", token or self.admin()).get(
            f"/api/v1/reports/{tracking_id}"
        )
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        return report

    async def queue(self, token: str | None = None, **params: Any) -> list[dict[str, Any]]:
        """The verification desk's queue (`status`, `region`, `q`, `overdue`… as query)."""
        response = await self.client("verification", token or self.admin()).get(
            "/api/v1/queue", params=params
        )
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()
        return rows

    # --- institutions ------------------------------------------------------------------------
    async def agency(
        self,
        tracking_id: str,
        action: str,
        agency: str,
        body: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """An institution's action: `follow-ups`, `return`, `transfer`."""
        token = self.token("agency", agency=agency)
        return await self.client("routing", token).post(
            f"/api/v1/reports/{tracking_id}/{action}", json=body or {}
        )

    async def follow_up(
        self, tracking_id: str, agency: str, text: str, kind: str = "interim"
    ) -> httpx.Response:
        return await self.agency(tracking_id, "follow-ups", agency, {"text": text, "kind": kind})

    async def inbox(self, agency: str, **filters: Any) -> list[dict[str, Any]]:
        """The institution's inbox; `filters` are its query parameters (status, overdue…)."""
        token = self.token("agency", agency=agency)
        response = await self.client("routing", token).get("/api/v1/inbox", params=filters)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()
        return items

    # --- operations --------------------------------------------------------------------------
    async def notifications(self, **params: str) -> list[dict[str, Any]]:
        """notify's delivery log, as an administrator reads it (`tracking_id`, `status`…)."""
        response = await self.client("notify", self.token("admin")).get(
            "/api/v1/notifications", params=params
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()
        return items


async def eventually(
    check: Callable[[], Awaitable[T | None]], timeout: float = 15.0, what: str = ""
) -> T:
    """Over real processes: wait until `check()` gives something truthy (stretched by load)."""
    deadline = Deadline(timeout)
    last: Exception | None = None
    while not deadline.passed():
        try:
            result = await check()
            if result:
                return result
        except Exception as error:  # not there yet
            last = error
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or check}: {last}")


@contextlib.asynccontextmanager
async def driving(system: InProcessSystem | System) -> AsyncIterator[Driver]:
    driver = Driver.of(system)
    try:
        yield driver
    finally:
        await driver.close()
