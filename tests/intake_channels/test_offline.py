"""Walk-in, letters and the suggestion box: staff record paper reports with channel `offline`.
In process (tests/harness.py)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.driver import Driver
from tests.harness import InProcessSystem

LETTER = {
    "source": "letter",
    "reference": "Surat No. 045/II/2026",
    "title": "Sekolah rusak setelah banjir",
    "body": "Atap ruang kelas SD Negeri Oesapa runtuh setelah banjir pekan lalu.",
    "category": "pendidikan",
    "location": {"region_code": "5371", "address": "Oesapa, Kelapa Lima"},
    "reporter": {"name": "Kepala Desa", "phone": "0380-123456"},
}


async def record(drive: Driver, body: dict[str, Any], role: str | None = "admin") -> httpx.Response:
    token = None
    if role:
        token = drive.token(role, agency="PEMKOT-KUPANG" if role == "agency" else None)
    return await drive.client("intake", token).post("/api/v1/offline-reports", json=body)


async def test_only_admins_record_offline_reports(drive: Driver) -> None:
    assert (await record(drive, LETTER, role=None)).status_code == 401
    assert (await record(drive, LETTER, role="agency")).status_code == 403
    assert (await record(drive, LETTER, role="client")).status_code == 403


async def test_a_letter_is_recorded_once_with_channel_offline(
    drive: Driver, lapor: InProcessSystem
) -> None:
    first = await record(drive, LETTER)
    again = await record(drive, LETTER)

    assert first.status_code == again.status_code == 201, first.text
    assert first.json() == again.json()  # the same letter twice: one report
    created = first.json()
    assert set(created) == {"tracking_id", "access_code", "status"}
    report = (await drive.report(created["tracking_id"], created["access_code"])).json()
    assert report["channel"] == "offline"
    assert report["category"] == "pendidikan"
    assert "Kepala Desa" not in str(report)
    timeline = await drive.timeline(created["tracking_id"])
    assert [e["event_type"] for e in timeline] == ["ReportSubmitted"]
    (submitted,) = await lapor.store.read(f"report-{created['tracking_id']}")
    assert submitted.data["channel_message_id"] == "letter:Surat No. 045/II/2026"


async def test_a_reference_recorded_again_for_another_report_is_refused_naming_it(
    drive: Driver,
) -> None:
    """A letter's reference typed again for another letter (a slip at the desk) is said, not
    answered with the first letter's report while the second is lost."""
    first = await record(drive, LETTER)
    other = {**LETTER, "body": "Jembatan gantung di Desa Oesapa putus, anak-anak tidak sekolah."}
    refused = await record(drive, other)

    assert first.status_code == 201
    assert refused.status_code == 422, refused.text
    (error,) = refused.json()["detail"]
    assert error["field"] == "Idempotency-Key"
    assert first.json()["access_code"] not in refused.text
    fixed = await record(drive, {**other, "reference": "Surat No. 046/II/2026"})
    assert fixed.status_code == 201
    assert fixed.json()["tracking_id"] != first.json()["tracking_id"]


async def test_suggestion_box_reports_can_be_anonymous_and_confidential(
    drive: Driver, lapor: InProcessSystem
) -> None:
    response = await record(
        drive,
        {
            "source": "suggestion_box",
            "title": "Petugas puskesmas kasar",
            "body": "Petugas loket puskesmas membentak pasien lansia setiap pagi.",
            "anonymous": True,
            "confidential": True,
        },
    )
    created = response.json()
    tracking_id = created["tracking_id"]

    mine = (await drive.report(tracking_id, created["access_code"])).json()
    assert mine["anonymous"] is True and mine["confidential"] is True
    assert (await drive.report(tracking_id)).status_code == 404
    (submitted,) = await lapor.store.read(f"report-{tracking_id}")
    assert submitted.actor.id == "anonymous"
    assert submitted.data["reporter"] is None


async def test_bad_input_names_the_field(drive: Driver) -> None:
    response = await record(drive, {**LETTER, "source": "pigeon"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "source"
    response = await record(drive, {**LETTER, "body": "pendek"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "body"
    # where it is (issue 19): refused by name with the nearest real region, nothing stored
    stale = await record(drive, {**LETTER, "location": {"region_code": "5399"}})
    assert stale.status_code == 422, stale.text
    detail = stale.json()["detail"][0]
    assert detail["field"] == "location.region_code" and detail["suggestion"]["code"] == "53"
    abroad = await record(drive, {**LETTER, "location": {"lat": 1.35, "lon": 103.82}})
    assert abroad.status_code == 422
    assert abroad.json()["detail"][0]["field"] == "location.lat"
