"""Routing's JSON API in process (intake, verification, routing… on a real SQLite store): every
verified report reaches the right institution, which sees and answers only its own."""

from __future__ import annotations

import json
from datetime import datetime

from shared.calendar import WorkingDayCalendar
from tests.driver import Driver
from tests.routing.steps import (
    DINKES,
    DPUPR,
    admin,
    agency,
    event_types,
    forwarded,
    ids,
    item,
    reaches,
    submit,
    timeline,
)

CALENDAR = WorkingDayCalendar.default()


async def test_rules_pick_the_institution_with_fallbacks_and_the_admins_override(
    drive: Driver,
) -> None:
    cases = [
        # (region, category, verify fields, expected agency, routed_by)
        ("5371", "kesehatan", {}, DINKES, "rule"),  # a region + category rule
        ("5371", "pendidikan", {}, "PEMKOT-KUPANG", "region"),  # no rule: the city
        ("5310", "kesehatan", {}, "PEMKAB-MANGGARAI", "region"),  # the regency's government
        ("53", "kesehatan", {}, "PEMPROV-NTT", "region"),  # the province's own: the province
        (None, "sosial", {}, "KEMENPANRB", "national"),  # nowhere: the national desk
        ("5371", "kesehatan", {"agency_code": "PUSKESMAS-OEPOI"}, "PUSKESMAS-OEPOI", "admin"),
    ]
    submitted = [
        (await submit(drive, f"Rute {i}", region=region, category=category), fields, code, how)
        for i, (region, category, fields, code, how) in enumerate(cases)
    ]
    for tracking_id, fields, _, _ in submitted:
        await drive.verify(tracking_id, **fields)
    for tracking_id, _, code, routed_by in submitted:
        forwarded_to = await reaches(drive, tracking_id, "forwarded")
        assert forwarded_to["agency_code"] == code, (tracking_id, forwarded_to)
        events = await timeline(drive, tracking_id)
        assert event_types(events) == ["ReportSubmitted", "ReportVerified", "ForwardedToOPD"]
        verified, forward = events[1], events[2]
        assert forward["agency_code"] == code
        assert forward["actor"] == "system"
        # Five working days (the policy's follow-up limit) from the local day of verification.
        expected_due = CALENDAR.due_date(
            datetime.fromisoformat(verified["occurred_at"]),
            5,
            forwarded_to["location"]["region_code"],
        )
        assert forward["follow_up_due"] == expected_due.isoformat()
        shown = item(await drive.inbox(code), tracking_id)
        assert shown is not None
        assert shown["routed_by"] == routed_by
        assert shown["agency_name"] == forward["agency_name"]


