"""An officer's system sends an action again under its Idempotency-Key: a retry of the same
request gets the first answer, another request under that key is refused naming the header
(it was answered with what the first request did, while nothing of it was stored)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.driver import Driver
from tests.routing.steps import DINKES, admin, agency, event_types, forwarded, reaches, timeline


def refused_for_the_key(answer: httpx.Response) -> None:
    assert answer.status_code == 422, answer.text
    (problem,) = answer.json()["detail"]
    assert (problem["field"], problem["loc"]) == ("Idempotency-Key", ["header", "Idempotency-Key"])
    said_id, _, said_en = problem["msg"].partition(" / ")
    assert said_id.startswith("sudah dipakai untuk permintaan lain"), problem["msg"]
    assert said_en.startswith("already used for another request"), problem["msg"]


async def sent_twice_then_otherwise(
    desk: httpx.AsyncClient, url: str, first: dict[str, Any], other: dict[str, Any], key: str
) -> httpx.Response:
    """The first request, its retry (the same answer), and another request under the key."""
    headers = {"Idempotency-Key": key}
    answered = await desk.post(url, json=first, headers=headers)
    assert answered.status_code == 200, answered.text
    retried = await desk.post(url, json=first, headers=headers)
    assert retried.status_code == 200, retried.text
    assert retried.json() == answered.json()
    return await desk.post(url, json=other, headers=headers)


async def test_a_return_sent_again_with_another_reason_is_refused(drive: Driver) -> None:
    tracking_id, code = await forwarded(drive, "Jalan berlubang", region="5371", category=None)
    refused = await sent_twice_then_otherwise(
        agency(drive, code),
        f"/api/v1/reports/{tracking_id}/return",
        {"reason": "not_our_authority", "note": "Urusan provinsi."},
        {"reason": "other", "note": "Laporan ganda."},
        "sim-ret-1",
    )
    refused_for_the_key(refused)
    returns = [e for e in await timeline(drive, tracking_id) if e["event_type"] == "ReportReturned"]
    assert [(e["reason"], e["note"]) for e in returns] == [
        ("not_our_authority", "Urusan provinsi.")
    ]


async def test_a_transfer_or_delegation_to_another_institution_under_a_used_key_is_refused(
    drive: Driver,
) -> None:
    moved, _ = await forwarded(
        drive, "Antrean obat", region="5371", category="kesehatan", agency_code="PUSKESMAS-OEPOI"
    )
    refused = await sent_twice_then_otherwise(
        agency(drive, "PUSKESMAS-OEPOI"),
        f"/api/v1/reports/{moved}/transfer",
        {"agency_code": "PUSKESMAS-SIKUMANA"},
        {"agency_code": "PUSKESMAS-BAKUNASE"},
        "sim-tr-1",
    )
    refused_for_the_key(refused)
    await reaches(drive, moved, "forwarded", "PUSKESMAS-SIKUMANA")

    handed, code = await forwarded(drive, "Obat kosong", region="5371", category="kesehatan")
    assert code == DINKES
    refused = await sent_twice_then_otherwise(
        agency(drive, DINKES),
        f"/api/v1/reports/{handed}/delegate",
        {"agency_code": "PUSKESMAS-OEPOI", "note": "Wilayah Oepoi"},
        {"agency_code": "PUSKESMAS-SIKUMANA", "note": "Wilayah Sikumana"},
        "sim-dl-1",
    )
    refused_for_the_key(refused)
    assert event_types(await timeline(drive, handed)).count("ReportDelegated") == 1


async def test_an_admins_forward_to_another_institution_under_a_used_key_is_refused(
    drive: Driver,
) -> None:
    tracking_id, code = await forwarded(drive, "Pungutan liar", region="5371", category=None)
    returned = await drive.agency(tracking_id, "return", code, {"reason": "not_our_authority"})
    assert returned.status_code == 200, returned.text
    await reaches(drive, tracking_id, "returned")
    refused = await sent_twice_then_otherwise(
        admin(drive, "routing"),
        f"/api/v1/reports/{tracking_id}/forward",
        {"agency_code": "PEMKOT-KUPANG"},
        {"agency_code": DINKES},
        "sim-fw-1",
    )
    refused_for_the_key(refused)
    forwards = [
        e for e in await timeline(drive, tracking_id) if e["event_type"] == "ForwardedToOPD"
    ]
    assert [e["agency_code"] for e in forwards][-1] == "PEMKOT-KUPANG"
    assert len(forwards) == 2
