"""The desk's JSON API in process: every action through HTTP, the completion round trip with
intake, the duplicate link, two admins at once, and double clicks."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from shared.calendar import WorkingDayCalendar
from shared.clock import FixedClock
from shared.events.base import Actor
from shared.reports.commands import SubmitReport
from shared.reports.events import Classification, Location
from shared.reports.tracking import new_tracking_id
from shared.runtime.repository import Meta, ReportRepository
from shared.values import Channel
from tests.driver import Driver
from tests.harness import InProcessSystem
from tests.verification.conftest import (
    Call,
    at_once,
    days_from_now,
    fresh_region,
    history,
    queue_ids,
    stored,
)

TUESDAY_17_MARCH_2026 = datetime(2026, 3, 17, 3, 0, tzinfo=UTC)  # 10:00 WIB
REPORT = {"title": "Jalan rusak", "body": "Jalan di depan puskesmas rusak parah dan berlubang."}


async def submit(drive: Driver, **fields: object) -> tuple[str, str]:
    """A citizen reports through intake (in a region of its own unless given one)."""
    done = await drive.submit(**({"location": {"region_code": fresh_region()}} | REPORT | fields))
    return done.tracking_id, done.access_code


# --- the queue -----------------------------------------------------------------------------------
async def test_the_queue_is_oldest_first_with_time_left_channel_and_suggestions(
    lapor: InProcessSystem, drive: Driver
) -> None:
    region = fresh_region("31")  # Jakarta: WIB, no regional holidays
    lapor.set_clock(TUESDAY_17_MARCH_2026)
    first, _ = await submit(
        drive,
        title="Puskesmas tutup",
        body="Puskesmas tutup pada jam pelayanan tanpa pemberitahuan.",
        category="kesehatan",
        classification="complaint",
        location={"region_code": region, "address": "Jl. Kenari 2"},
    )
    lapor.set_clock(datetime(2026, 3, 17, 5, 0, tzinfo=UTC))
    second, _ = await submit(
        drive,
        title="Usul taman baca",
        body="Mohon dibangun taman baca untuk anak-anak di kelurahan kami.",
        classification="aspiration",
        location={"region_code": region},
    )
    rows = await drive.queue(region=region)
    assert [r["tracking_id"] for r in rows] == [first, second]
    top = rows[0]
    assert top["channel"] == "web"
    assert top["classification"] == "complaint"
    assert top["suggested_category"] == "kesehatan"
    assert top["suggested_region"] == region
    assert top["location"]["address"] == "Jl. Kenari 2"
    # Nyepi, Idul Fitri and cuti bersama fill 18-24 March 2026: three working days end on the 27th.
    assert top["time_left"]["due_date"] == "2026-03-27"
    assert top["time_left"]["due_at"] == "2026-03-27T23:59:59.999999+07:00"
    assert top["time_left"]["working_days_left"] == 3
    assert top["time_left"]["overdue"] is False
    assert rows[1]["classification"] == "aspiration"

    lapor.set_clock(datetime(2026, 3, 31, 2, 0, tzinfo=UTC))  # the Tuesday after
    late = await drive.queue(region=region, overdue="true")
    assert [r["tracking_id"] for r in late] == [first, second]
    assert late[0]["time_left"]["overdue"] is True
    assert late[0]["time_left"]["working_days_left"] == -2  # Monday 30 and Tuesday 31 March
    assert await drive.queue(region=region, overdue="false") == []


async def test_filters_and_search(drive: Driver) -> None:
    region = fresh_region("33")
    health, _ = await submit(
        drive,
        title="Obat habis",
        body="Stok obat di apotek puskesmas kosong berminggu-minggu.",
        category="kesehatan",
        location={"region_code": region},
    )
    school, _ = await submit(
        drive,
        title="Pungutan sekolah",
        body="Sekolah memungut biaya seragam yang mahal sekali.",
        category="pendidikan",
        classification="information_request",
        location={"region_code": region},
    )
    assert await queue_ids(drive, region=region) == [health, school]
    assert await queue_ids(drive, region=region, category="pendidikan") == [school]
    assert await queue_ids(drive, region=region, classification="information_request") == [school]
    assert await queue_ids(drive, region=region, channel="web") == [health, school]
    assert await queue_ids(drive, region=region, channel="sms") == []
    assert await queue_ids(drive, region=region, q="apotek") == [health]
    assert await queue_ids(drive, q=school) == [school]
    assert await queue_ids(drive, region=region, status="verified") == []
    desk = drive.client("verification", drive.admin())
    listing = await desk.get("/api/v1/queue", params={"region": region})
    assert listing.headers["X-Total-Count"] == "2"
    bad = await desk.get("/api/v1/queue", params={"status": "nope"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "status"


# --- actions -------------------------------------------------------------------------------------
async def test_verify_as_submitted_with_an_empty_body(drive: Driver) -> None:
    tid, _ = await submit(drive)
    await drive.desk_report(tid)
    done = await drive.client("verification", drive.admin()).post(f"/api/v1/reports/{tid}/verify")
    assert done.status_code == 200, done.text
    assert done.json() | {"version": 0} == {
        "tracking_id": tid,
        "action": "verify",
        "status": "verified",
        "changed": True,
        "events": ["ReportVerified"],
        "version": 0,
    }
    other, _ = await submit(drive)
    assert (await drive.desk(other, "verify", {})).json()["status"] == "verified"
    assert (await drive.desk_report(other))["status"] == "verified"  # the desk's own view


async def test_verify_with_corrections_records_the_admin(
    lapor: InProcessSystem, drive: Driver
) -> None:
    region = fresh_region("53")
    tid, code = await submit(drive, location={"region_code": region})
    await drive.desk_report(tid)
    better = fresh_region("53")
    done = await drive.desk(
        tid,
        "verify",
        {
            "classification": "aspiration",
            "category": "infrastruktur",
            "region_code": better,
            "requires_field_inspection": True,
            "agency_code": "DINKES-KOTA-KUPANG",
            "location": {"lat": -10.17, "lon": 123.6, "address": "Jl. El Tari"},
        },
    )
    assert done.status_code == 200, done.text
    report = await drive.desk_report(tid)
    assert report["status"] == "verified"
    assert report["classification"] == "aspiration"
    assert report["category"] == "infrastruktur"
    assert report["location"] == {
        "lat": -10.17,
        "lon": 123.6,
        "region_code": better,
        "address": "Jl. El Tari",
    }
    assert report["requires_field_inspection"] is True
    assert report["agency_code"] == "DINKES-KOTA-KUPANG"
    assert report["time_left"] is None
    verified = report["history"][-1]
    assert verified["event_type"] == "ReportVerified"
    assert verified["actor"]["kind"] == "admin"
    assert verified["actor"]["id"].startswith("admin-")
    assert tid not in await queue_ids(drive, region=region)
    assert await stored(lapor, tid) == ["ReportSubmitted", "ReportVerified"]
    timeline = await drive.timeline(tid, code)
    assert [e["event_type"] for e in timeline] == await stored(lapor, tid)  # intake too


async def test_the_completion_round_trip_through_intake(
    lapor: InProcessSystem, drive: Driver
) -> None:
    region = fresh_region("31")
    lapor.set_clock(TUESDAY_17_MARCH_2026)
    tid, access_code = await submit(drive, location={"region_code": region})
    await drive.desk_report(tid)
    lapor.set_clock(datetime(2026, 3, 26, 2, 0, tzinfo=UTC))  # Thursday: one working day left
    asked = await drive.desk(tid, "request-completion", {"note": "Di mana persisnya? Mohon foto."})
    assert asked.status_code == 200, asked.text
    assert asked.json()["status"] == "completion_requested"
    waiting = await drive.desk_report(tid)
    closes = WorkingDayCalendar.default().add_working_days(date(2026, 3, 26), 10, region)
    assert waiting["completion_note"] == (
        "Di mana persisnya? Mohon foto.\n\nJika tidak dilengkapi dalam 10 hari kerja (sampai"
        f" {closes:%d-%m-%Y}), laporan ditutup sebagai tidak lengkap. / Without an answer within"
        f" 10 working days (by {closes:%d-%m-%Y}) the report closes as incomplete."
    )
    assert waiting["time_left"]["paused"] is True
    assert waiting["time_left"]["working_days_left"] == 1
    assert tid not in await queue_ids(drive, region=region)
    assert await queue_ids(drive, region=region, status="completion_requested") == [tid]

    lapor.set_clock(datetime(2026, 4, 6, 2, 0, tzinfo=UTC))  # the reporter answers on a Monday
    amended = await drive.reporter(
        tid, access_code, "amendments", {"text": "Di Jl. Sudirman no. 5, depan pasar."}
    )
    assert amended.status_code == 201, amended.text
    back = await drive.queue(region=region)
    assert back[0]["status"] == "submitted"
    assert back[0]["tracking_id"] == tid
    assert back[0]["amendments"][0]["text"] == "Di Jl. Sudirman no. 5, depan pasar."
    assert back[0]["amended_after_request"] is True
    resumed = WorkingDayCalendar.default().add_working_days(date(2026, 4, 6), 1, region)
    assert back[0]["time_left"] == back[0]["time_left"] | {
        "due_date": resumed.isoformat(),
        "paused": False,
    }
    assert (await drive.desk(tid, "verify")).json()["status"] == "verified"
    assert await stored(lapor, tid) == [
        "ReportSubmitted",
        "ReportCompletionRequested",
        "ReportAmended",
        "ReportVerified",
    ]


async def test_reject_with_each_reason(lapor: InProcessSystem, drive: Driver) -> None:
    for reason in ("spam", "not_public_service", "no_response_to_completion", "other"):
        tid, _ = await submit(drive)
        await drive.desk_report(tid)
        done = await drive.desk(tid, "reject", {"reason": reason, "note": f"because {reason}"})
        assert done.status_code == 200, done.text
        report = await drive.desk_report(tid)
        assert (report["status"], report["rejected_reason"]) == ("rejected", reason)
        assert report["history"][-1]["details"]["note"] == f"because {reason}"
    tid, _ = await submit(drive)
    no_reason = await drive.desk(tid, "reject", {"note": "?"})
    assert no_reason.status_code == 422
    assert no_reason.json()["detail"][0]["field"] == "reason"
    unnamed = await drive.desk(tid, "reject", {"reason": "duplicate"})
    assert unnamed.status_code == 422
    assert unnamed.json()["detail"][0]["field"] == "duplicate_of"
    itself = await drive.desk(tid, "reject", {"duplicate_of": tid})
    assert itself.status_code == 422 and itself.json()["detail"][0]["field"] == "duplicate_of"
    nowhere = await drive.desk(tid, "reject", {"duplicate_of": new_tracking_id()})
    assert nowhere.status_code == 422 and nowhere.json()["detail"][0]["field"] == "duplicate_of"
    assert await stored(lapor, tid) == ["ReportSubmitted"]


async def test_postpone_hides_the_report_until_the_date(drive: Driver) -> None:
    region = fresh_region()
    tid, _ = await submit(drive, location={"region_code": region})
    await drive.desk_report(tid)
    until = days_from_now(3)
    done = await drive.desk(tid, "postpone", {"until": until, "note": "menunggu data dinas"})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "submitted"
    assert await queue_ids(drive, region=region) == []
    postponed = await drive.queue(region=region, postponed="only")
    assert [(r["tracking_id"], r["postponed_until"]) for r in postponed] == [(tid, until)]
    assert await queue_ids(drive, region=region, postponed="include") == [tid]
    past = await drive.desk(tid, "postpone", {"until": "2020-01-01"})
    assert past.status_code == 422 and past.json()["detail"][0]["field"] == "until"
    garbage = await drive.desk(tid, "postpone", {"until": "tomorrow"})
    assert garbage.status_code == 422 and garbage.json()["detail"][0]["field"] == "until"


async def test_not_our_authority_at_a_regional_desk_goes_up_to_the_national_desk(
    drive: Driver,
) -> None:
    """Seed 002: what is not the region's authority goes back to the centre, which sends it on
    to whoever should handle it."""
    here, there = fresh_region("52"), fresh_region("63")
    tid, _ = await submit(drive, location={"region_code": here})
    await drive.desk_report(tid)
    local = drive.token("admin", region=here)
    other = drive.token("admin", region=there)
    sideways = await drive.desk(
        tid, "not-our-authority", {"to_region": there, "note": "wrong province"}, local
    )
    assert sideways.status_code == 403 and "to_region" in sideways.json()["detail"]
    up = await drive.desk(tid, "not-our-authority", {"note": "bukan kewenangan kami"}, local)
    assert up.status_code == 200, up.text
    assert (await drive.desk_report(tid))["location"]["region_code"] is None
    assert await queue_ids(drive, local, region=here) == []
    assert (await drive.desk(tid, "verify", token=local)).status_code == 403
    # The national desk sends it to the region that should handle it.
    moved = await drive.desk(tid, "not-our-authority", {"to_region": there})
    assert moved.status_code == 200, moved.text
    assert (await drive.desk_report(tid))["location"]["region_code"] == there
    assert await queue_ids(drive, other) == [tid]
    assert (await drive.desk(tid, "verify", token=other)).status_code == 200
    assert await history(drive, tid) == [
        "ReportSubmitted",
        "ReportReferred",
        "ReportReferred",
        "ReportVerified",
    ]


async def test_set_and_lift_anonymous_and_confidential(drive: Driver) -> None:
    tid, _ = await submit(drive)
    await drive.desk_report(tid)
    hidden = await drive.desk(
        tid, "protection", {"anonymous": True, "confidential": True, "note": "lupa centang"}
    )
    assert hidden.status_code == 200, hidden.text
    report = await drive.desk_report(tid)
    assert (report["anonymous"], report["confidential"]) == (True, True)
    # Intake's public view hides a confidential report now.
    assert (await drive.report(tid)).status_code == 404
    lifted = await drive.desk(tid, "protection", {"confidential": False})
    assert lifted.status_code == 200
    report = await drive.desk_report(tid)
    assert (report["anonymous"], report["confidential"]) == (True, False)
    again = await drive.desk(tid, "protection", {"confidential": False})
    assert (again.status_code, again.json()["changed"]) == (200, False)
    empty = await drive.desk(tid, "protection", {"note": "nothing"})
    assert empty.status_code == 422 and empty.json()["detail"][0]["field"] == "anonymous"


async def test_bulk_verify(drive: Driver) -> None:
    ids = [(await submit(drive))[0] for _ in range(3)]
    for tid in ids:
        await drive.desk_report(tid)
    unknown = new_tracking_id()
    desk = drive.client("verification", drive.admin())
    done = await desk.post(
        "/api/v1/bulk-verify", json={"tracking_ids": [*ids, ids[0].lower(), unknown]}
    )
    assert done.status_code == 200, done.text
    assert done.json()["verified"] == 3
    outcomes = {r["tracking_id"]: r["outcome"] for r in done.json()["results"]}
    assert outcomes == {
        ids[0]: "verified",
        ids[1]: "verified",
        ids[2]: "verified",
        unknown: "not_found",
    }
    for tid in ids:
        assert (await drive.desk_report(tid))["status"] == "verified"
    again = (await desk.post("/api/v1/bulk-verify", json={"tracking_ids": ids})).json()
    assert [r["outcome"] for r in again["results"]] == ["unchanged"] * 3
    typo = await desk.post("/api/v1/bulk-verify", json={"tracking_ids": [ids[0], "ABC"]})
    assert typo.status_code == 422 and typo.json()["detail"][0]["field"] == "tracking_ids.1"
    empty = await desk.post("/api/v1/bulk-verify", json={"tracking_ids": []})
    assert empty.status_code == 422


# --- duplicates ----------------------------------------------------------------------------------
async def submit_by_sms(lapor: InProcessSystem, body: str, region: str) -> str:
    """A report that came in by SMS 1708 (written to the store as intake's SMS channel would)."""
    tracking_id = new_tracking_id()
    await ReportRepository(lapor.store, FixedClock(datetime.now(UTC))).execute(
        tracking_id,
        SubmitReport(
            tracking_id=tracking_id,
            classification=Classification.COMPLAINT,
            title=body[:60],
            body=body,
            location=Location(region_code=region),
            channel=Channel.SMS,
            channel_message_id=uuid.uuid4().hex,
            access_code_hash="not-used-here",
        ),
        Meta(actor=Actor(kind="citizen", id="reporter"), correlation_id="sms-test"),
    )
    await lapor.settle()
    return tracking_id


async def test_duplicate_suggestions_and_the_one_step_link(
    lapor: InProcessSystem, drive: Driver
) -> None:
    region = fresh_region("53")
    place = {"region_code": region, "lat": -10.1583, "lon": 123.5810}
    original, _ = await submit(
        drive,
        title="Jembatan Liliba ambruk",
        body="Jembatan kayu di Liliba ambruk sebagian, warga tidak bisa menyeberang.",
        location=place,
    )
    web_again, code = await submit(
        drive,
        title="Jembatan ambruk di Liliba",
        body="Warga tidak bisa menyeberang karena jembatan kayu Liliba ambruk.",
        location={**place, "lat": -10.1590},  # ~80 m away
    )
    by_sms = await submit_by_sms(
        lapor, "LAPOR jembatan kayu liliba ambruk warga tidak bisa menyeberang", region
    )
    unrelated, _ = await submit(
        drive,
        title="Gaji honorer terlambat",
        body="Gaji guru honorer sudah tiga bulan belum dibayar oleh dinas.",
        location={"region_code": region, "lat": -10.30, "lon": 123.90},
    )
    for tid in (original, web_again, by_sms, unrelated):
        await drive.desk_report(tid)
    found = await drive.client("verification", drive.admin()).get(
        f"/api/v1/reports/{web_again}/duplicates"
    )
    assert found.status_code == 200, found.text
    suggestions = {s["tracking_id"]: s for s in found.json()}
    assert set(suggestions) == {original, by_sms}
    assert found.json()[0]["tracking_id"] == original  # similar words and 80 m away
    assert suggestions[original]["reasons"][:2] == ["similar_text", "nearby"]
    assert 50 < suggestions[original]["distance_m"] < 120
    assert suggestions[by_sms]["channel"] == "sms"
    assert suggestions[by_sms]["reasons"] == ["similar_text"]

    linked = await drive.desk(web_again, "reject", {"duplicate_of": original.lower()})
    assert linked.status_code == 200, linked.text
    duplicate = await drive.desk_report(web_again)
    assert (duplicate["status"], duplicate["rejected_reason"]) == ("rejected", "duplicate")
    assert duplicate["duplicate_of"] == original
    assert [d["tracking_id"] for d in (await drive.desk_report(original))["duplicates"]] == [
        web_again
    ]
    timeline = await drive.timeline(web_again, code)
    assert len(timeline) == 2
    assert timeline[-1]["event_type"] == "ReportRejected"
    assert timeline[-1]["duplicate_of"] == original


# --- two admins at once, double clicks -----------------------------------------------------------
async def test_two_admins_at_once_one_wins_the_other_gets_409_with_the_current_state(
    lapor: InProcessSystem, drive: Driver
) -> None:
    ani, budi = lapor.token("admin"), lapor.token("admin")
    for round_ in range(6):
        tid, _ = await submit(drive)
        await drive.desk_report(tid)
        calls: list[Call]
        if round_ % 2:
            calls = [
                (tid, "verify", {}, ani, None),
                (tid, "reject", {"reason": "spam"}, budi, None),
            ]
        else:
            calls = [
                (tid, "verify", {"category": "kesehatan"}, ani, None),
                (tid, "verify", {"category": "pendidikan"}, budi, None),
            ]
        answers = await at_once(drive, *calls)
        codes = sorted(a.status_code for a in answers)
        assert codes == [200, 409], [a.text for a in answers]
        won = next(a for a in answers if a.status_code == 200).json()
        lost = next(a for a in answers if a.status_code == 409).json()["detail"]
        assert lost["status"] == won["status"]
        assert lost["current"]["status"] == won["status"]
        assert lost["current_version"] == 2
        assert lost["msg"]
        assert len(await stored(lapor, tid)) == 2


async def test_a_double_click_is_harmless(lapor: InProcessSystem, drive: Driver) -> None:
    ani = lapor.token("admin")
    # One after the other, without a key: the second changes nothing.
    tid, _ = await submit(drive)
    await drive.desk_report(tid)
    first = await drive.desk(tid, "verify", token=ani)
    second = await drive.desk(tid, "verify", token=ani)
    assert (first.status_code, first.json()["changed"]) == (200, True)
    assert (second.status_code, second.json()["changed"]) == (200, False)
    # With an Idempotency-Key: the same answer again.
    tid, _ = await submit(drive)
    await drive.desk_report(tid)
    key = uuid.uuid4().hex
    once = await drive.desk(tid, "request-completion", {"note": "foto?"}, ani, key)
    twice = await drive.desk(tid, "request-completion", {"note": "foto?"}, ani, key)
    assert once.status_code == twice.status_code == 200
    assert once.json() == twice.json()
    # At the same moment, with and without a key.
    for same_key in (uuid.uuid4().hex, None):
        tid, _ = await submit(drive)
        await drive.desk_report(tid)
        answers = await at_once(
            drive,
            (tid, "reject", {"reason": "spam"}, ani, same_key),
            (tid, "reject", {"reason": "spam"}, ani, same_key),
        )
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert await stored(lapor, tid) == ["ReportSubmitted", "ReportRejected"]


async def test_an_action_the_status_does_not_allow_is_409_with_the_status(drive: Driver) -> None:
    tid, _ = await submit(drive)
    await drive.desk_report(tid)
    assert (await drive.desk(tid, "reject", {"reason": "spam"})).status_code == 200
    for action, body in (
        ("verify", {}),
        ("request-completion", {"note": "x"}),
        ("postpone", {"until": days_from_now(2)}),
        ("not-our-authority", {"to_region": "3171"}),
        ("protection", {"anonymous": True}),
    ):
        refused = await drive.desk(tid, action, body)
        assert refused.status_code == 409, (action, refused.text)
        assert refused.json()["detail"]["status"] == "rejected"
        # Said in Bahasa Indonesia, then the rule's English (it was English only).
        said_id, _, said_en = refused.json()["detail"]["msg"].partition(" / ")
        assert said_id == "tindakan ini tidak dapat dilakukan pada laporan berstatus Ditolak"
        assert said_en.startswith("cannot ") and said_en.endswith(" a report that is rejected")


async def test_bad_input_names_the_field_and_never_500s(
    lapor: InProcessSystem, drive: Driver
) -> None:
    tid, _ = await submit(drive)
    await drive.desk_report(tid)
    cases = [
        ("/api/v1/reports/NOT-AN-ID/verify", {}, 422, "tracking_id"),
        (f"/api/v1/reports/{tid}/verify", {"category": "no-such"}, 422, "category"),
        (f"/api/v1/reports/{tid}/verify", {"region_code": "53.7"}, 422, "region_code"),
        (f"/api/v1/reports/{tid}/verify", {"region_code": "5399"}, 422, "region_code"),
        (f"/api/v1/reports/{tid}/verify", {"agency_code": "dinkes"}, 422, "agency_code"),
        (f"/api/v1/reports/{tid}/verify", {"classification": "rant"}, 422, "classification"),
        (f"/api/v1/reports/{tid}/verify", {"colour": "red"}, 422, "colour"),
        (f"/api/v1/reports/{tid}/verify", {"location": {"lat": 91}}, 422, "location.lat"),
        (f"/api/v1/reports/{tid}/request-completion", {}, 422, "note"),
        (f"/api/v1/reports/{tid}/reject", {"reason": "boring"}, 422, "reason"),
        (f"/api/v1/reports/{tid}/not-our-authority", {"to_region": "x"}, 422, "to_region"),
    ]
    desk = drive.client("verification", drive.admin())
    for url, body, status, field in cases:
        answer = await desk.post(url, json=body)
        assert answer.status_code == status, (url, body, answer.text)
        assert answer.json()["detail"][0]["field"] == field, (url, body, answer.text)
    missing = await drive.desk(new_tracking_id(), "verify")
    assert missing.status_code == 404 and missing.json() == {
        "detail": "laporan tidak ditemukan / report not found"
    }
    broken = await desk.post(
        f"/api/v1/reports/{tid}/verify",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert broken.status_code == 422
    assert await stored(lapor, tid) == ["ReportSubmitted"]


async def test_region_codes_are_official_dotted_or_not(
    lapor: InProcessSystem, drive: Driver
) -> None:
    tid, _ = await submit(drive)
    await drive.desk_report(tid)
    desk = drive.client("verification", drive.admin())
    unknown = await desk.post(f"/api/v1/reports/{tid}/verify", json={"region_code": "537199"})
    assert unknown.status_code == 422, unknown.text
    detail = unknown.json()["detail"][0]
    assert detail["field"] == "region_code"
    assert detail["suggestion"] == {"code": "5371", "name": "Kota Kupang"}
    assert await stored(lapor, tid) == ["ReportSubmitted"]
    dotted = await desk.post(f"/api/v1/reports/{tid}/verify", json={"region_code": "53.71.04"})
    assert dotted.status_code == 200, dotted.text
    assert (await drive.desk_report(tid))["location"]["region_code"] == "537104"


async def test_a_used_idempotency_key_with_another_decision_is_refused_not_faked(
    lapor: InProcessSystem, drive: Driver
) -> None:
    """An integrator's retry gets the first answer; the key sent again with another decision
    (another note, reason, category, day) was answered 200 with the first one's result while
    nothing of it was stored. Now 422 naming the header, in both languages."""
    ani = lapor.token("admin")
    cases = [
        ("request-completion", {"note": "Mohon kirim foto."}, {"note": "Mohon sebut alamat."}),
        ("reject", {"reason": "spam"}, {"reason": "other", "note": "Bukan laporan."}),
        ("verify", {"region_code": "53.71"}, {"region_code": "53.71", "category": "kesehatan"}),
        ("postpone", {"until": days_from_now(2)}, {"until": days_from_now(3)}),
    ]
    for action, first, other in cases:
        tid, _ = await submit(drive)
        await drive.desk_report(tid)
        key = uuid.uuid4().hex
        once = await drive.desk(tid, action, first, ani, key)
        assert once.status_code == 200, (action, once.text)
        twice = await drive.desk(tid, action, first, ani, key)  # a retry, normalised alike
        assert (twice.status_code, twice.json()) == (200, once.json()), action
        kept = await stored(lapor, tid)

        refused = await drive.desk(tid, action, other, ani, key)
        assert refused.status_code == 422, (action, refused.text)
        (problem,) = refused.json()["detail"]
        assert problem["loc"] == ["header", "Idempotency-Key"], action
        said_id, _, said_en = problem["msg"].partition(" / ")
        assert said_id.startswith("sudah dipakai") and said_en.startswith("already used"), action
        assert await stored(lapor, tid) == kept, action
