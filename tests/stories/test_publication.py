"""Publication (DESIGN §9, seed 000: "LAPOR! akan menerbitkan tiap laporan yang telah
dilanjutkan"): only forwarded reports are public. In process, all five services.

Found before: an e-mail signature with a name, phone and home address, SMS garbage and blank API
reports were in `/laporan` and the public search before any administrator saw them.
"""

from __future__ import annotations

from typing import Any

from tests.driver import Driver

PHONE = "081234509876"
REPORTS: list[dict[str, Any]] = [
    {
        "title": "Jalan berlubang di Oebobo",
        "body": "Lubang besar di Jl. Frans Seda, sudah dua motor jatuh minggu ini.",
        "location": {"region_code": "5371", "lat": -10.16, "lon": 123.61},
    },
    {
        "title": "Puskesmas tutup siang hari",
        "body": "Puskesmas Oepoi tutup pukul 12, warga yang datang disuruh pulang.",
        "category": "kesehatan",
        "location": {"region_code": "5371", "lat": -10.17, "lon": 123.6},
    },
    {
        "title": "Salam hormat Budi",
        "body": f"Budi Santoso, HP {PHONE}, Jl. Kenanga 12 RT 03 Oebobo. Air PDAM mati.",
        "location": {"region_code": "5371", "lat": -10.15, "lon": 123.62},
    },
    {
        "title": "??? !!! ###",
        "body": "??? !!! ### ??? !!! ### ???",
        "location": {"region_code": "5371", "lat": -10.18, "lon": 123.63},
    },
    {
        "title": "Tes tes tes",
        "body": "tes tes tes tes tes tes",
        "location": {"region_code": "5371", "lat": -10.19, "lon": 123.64},
    },
]


async def public_ids(drive: Driver, candidates: list[str]) -> dict[str, set[str]]:
    """Which of `candidates` each public view holds."""
    intake = drive.client("intake")
    listed = (await intake.get("/api/v1/reports", params={"limit": 200})).json()
    searched = {
        r["tracking_id"]
        for word in ("oebobo", "puskesmas", "budi", "kenanga", "tes", PHONE)
        for r in (await intake.get("/api/v1/reports", params={"q": word})).json()
    }
    mapped = (await intake.get("/api/v1/map.geojson")).json()["features"]
    boxed = (await intake.get("/api/v1/map.geojson", params={"bbox": "123,-11,124,-10"})).json()
    open311 = (await intake.get("/open311/v2/requests.json")).json()
    page = (await intake.get("/laporan")).text
    return {
        "list": {r["tracking_id"] for r in listed},
        "search": searched,
        "map": {f["properties"]["tracking_id"] for f in mapped},
        "map bbox": {f["properties"]["tracking_id"] for f in boxed["features"]},
        "open311": {r["service_request_id"] for r in open311},
        "page": {tid for tid in candidates if tid in page},
    }


async def test_five_reports_two_verified_exactly_those_two_are_public(drive: Driver) -> None:
    made = [await drive.submit(**report) for report in REPORTS]
    ids = [m.tracking_id for m in made]
    intake = drive.client("intake")
    assert all(found == set() for found in (await public_ids(drive, ids)).values())
    stats = (await intake.get("/api/v1/stats")).json()
    assert (stats["total"], stats["public"], stats["by_status"]) == (0, 0, {})

    road, clinic = made[0].tracking_id, made[1].tracking_id
    await drive.verify(road)
    await drive.verify(clinic)
    # Routing forwarded both (by its rules): published; the three others are not.
    assert (await drive.report(road)).json()["status"] == "forwarded"
    expected = {road, clinic}
    found = await public_ids(drive, ids)
    assert found == dict.fromkeys(found, expected), found
    stats = (await intake.get("/api/v1/stats")).json()
    assert (stats["total"], stats["public"]) == (2, 2)
    assert sum(stats["by_status"].values()) == 2

    # Anyone with an unpublished report's ID sees its status and dates, nothing it says.
    personal = made[2]
    shown = (await drive.report(personal.tracking_id)).json()
    assert set(shown) <= {
        "tracking_id",
        "status",
        "published",
        "submitted_at",
        "updated_at",
        "reporter_identity_erased",
    }
    assert shown["status"] == "submitted" and shown["published"] is False
    timeline = await drive.timeline(personal.tracking_id)
    assert [set(e) for e in timeline] == [{"event_type", "occurred_at", "actor"}]
    (request,) = (await intake.get(f"/open311/v2/requests/{personal.tracking_id}.json")).json()
    assert (request["description"], request["lat"], request["address"]) == ("", None, None)
    page = (await intake.get(f"/laporan/{personal.tracking_id}")).text
    assert PHONE not in page and "Kenanga" not in page and "Budi" not in page
    # Its reporter and the administrators see all of it.
    own = (await drive.report(personal.tracking_id, personal.access_code)).json()
    assert PHONE in own["body"]
    admin = {"Authorization": f"Bearer {drive.admin()}"}
    desk = await intake.get(f"/api/v1/reports/{personal.tracking_id}", headers=admin)
    assert PHONE in desk.json()["body"]

    # Rejected: never public.
    rejected = await drive.desk(made[3].tracking_id, "reject", {"reason": "spam"})
    assert rejected.status_code == 200, rejected.text
    assert (await public_ids(drive, ids))["list"] == expected
