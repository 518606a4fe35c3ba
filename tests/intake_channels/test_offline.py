"""Walk-in, letters and the suggestion box: staff record paper reports with channel `offline`."""

from __future__ import annotations

from typing import Any

import httpx

from tests.intake_channels.conftest import ChannelSystem

LETTER = {
    "source": "letter",
    "reference": "Surat No. 045/II/2026",
    "title": "Sekolah rusak setelah banjir",
    "body": "Atap ruang kelas SD Negeri Oesapa runtuh setelah banjir pekan lalu.",
    "category": "pendidikan",
    "location": {"region_code": "5371", "address": "Oesapa, Kelapa Lima"},
    "reporter": {"name": "Kepala Desa", "phone": "0380-123456"},
}


def record(
    channels: ChannelSystem, body: dict[str, Any], role: str | None = "admin"
) -> httpx.Response:
    headers = {}
    if role:
        agency = "PEMKOT-KUPANG" if role == "agency" else None
        headers["Authorization"] = f"Bearer {channels.token(role, agency=agency)}"
    return httpx.post(f"{channels.url}/api/v1/offline-reports", json=body, headers=headers)


def test_only_admins_record_offline_reports(channels: ChannelSystem) -> None:
    assert record(channels, LETTER, role=None).status_code == 401
    assert record(channels, LETTER, role="agency").status_code == 403
    assert record(channels, LETTER, role="client").status_code == 403


def test_a_letter_is_recorded_once_with_channel_offline(channels: ChannelSystem) -> None:
    first = record(channels, LETTER)
    again = record(channels, LETTER)

    assert first.status_code == again.status_code == 201, first.text
    assert first.json() == again.json()  # the same letter twice: one report
    created = first.json()
    assert set(created) == {"tracking_id", "access_code", "status"}
    report = channels.report(created["tracking_id"])
    assert report["channel"] == "offline"
    assert report["category"] == "pendidikan"
    assert "Kepala Desa" not in str(report)
    assert channels.timeline(created["tracking_id"]) == ["ReportSubmitted"]
    (submitted,) = channels.events(created["tracking_id"])
    assert submitted.data["channel_message_id"] == "letter:Surat No. 045/II/2026"


def test_suggestion_box_reports_can_be_anonymous_and_confidential(channels: ChannelSystem) -> None:
    created = record(
        channels,
        {
            "source": "suggestion_box",
            "title": "Petugas puskesmas kasar",
            "body": "Petugas loket puskesmas membentak pasien lansia setiap pagi.",
            "anonymous": True,
            "confidential": True,
        },
    ).json()
    tracking_id = created["tracking_id"]

    mine = channels.report(tracking_id, created["access_code"])
    assert mine["anonymous"] is True and mine["confidential"] is True
    assert httpx.get(f"{channels.url}/api/v1/reports/{tracking_id}").status_code == 404
    (submitted,) = channels.events(tracking_id)
    assert submitted.actor.id == "anonymous"
    assert submitted.data["reporter"] is None


def test_bad_input_names_the_field(channels: ChannelSystem) -> None:
    response = record(channels, {**LETTER, "source": "pigeon"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "source"
    response = record(channels, {**LETTER, "body": "pendek"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "body"
