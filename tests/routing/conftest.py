"""One running LAPOR (intake, verification, routing) per test module, with its own nats-server.

Starting processes is the slow part, so a module shares one system; each test makes its own
reports, so tests do not depend on each other's order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import System, nats_server, start_system, wait_for

SERVICES = ("intake", "verification", "routing")


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    tmp = tmp_path_factory.mktemp("routing")
    with nats_server(tmp) as nats:
        running = start_system(tmp / "data", nats.url, services=SERVICES)
        try:
            yield running
        finally:
            running.stop_all()
            for name in ("routing", "verification"):
                print(f"--- {name} log ---\n{running.log(name)[-4000:]}")


class Lapor:
    """Small helpers that speak the public HTTP contracts (DESIGN §5)."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.admin = {"Authorization": f"Bearer {system.token('admin')}"}

    def agency(self, code: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.system.token('agency', agency=code)}"}

    def url(self, service: str, path: str) -> str:
        return f"{self.system.url(service)}{path}"

    def submit(
        self,
        title: str,
        *,
        region: str | None,
        category: str | None,
        confidential: bool = False,
        anonymous: bool = False,
        reporter: dict[str, str] | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "title": title,
            "body": f"{title}: keluhan warga tentang pelayanan publik.",
            "category": category,
            "location": {"region_code": region} if region else {},
            "confidential": confidential,
            "anonymous": anonymous,
        }
        if reporter:
            body["reporter"] = reporter
        created = httpx.post(self.url("intake", "/api/v1/reports"), json=body, timeout=10)
        assert created.status_code == 201, created.text
        return str(created.json()["tracking_id"])

    def verify(self, tracking_id: str, **fields: Any) -> None:
        verified = httpx.post(
            self.url("verification", f"/api/v1/reports/{tracking_id}/verify"),
            json=fields,
            headers=self.admin,
            timeout=10,
        )
        assert verified.status_code == 200, verified.text

    def report(self, tracking_id: str) -> dict[str, Any]:
        got = httpx.get(
            self.url("intake", f"/api/v1/reports/{tracking_id}"), headers=self.admin, timeout=5
        )
        assert got.status_code == 200, got.text
        result: dict[str, Any] = got.json()
        return result

    def wait_status(
        self, tracking_id: str, status: str, agency: str | None = None, timeout: float = 20
    ) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            report = self.report(tracking_id)
            if report["status"] == status and (agency is None or report["agency_code"] == agency):
                return report
            return None

        return wait_for(reached, timeout, what=f"{tracking_id} {status} {agency or ''}")

    def forwarded(
        self, title: str, *, region: str | None, category: str | None, **verify: Any
    ) -> tuple[str, str]:
        """Submit, verify and wait until routing forwarded it: (tracking_id, agency_code)."""
        tracking_id = self.submit(title, region=region, category=category)
        self.verify(tracking_id, **verify)
        report = self.wait_status(tracking_id, "forwarded")
        return tracking_id, str(report["agency_code"])

    def timeline(self, tracking_id: str) -> list[dict[str, Any]]:
        got = httpx.get(
            self.url("intake", f"/api/v1/reports/{tracking_id}/timeline"),
            headers=self.admin,
            timeout=5,
        )
        assert got.status_code == 200, got.text
        result: list[dict[str, Any]] = got.json()
        return result

    def inbox(self, agency: str, **params: Any) -> list[dict[str, Any]]:
        got = httpx.get(
            self.url("routing", "/api/v1/inbox"), headers=self.agency(agency), params=params
        )
        assert got.status_code == 200, got.text
        result: list[dict[str, Any]] = got.json()
        return result

    def wait_in_inbox(self, agency: str, tracking_id: str, timeout: float = 20) -> dict[str, Any]:
        return wait_for(
            lambda: next((r for r in self.inbox(agency) if r["tracking_id"] == tracking_id), None),
            timeout,
            what=f"{tracking_id} in {agency}'s inbox",
        )

    def routing_post(
        self, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> httpx.Response:
        return httpx.post(self.url("routing", path), json=body, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def lapor(system: System) -> Lapor:
    return Lapor(system)