async def test_an_agency_sees_and_acts_only_on_reports_forwarded_to_it(drive: Driver) -> None:
    secret = await submit(
        drive,
        "Obat habis di puskesmas",
        region="5371",
        category="kesehatan",
        confidential=True,
        anonymous=True,
        reporter={"name": "Maria Kolo", "phone": "+6281298765432"},
    )
    await drive.verify(secret)
    await reaches(drive, secret, "forwarded", DINKES)

    # The institution it was forwarded to sees it, confidential as it is, but never who reported.
    shown = item(await drive.inbox(DINKES), secret)
    assert shown is not None
    assert shown["confidential"] is True and shown["anonymous"] is True
    assert shown["time_left"]["working_days"] >= 1 and shown["time_left"]["overdue"] is False
    assert secret not in ids(await drive.inbox(DINKES, overdue="true"))
    assert secret in ids(await drive.inbox(DINKES, overdue="false"))
    dinkes = agency(drive, DINKES)
    detail = await dinkes.get(f"/api/v1/inbox/{secret}")
    assert detail.status_code == 200
    assert [h["event_type"] for h in detail.json()["history"]][-1] == "ForwardedToOPD"
    for text in (json.dumps(await drive.inbox(DINKES)), detail.text):
        assert "Maria" not in text and "6281298765432" not in text and "reporter" not in text

    # Another institution cannot see it, nor act on it.
    other = agency(drive, DPUPR)
    assert secret not in ids(await drive.inbox(DPUPR))
    hidden = await other.get(f"/api/v1/inbox/{secret}")
    assert hidden.status_code == 404
    for path, body in (
        ("follow-ups", {"text": "Sudah kami tangani"}),
        ("return", {"reason": "not_our_authority"}),
        ("transfer", {"agency_code": "BAGORG-KOTA-KUPANG"}),
    ):
        refused = await other.post(f"/api/v1/reports/{secret}/{path}", json=body)
        assert refused.status_code == 403, (path, refused.text)
        assert "detail" in refused.json()

    # No token: 401; the wrong role: 403; a malformed body: 422 naming the field.
    nobody = drive.client("routing")
    assert (await nobody.get("/api/v1/inbox")).status_code == 401
    anonymous_post = await nobody.post(f"/api/v1/reports/{secret}/follow-ups", json={"text": "x"})
    assert anonymous_post.status_code == 401
    assert (await admin(drive, "routing").get("/api/v1/inbox")).status_code == 403
    bad = await dinkes.post(
        f"/api/v1/reports/{secret}/follow-ups", json={"text": "x", "kind": "maybe"}
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "kind"
    unknown = await dinkes.post("/api/v1/reports/NOSUCHID/follow-ups", json={"text": "x"})
    assert unknown.status_code in (404, 422)

    # The owner answers; a retried request (same Idempotency-Key) stores one follow-up.
    retry = {"Idempotency-Key": "fu-1"}
    body = {"text": "Stok obat sudah dikirim hari ini.", "kind": "interim"}
    first = await dinkes.post(f"/api/v1/reports/{secret}/follow-ups", json=body, headers=retry)
    again = await dinkes.post(f"/api/v1/reports/{secret}/follow-ups", json=body, headers=retry)
    assert first.status_code == again.status_code == 201
    assert first.json()["events"] == again.json()["events"] == ["FollowUpPosted"]
    followed_up = await reaches(drive, secret, "followed_up")
    assert followed_up["agency_code"] == DINKES
    assert event_types(await timeline(drive, secret)).count("FollowUpPosted") == 1
    followed = await drive.inbox(DINKES, status="followed_up")
    assert [r["time_left"] for r in followed if r["tracking_id"] == secret] == [None]


async def test_a_return_goes_back_to_the_admins_who_forward_it_again(drive: Driver) -> None:
    tracking_id, code = await forwarded(
        drive, "Pungutan di sekolah", region="5371", category="kesehatan"
    )
    assert code == DINKES
    assert item(await drive.inbox(DINKES), tracking_id) is not None

    returned = await drive.agency(
        tracking_id,
        "return",
        DINKES,
        {"reason": "not_our_authority", "note": "Ini urusan sekolah, bukan kesehatan."},
    )
    assert returned.status_code == 200, returned.text
    # The next candidate after the rule's institution: the city's own government.
    assert returned.json()["suggested_agency"]["code"] == "PEMKOT-KUPANG"
    await reaches(drive, tracking_id, "returned")
    assert tracking_id not in ids(await drive.inbox(DINKES))
    again = await drive.follow_up(tracking_id, DINKES, "x")
    assert again.status_code == 403

    boss = admin(drive, "routing")
    queue = (await boss.get("/api/v1/returned")).json()
    mine = next(r for r in queue if r["tracking_id"] == tracking_id)
    assert mine["returned"]["reason"] == "not_our_authority"
    assert mine["returned"]["by"] == DINKES
    assert mine["returned"]["suggested_agency"]["code"] == "PEMKOT-KUPANG"

    # Admins only; a known institution only; then forwarded again.
    path = f"/api/v1/reports/{tracking_id}/forward"
    body = {"agency_code": "DINDIK-KOTA-BLITAR"}
    assert (await agency(drive, DINKES).post(path, json=body)).status_code == 403
    unknown = await boss.post(path, json={"agency_code": "NO-SUCH-OPD"})
    assert unknown.status_code == 400 and unknown.json()["detail"][0]["field"] == "agency_code"
    again_forwarded = await boss.post(path, json={"agency_code": "PEMKOT-KUPANG"})
    assert again_forwarded.status_code == 200, again_forwarded.text
    assert again_forwarded.json()["routed_by"] == "admin"
    await reaches(drive, tracking_id, "forwarded", "PEMKOT-KUPANG")
    shown = item(await drive.inbox("PEMKOT-KUPANG"), tracking_id)
    assert shown is not None and shown["routed_by"] == "admin"

    events = await timeline(drive, tracking_id)
    assert event_types(events) == [
        "ReportSubmitted",
        "ReportVerified",
        "ForwardedToOPD",
        "ReportReturned",
        "ForwardedToOPD",
    ]
    assert events[3]["reason"] == "not_our_authority"
    assert [events[2]["agency_code"], events[4]["agency_code"]] == [DINKES, "PEMKOT-KUPANG"]
    assert (events[3]["actor"], events[4]["actor"]) == ("agency", "admin")

    # A report that is not verified yet cannot be forwarded by hand.
    fresh = await submit(drive, "Belum diverifikasi", region="5371", category="kesehatan")
    early = await boss.post(f"/api/v1/reports/{fresh}/forward", json=body)
    assert early.status_code == 409


async def test_a_transfer_to_a_sibling_and_back(drive: Driver) -> None:
    tracking_id, code = await forwarded(
        drive,
        "Antrean panjang",
        region="5371",
        category="kesehatan",
        agency_code="PUSKESMAS-OEPOI",
    )
    assert code == "PUSKESMAS-OEPOI"

    # Only institutions under the same parent (DINKES-KOTA-KUPANG) may take it over.
    for target in (DPUPR, DINKES, "NO-SUCH-OPD"):
        refused = await drive.agency(
            tracking_id, "transfer", "PUSKESMAS-OEPOI", {"agency_code": target}
        )
        assert refused.status_code == 400, (target, refused.text)
        assert refused.json()["detail"][0]["field"] == "agency_code"

    there = await drive.agency(
        tracking_id,
        "transfer",
        "PUSKESMAS-OEPOI",
        {"agency_code": "PUSKESMAS-SIKUMANA", "note": "Wilayah kerja Sikumana"},
    )
    assert there.status_code == 200, there.text
    assert there.json()["agency_code"] == "PUSKESMAS-SIKUMANA"
    await reaches(drive, tracking_id, "forwarded", "PUSKESMAS-SIKUMANA")
    shown = item(await drive.inbox("PUSKESMAS-SIKUMANA"), tracking_id)
    assert shown is not None
    assert shown["routed_by"] == "transfer" and shown["time_left"] is not None
    assert tracking_id not in ids(await drive.inbox("PUSKESMAS-OEPOI"))
    # The sender no longer holds it: it cannot transfer it again.
    late = await drive.agency(
        tracking_id, "transfer", "PUSKESMAS-OEPOI", {"agency_code": "PUSKESMAS-BAKUNASE"}
    )
    assert late.status_code == 403

    back = await drive.agency(
        tracking_id,
        "transfer",
        "PUSKESMAS-SIKUMANA",
        {"agency_code": "PUSKESMAS-OEPOI", "note": "Salah"},
    )
    assert back.status_code == 200, back.text
    await reaches(drive, tracking_id, "forwarded", "PUSKESMAS-OEPOI")
    assert item(await drive.inbox("PUSKESMAS-OEPOI"), tracking_id) is not None

    events = await timeline(drive, tracking_id)
    assert event_types(events)[-2:] == ["ReportTransferred", "ReportTransferred"]
    moves = [(e["from_agency"], e["to_agency"]) for e in events[-2:]]
    assert moves == [
        ("PUSKESMAS-OEPOI", "PUSKESMAS-SIKUMANA"),
        ("PUSKESMAS-SIKUMANA", "PUSKESMAS-OEPOI"),
    ]
    assert events[-2]["note"] == "Wilayah kerja Sikumana"


async def test_an_institutions_words_reach_the_reporter_without_hidden_characters(
    drive: Driver,
) -> None:
    """An institution's system posted a follow-up holding a NUL and a right-to-left override
    (U+202E): both were stored and shown on the report's public timeline, the override making
    the answer read backwards, and a text of nothing else was a follow-up with no words. The
    officers' words are cleaned as the citizens' are; one with nothing left is refused naming
    `text`, and a return's note is cleaned too."""
    tracking_id, code = await forwarded(drive, "Lampu jalan mati", region="5371", category=None)
    desk = agency(drive, code)
    url = f"/api/v1/reports/{tracking_id}/follow-ups"

    empty = await desk.post(url, json={"text": "\x00\u202e\u202c\x07"})
    assert empty.status_code == 422, empty.text
    assert empty.json()["detail"][0]["field"] == "text"

    posted = await desk.post(url, json={"text": "Lampu sudah \u202eDIGANTI\u202c hari ini.\x00"})
    assert posted.status_code == 201, posted.text
    public = await drive.timeline(tracking_id)
    assert public[-1]["text"] == "Lampu sudah DIGANTI hari ini."

    other, _ = await forwarded(drive, "Lampu taman mati", region="5371", category=None)
    returned = await desk.post(
        f"/api/v1/reports/{other}/return",
        json={"reason": "other", "note": "Bukan \u202ekami\u202c\x1b[31m"},
    )
    assert returned.status_code == 200, returned.text
    assert (await timeline(drive, other))[-1]["note"] == "Bukan kami[31m"


async def test_a_used_idempotency_key_with_another_follow_up_is_refused_not_faked(
    drive: Driver,
) -> None:
    """An institution's system that sent a second, final follow-up under the Idempotency-Key of
    its first (interim) one got 201 `{"kind": "final"}`, while nothing of it was stored: the
    report stayed interim, no auto-close started, and the system believed it had answered. A
    retry of the same request still answers as before; a different one is 422 naming the
    header."""
    tracking_id, code = await forwarded(drive, "Sampah menumpuk", region="5371", category=None)
    desk = agency(drive, code)
    url = f"/api/v1/reports/{tracking_id}/follow-ups"
    key = {"Idempotency-Key": "sim-4711-fu-1"}
    first = {"text": "Petugas sudah dijadwalkan.", "kind": "interim"}

    assert (await desk.post(url, json=first, headers=key)).status_code == 201
    retried = await desk.post(url, json=first, headers=key)
    assert retried.status_code == 201 and retried.json()["kind"] == "interim"

    other = await desk.post(
        url, json={"text": "Sampah sudah diangkut.", "kind": "final"}, headers=key
    )
    assert other.status_code == 422, other.text
    (problem,) = other.json()["detail"]
    assert (problem["field"], problem["loc"]) == ("Idempotency-Key", ["header", "Idempotency-Key"])
    assert problem["msg"].startswith("sudah dipakai") and " / already used" in problem["msg"]
    follow_ups = [
        e for e in await timeline(drive, tracking_id) if e["event_type"] == "FollowUpPosted"
    ]
    assert [e["kind"] for e in follow_ups] == ["interim"]


def said_in_both_languages(text: str, indonesian: str, english: str) -> None:
    said_id, _, said_en = text.partition(" / ")
    assert indonesian in said_id and english in said_en, text


async def test_an_officer_reads_why_a_report_is_refused_in_bahasa_indonesia_then_english(
    drive: Driver,
) -> None:
    """An officer acting on another institution's report, or on a mistyped tracking ID, or
    refused by a rule, was told so in English only."""
    tracking_id, code = await forwarded(drive, "Lampu jalan mati", region="5371", category=None)
    assert code != DPUPR
    other = agency(drive, DPUPR)
    for path, body in (
        ("follow-ups", {"text": "Sudah kami tangani"}),
        ("return", {"reason": "not_our_authority"}),
        ("transfer", {"agency_code": "BAGORG-KOTA-KUPANG"}),
        ("delegate", {"agency_code": "PUSKESMAS-OEPOI"}),
    ):
        refused = await other.post(f"/api/v1/reports/{tracking_id}/{path}", json=body)
        assert refused.status_code == 403, (path, refused.text)
        said_in_both_languages(
            refused.json()["detail"], "tidak (lagi) diteruskan ke instansi Anda", "not (or no"
        )

    # The rules' refusals too: the rule's English stays as the second half.
    holder = agency(drive, code)
    no_note = await holder.post(f"/api/v1/reports/{tracking_id}/return", json={"reason": "other"})
    assert no_note.status_code in (400, 422), no_note.text
    (problem,) = no_note.json()["detail"]
    assert problem["field"] == "note"
    said_in_both_languages(problem["msg"], "jelaskan alasannya", "needs a note saying why")
    nowhere = await holder.post(
        f"/api/v1/reports/{tracking_id}/transfer", json={"agency_code": "NO-SUCH-OPD"}
    )
    (problem,) = nowhere.json()["detail"]
    assert (nowhere.status_code, problem["field"]) == (400, "agency_code")
    said_in_both_languages(problem["msg"], "tidak ada di direktori", "unknown institution")

    # Signing in too: no token, another role.
    nobody = await drive.client("routing").get("/api/v1/inbox")
    assert nobody.status_code == 401
    said_in_both_languages(nobody.json()["detail"], "token Bearer wajib dikirim", "is required")
    wrong_role = await admin(drive, "routing").get("/api/v1/inbox")
    assert wrong_role.status_code == 403
    said_in_both_languages(wrong_role.json()["detail"], "tidak boleh melakukan ini", "may not")

    typo = tracking_id[:-1] + ("A" if tracking_id[-1] != "A" else "B")  # wrong check character
    for service, client, path in (
        ("routing", other, f"/api/v1/reports/{typo}/follow-ups"),
        ("verification", admin(drive, "verification"), f"/api/v1/reports/{typo}/verify"),
        ("intake", drive.client("intake"), f"/api/v1/reports/{typo}/replies"),
    ):
        refused = await client.post(path, json={"text": "x"})
        assert refused.status_code == 422, (service, refused.text)
        (problem,) = refused.json()["detail"]
        assert problem["field"] == "tracking_id", (service, problem)
        said_in_both_languages(problem["msg"], "ID laporan tidak cocok", "does not match")
    short = await drive.client("intake").get("/api/v1/reports/ABC")
    assert short.status_code == 422
    said_in_both_languages(
        short.json()["detail"][0]["msg"], "ID laporan harus 10 karakter", "must be 10 characters"
    )
