"""Steps the routing tests share, on the one driver (tests/driver.py): in process or over real
processes alike (over real processes a read may lag a write, hence `eventually`)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.driver import Driver, eventually

DINKES = "DINKES-KOTA-KUPANG"
DPUPR = "DPUPR-KOTA-KUPANG"


async def submit(
    drive: Driver, title: str, *, region: str | None, category: str | None, **fields: Any
) -> str:
    """A citizen's report in `region` (none: no location) about `category`."""
    submitted = await drive.submit(
        title=title,
        body=f"{title}: keluhan warga tentang pelayanan publik.",
        category=category,
        location={"region_code": region} if region else {},
        **fields,
    )
    return submitted.tracking_id


def admin(drive: Driver, service: str) -> httpx.AsyncClient:
    return drive.client(service, drive.token("admin"))


def agency(drive: Driver, code: str) -> httpx.AsyncClient:
    return drive.client("routing", drive.token("agency", agency=code))


async def report(drive: Driver, tracking_id: str) -> dict[str, Any]:
    """The report as an officer sees it on intake."""
    got = await admin(drive, "intake").get(f"/api/v1/reports/{tracking_id}")
    assert got.status_code == 200, got.text
    result: dict[str, Any] = got.json()
    return result


async def timeline(drive: Driver, tracking_id: str) -> list[dict[str, Any]]:
    got = await admin(drive, "intake").get(f"/api/v1/reports/{tracking_id}/timeline")
    assert got.status_code == 200, got.text
    result: list[dict[str, Any]] = got.json()
    return result


def event_types(events: list[dict[str, Any]]) -> list[str]:
    return [e["event_type"] for e in events]


async def reaches(
    drive: Driver, tracking_id: str, status: str, agency_code: str | None = None
) -> dict[str, Any]:
    """The report once it has `status` (and is with `agency_code`, if given)."""

    async def reached() -> dict[str, Any] | None:
        got = await report(drive, tracking_id)
        if got["status"] == status and agency_code in (None, got["agency_code"]):
            return got
        return None

    return await eventually(reached, what=f"{tracking_id} {status} {agency_code or ''}")


async def forwarded(
    drive: Driver, title: str, *, region: str | None, category: str | None, **verify: Any
) -> tuple[str, str]:
    """Submit, verify and wait until routing forwarded it: (tracking_id, agency_code)."""
    tracking_id = await submit(drive, title, region=region, category=category)
    await drive.verify(tracking_id, **verify)
    forwarded = await reaches(drive, tracking_id, "forwarded")
    return tracking_id, str(forwarded["agency_code"])


def item(inbox: list[dict[str, Any]], tracking_id: str) -> dict[str, Any] | None:
    return next((i for i in inbox if i["tracking_id"] == tracking_id), None)


def ids(inbox: list[dict[str, Any]]) -> list[str]:
    return [i["tracking_id"] for i in inbox]
