"""The desk's JSON API against running processes: every action through HTTP, the completion round
trip with intake, the duplicate link, two admins at once, and double clicks."""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import httpx

from shared.calendar import WorkingDayCalendar
from shared.clock import FixedClock
from shared.events.base import Actor
from shared.reports.commands import SubmitReport
from shared.reports.events import Classification, Location
from shared.reports.tracking import new_tracking_id
from shared.runtime.repository import Meta, ReportRepository
from shared.store.sqlite import SqliteEventStore
from shared.values import Channel
from tests.support import wait_for
from tests.verification.conftest import Lapor, days_from_now, fresh_region

TUESDAY_17_MARCH_2026 = datetime(2026, 3, 17, 3, 0, tzinfo=UTC)  # 10:00 WIB


# --- the queue -----------------------------------------------------------------------------------
def test_the_queue_is_oldest_first_with_time_left_channel_and_suggestions(
    wall_clock: Lapor,
) -> None:
    lapor = wall_clock
    region = fresh_region("31")  # Jakarta: WIB, no regional holidays
    lapor.set_clock(TUESDAY_17_MARCH_2026)
    first, _ = lapor.submit(
        title="Puskesmas tutup",
        body="Puskesmas tutup pada jam pelayanan tanpa pemberitahuan.",
        category="kesehatan",
        classification="complaint",
        location={"region_code": region, "address": "Jl. Kenari 2"},
    )
    lapor.set_clock(datetime(2026, 3, 17, 5, 0, tzinfo=UTC))
    second, _ = lapor.submit(
        title="Usul taman baca",
        body="Mohon dibangun taman baca untuk anak-anak di kelurahan kami.",
        classification="aspiration",
        location={"region_code": region},
    )
    lapor.seen(second)
    rows = lapor.queued(region=region)
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
    late = lapor.queued(region=region, overdue="true")
    assert [r["tracking_id"] for r in late] == [first, second]
    assert late[0]["time_left"]["overdue"] is True
    assert late[0]["time_left"]["working_days_left"] == -2  # Monday 30 and Tuesday 31 March
    assert lapor.queued(region=region, overdue="false") == []


def test_filters_and_search(lapor: Lapor) -> None:
    region = fresh_region("33")
    health, _ = lapor.submit(
        title="Obat habis",
        body="Stok obat di apotek puskesmas kosong berminggu-minggu.",
        category="kesehatan",
        location={"region_code": region},
    )
    school, _ = lapor.submit(
        title="Pungutan sekolah",
        body="Sekolah memungut biaya seragam yang mahal sekali.",
        category="pendidikan",
        classification="information_request",
        location={"region_code": region},
    )
    lapor.seen(school)
    assert lapor.queue_ids(region=region) == [health, school]
    assert lapor.queue_ids(region=region, category="pendidikan") == [school]
    assert lapor.queue_ids(region=region, classification="information_request") == [school]
    assert lapor.queue_ids(region=region, channel="web") == [health, school]
    assert lapor.queue_ids(region=region, channel="sms") == []
    assert lapor.queue_ids(region=region, q="apotek") == [health]
    assert lapor.queue_ids(q=school) == [school]
    assert lapor.queue_ids(region=region, status="verified") == []
    listing = lapor.desk.get("/api/v1/queue", params={"region": region}, headers=lapor.auth())
    assert listing.headers["X-Total-Count"] == "2"
    bad = lapor.desk.get("/api/v1/queue", params={"status": "nope"}, headers=lapor.auth())
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "status"


# --- actions -------------------------------------------------------------------------------------
def test_verify_as_submitted_with_an_empty_body(lapor: Lapor) -> None:
    tid, _ = lapor.submit()
    lapor.seen(tid)
    done = lapor.desk.post(f"/api/v1/reports/{tid}/verify", headers=lapor.auth())
    assert done.status_code == 200, done.text
    assert done.json() | {"version": 0} == {
        "tracking_id": tid,
        "action": "verify",
        "status": "verified",
        "changed": True,
        "events": ["ReportVerified"],
        "version": 0,
    }
    other, _ = lapor.submit()
    assert lapor.act(other, "verify", {}).json()["status"] == "verified"
    assert lapor.seen(other)["status"] == "verified"  # the desk waits for its own view


def test_verify_with_corrections_records_the_admin(lapor: Lapor) -> None:
    region = fresh_region("53")
    tid, _ = lapor.submit(location={"region_code": region})
    lapor.seen(tid)
    better = fresh_region("53")
    done = lapor.act(
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
    report = lapor.seen(tid)
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
    assert tid not in lapor.queue_ids(region=region)
    assert lapor.stored(tid) == ["ReportSubmitted", "ReportVerified"]
    assert [e["event_type"] for e in lapor.timeline(tid, 2)] == lapor.stored(tid)  # intake too


def test_the_completion_round_trip_through_intake(wall_clock: Lapor) -> None:
    lapor = wall_clock
    region = fresh_region("31")
    lapor.set_clock(TUESDAY_17_MARCH_2026)
    tid, access_code = lapor.submit(location={"region_code": region})
    lapor.seen(tid)
    lapor.set_clock(datetime(2026, 3, 26, 2, 0, tzinfo=UTC))  # Thursday: one working day left
    asked = lapor.act(tid, "request-completion", {"note": "Di mana persisnya? Mohon foto."})
    assert asked.status_code == 200, asked.text
    assert asked.json()["status"] == "completion_requested"
    waiting = lapor.seen(tid)
    assert waiting["completion_note"] == "Di mana persisnya? Mohon foto."
    assert waiting["time_left"]["paused"] is True
    assert waiting["time_left"]["working_days_left"] == 1
    assert tid not in lapor.queue_ids(region=region)
    assert lapor.queue_ids(region=region, status="completion_requested") == [tid]

    lapor.set_clock(datetime(2026, 4, 6, 2, 0, tzinfo=UTC))  # the reporter answers on a Monday
    amended = lapor.intake.post(
        f"/api/v1/reports/{tid}/amendments",
        json={"text": "Di Jl. Sudirman no. 5, depan pasar."},
        headers={"X-Access-Code": access_code},
    )
    assert amended.status_code == 201, amended.text
    back = wait_for(
        lambda: (rows := lapor.queued(region=region)) and rows[0]["status"] == "submitted" and rows,
        what="back in the queue",
    )
    assert back[0]["tracking_id"] == tid
    assert back[0]["amendments"][0]["text"] == "Di Jl. Sudirman no. 5, depan pasar."
    resumed = WorkingDayCalendar.default().add_working_days(date(2026, 4, 6), 1, region)
    assert back[0]["time_left"] == back[0]["time_left"] | {
        "due_date": resumed.isoformat(),
        "paused": False,
    }
    assert lapor.act(tid, "verify").json()["status"] == "verified"
    assert lapor.stored(tid) == [
        "ReportSubmitted",
        "ReportCompletionRequested",
        "ReportAmended",
        "ReportVerified",
    ]


def test_reject_with_each_reason(lapor: Lapor) -> None:
    for reason in ("spam", "not_public_service", "no_response_to_completion", "other"):
        tid, _ = lapor.submit()
        lapor.seen(tid)
        done = lapor.act(tid, "reject", {"reason": reason, "note": f"because {reason}"})
        assert done.status_code == 200, done.text
        report = lapor.seen(tid)
        assert (report["status"], report["rejected_reason"]) == ("rejected", reason)
        assert report["history"][-1]["details"]["note"] == f"because {reason}"
    tid, _ = lapor.submit()
    no_reason = lapor.act(tid, "reject", {"note": "?"})
    assert no_reason.status_code == 422
    assert no_reason.json()["detail"][0]["field"] == "reason"
    unnamed = lapor.act(tid, "reject", {"reason": "duplicate"})
    assert unnamed.status_code == 422
    assert unnamed.json()["detail"][0]["field"] == "duplicate_of"
    itself = lapor.act(tid, "reject", {"duplicate_of": tid})
    assert itself.status_code == 422 and itself.json()["detail"][0]["field"] == "duplicate_of"
    nowhere = lapor.act(tid, "reject", {"duplicate_of": new_tracking_id()})
    assert nowhere.status_code == 422 and nowhere.json()["detail"][0]["field"] == "duplicate_of"
    assert lapor.stored(tid) == ["ReportSubmitted"]


def test_postpone_hides_the_report_until_the_date(lapor: Lapor) -> None:
    region = fresh_region()
    tid, _ = lapor.submit(location={"region_code": region})
    lapor.seen(tid)
    until = days_from_now(3)
    done = lapor.act(tid, "postpone", {"until": until, "note": "menunggu data dinas"})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "submitted"
    assert lapor.queue_ids(region=region) == []
    postponed = lapor.queued(region=region, postponed="only")
    assert [(r["tracking_id"], r["postponed_until"]) for r in postponed] == [(tid, until)]
    assert lapor.queue_ids(region=region, postponed="include") == [tid]
    past = lapor.act(tid, "postpone", {"until": "2020-01-01"})
    assert past.status_code == 422 and past.json()["detail"][0]["field"] == "until"
    garbage = lapor.act(tid, "postpone", {"until": "tomorrow"})
    assert garbage.status_code == 422 and garbage.json()["detail"][0]["field"] == "until"


def test_not_our_authority_goes_to_another_region_or_the_national_desk(lapor: Lapor) -> None:
    here, there = fresh_region("52"), fresh_region("63")
    tid, _ = lapor.submit(location={"region_code": here})
    lapor.seen(tid)
    local = lapor.token("admin", region=here)
    other = lapor.token("admin", region=there)
    moved = lapor.act(
        tid, "not-our-authority", {"to_region": there, "note": "wrong province"}, local
    )
    assert moved.status_code == 200, moved.text
    assert lapor.seen(tid)["location"]["region_code"] == there
    assert lapor.queue_ids(local, region=here) == []
    assert lapor.queue_ids(other) == [tid]
    assert lapor.act(tid, "verify", token=local).status_code == 403
    national = lapor.act(tid, "not-our-authority", {"note": "national matter"}, other)
    assert national.status_code == 200, national.text
    assert lapor.seen(tid)["location"]["region_code"] is None
    assert lapor.queue_ids(other) == []
    assert lapor.act(tid, "verify", token=other).status_code == 403
    assert lapor.act(tid, "verify").status_code == 200  # the national desk can
    assert lapor.history(tid) == [
        "ReportSubmitted",
        "ReportReferred",
        "ReportReferred",
        "ReportVerified",
    ]


def test_set_and_lift_anonymous_and_confidential(lapor: Lapor) -> None:
    tid, _ = lapor.submit()
    lapor.seen(tid)
    hidden = lapor.act(
        tid, "protection", {"anonymous": True, "confidential": True, "note": "lupa centang"}
    )
    assert hidden.status_code == 200, hidden.text
    report = lapor.seen(tid)
    assert (report["anonymous"], report["confidential"]) == (True, True)
    # Intake's public view hides a confidential report now.
    wait_for(
        lambda: lapor.intake.get(f"/api/v1/reports/{tid}").status_code == 404,
        what="confidential at intake",
    )
    lifted = lapor.act(tid, "protection", {"confidential": False})
    assert lifted.status_code == 200
    report = lapor.seen(tid)
    assert (report["anonymous"], report["confidential"]) == (True, False)
    again = lapor.act(tid, "protection", {"confidential": False})
    assert (again.status_code, again.json()["changed"]) == (200, False)
    empty = lapor.act(tid, "protection", {"note": "nothing"})
    assert empty.status_code == 422 and empty.json()["detail"][0]["field"] == "anonymous"


def test_bulk_verify(lapor: Lapor) -> None:
    ids = [lapor.submit()[0] for _ in range(3)]
    for tid in ids:
        lapor.seen(tid)
    unknown = new_tracking_id()
    done = lapor.desk.post(
        "/api/v1/bulk-verify",
        json={"tracking_ids": [*ids, ids[0].lower(), unknown]},
        headers=lapor.auth(),
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
        assert lapor.seen(tid)["status"] == "verified"
    again = lapor.desk.post(
        "/api/v1/bulk-verify", json={"tracking_ids": ids}, headers=lapor.auth()
    ).json()
    assert [r["outcome"] for r in again["results"]] == ["unchanged"] * 3
    typo = lapor.desk.post(
        "/api/v1/bulk-verify", json={"tracking_ids": [ids[0], "ABC"]}, headers=lapor.auth()
    )
    assert typo.status_code == 422 and typo.json()["detail"][0]["field"] == "tracking_ids.1"
    empty = lapor.desk.post("/api/v1/bulk-verify", json={"tracking_ids": []}, headers=lapor.auth())
    assert empty.status_code == 422


# --- duplicates ----------------------------------------------------------------------------------
def submit_by_sms(lapor: Lapor, body: str, region: str) -> str:
    """A report that came in by SMS 1708 (written to the shared store as intake's SMS channel
    would, since the SMS channel is another issue)."""
    tracking_id = new_tracking_id()

    async def write() -> None:
        store = SqliteEventStore(lapor.system.data_dir / "events.db")
        try:
            await ReportRepository(store, FixedClock(datetime.now(UTC))).execute(
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
        finally:
            await store.close()

    asyncio.run(write())
    return tracking_id


def test_duplicate_suggestions_and_the_one_step_link(lapor: Lapor) -> None:
    region = fresh_region("53")
    place = {"region_code": region, "lat": -10.1583, "lon": 123.5810}
    original, _ = lapor.submit(
        title="Jembatan Liliba ambruk",
        body="Jembatan kayu di Liliba ambruk sebagian, warga tidak bisa menyeberang.",
        location=place,
    )
    web_again, _ = lapor.submit(
        title="Jembatan ambruk di Liliba",
        body="Warga tidak bisa menyeberang karena jembatan kayu Liliba ambruk.",
        location={**place, "lat": -10.1590},  # ~80 m away
    )
    by_sms = submit_by_sms(
        lapor, "LAPOR jembatan kayu liliba ambruk warga tidak bisa menyeberang", region
    )
    unrelated, _ = lapor.submit(
        title="Gaji honorer terlambat",
        body="Gaji guru honorer sudah tiga bulan belum dibayar oleh dinas.",
        location={"region_code": region, "lat": -10.30, "lon": 123.90},
    )
    for tid in (original, web_again, by_sms, unrelated):
        lapor.seen(tid)
    found = lapor.desk.get(f"/api/v1/reports/{web_again}/duplicates", headers=lapor.auth())
    assert found.status_code == 200, found.text
    suggestions = {s["tracking_id"]: s for s in found.json()}
    assert set(suggestions) == {original, by_sms}
    assert found.json()[0]["tracking_id"] == original  # similar words and 80 m away
    assert suggestions[original]["reasons"][:2] == ["similar_text", "nearby"]
    assert 50 < suggestions[original]["distance_m"] < 120
    assert suggestions[by_sms]["channel"] == "sms"
    assert suggestions[by_sms]["reasons"] == ["similar_text"]

    linked = lapor.act(web_again, "reject", {"duplicate_of": original.lower()})
    assert linked.status_code == 200, linked.text
    duplicate = lapor.seen(web_again)
    assert (duplicate["status"], duplicate["rejected_reason"]) == ("rejected", "duplicate")
    assert duplicate["duplicate_of"] == original
    assert [d["tracking_id"] for d in lapor.seen(original)["duplicates"]] == [web_again]
    timeline = lapor.timeline(web_again, 2)
    assert timeline[-1]["event_type"] == "ReportRejected"
    assert timeline[-1]["duplicate_of"] == original


# --- two admins at once, double clicks -----------------------------------------------------------
Call = tuple[str, str, dict[str, Any], str, str | None]  # tracking id, action, body, token, key


def at_once(*calls: Call, lapor: Lapor) -> list[httpx.Response]:
    """Send the requests as close together as threads allow."""
    barrier = threading.Barrier(len(calls))

    def send(call: Call) -> httpx.Response:
        tid, action, body, token, key = call
        with httpx.Client(base_url=lapor.system.url("verification"), timeout=10) as client:
            headers = lapor.auth(token) | ({"Idempotency-Key": key} if key else {})
            barrier.wait()
            return client.post(f"/api/v1/reports/{tid}/{action}", json=body, headers=headers)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(send, calls))


def test_two_admins_at_once_one_wins_the_other_gets_409_with_the_current_state(
    lapor: Lapor,
) -> None:
    ani, budi = lapor.token("admin", subject="ani"), lapor.token("admin", subject="budi")
    for round_ in range(6):
        tid, _ = lapor.submit()
        lapor.seen(tid)
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
        answers = at_once(*calls, lapor=lapor)
        codes = sorted(a.status_code for a in answers)
        assert codes == [200, 409], [a.text for a in answers]
        won = next(a for a in answers if a.status_code == 200).json()
        lost = next(a for a in answers if a.status_code == 409).json()["detail"]
        assert lost["status"] == won["status"]
        assert lost["current"]["status"] == won["status"]
        assert lost["current_version"] == 2
        assert lost["msg"]
        assert len(lapor.stored(tid)) == 2


def test_a_double_click_is_harmless(lapor: Lapor) -> None:
    ani = lapor.token("admin", subject="ani-double")
    # One after the other, without a key: the second changes nothing.
    tid, _ = lapor.submit()
    lapor.seen(tid)
    first, second = lapor.act(tid, "verify", token=ani), lapor.act(tid, "verify", token=ani)
    assert (first.status_code, first.json()["changed"]) == (200, True)
    assert (second.status_code, second.json()["changed"]) == (200, False)
    # With an Idempotency-Key: the same answer again.
    tid, _ = lapor.submit()
    lapor.seen(tid)
    key = uuid.uuid4().hex
    once = lapor.act(tid, "request-completion", {"note": "foto?"}, ani, key)
    twice = lapor.act(tid, "request-completion", {"note": "foto?"}, ani, key)
    assert once.status_code == twice.status_code == 200
    assert once.json() == twice.json()
    # At the same moment, with and without a key.
    for same_key in (uuid.uuid4().hex, None):
        tid, _ = lapor.submit()
        lapor.seen(tid)
        answers = at_once(
            (tid, "reject", {"reason": "spam"}, ani, same_key),
            (tid, "reject", {"reason": "spam"}, ani, same_key),
            lapor=lapor,
        )
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert lapor.stored(tid) == ["ReportSubmitted", "ReportRejected"]


def test_an_action_the_status_does_not_allow_is_409_with_the_status(lapor: Lapor) -> None:
    tid, _ = lapor.submit()
    lapor.seen(tid)
    assert lapor.act(tid, "reject", {"reason": "spam"}).status_code == 200
    for action, body in (
        ("verify", {}),
        ("request-completion", {"note": "x"}),
        ("postpone", {"until": days_from_now(2)}),
        ("not-our-authority", {"to_region": "3171"}),
        ("protection", {"anonymous": True}),
    ):
        refused = lapor.act(tid, action, body)
        assert refused.status_code == 409, (action, refused.text)
        assert refused.json()["detail"]["status"] == "rejected"


def test_bad_input_names_the_field_and_never_500s(lapor: Lapor) -> None:
    tid, _ = lapor.submit()
    lapor.seen(tid)
    cases = [
        ("/api/v1/reports/NOT-AN-ID/verify", {}, 422, "tracking_id"),
        (f"/api/v1/reports/{tid}/verify", {"category": "no-such"}, 422, "category"),
        (f"/api/v1/reports/{tid}/verify", {"region_code": "53.71"}, 422, "region_code"),
        (f"/api/v1/reports/{tid}/verify", {"agency_code": "dinkes"}, 422, "agency_code"),
        (f"/api/v1/reports/{tid}/verify", {"classification": "rant"}, 422, "classification"),
        (f"/api/v1/reports/{tid}/verify", {"colour": "red"}, 422, "colour"),
        (f"/api/v1/reports/{tid}/verify", {"location": {"lat": 91}}, 422, "location.lat"),
        (f"/api/v1/reports/{tid}/request-completion", {}, 422, "note"),
        (f"/api/v1/reports/{tid}/reject", {"reason": "boring"}, 422, "reason"),
        (f"/api/v1/reports/{tid}/not-our-authority", {"to_region": "x"}, 422, "to_region"),
    ]
    for url, body, status, field in cases:
        answer = lapor.desk.post(url, json=body, headers=lapor.auth())
        assert answer.status_code == status, (url, body, answer.text)
        assert answer.json()["detail"][0]["field"] == field, (url, body, answer.text)
    missing = lapor.act(new_tracking_id(), "verify")
    assert missing.status_code == 404 and missing.json() == {"detail": "report not found"}
    broken = lapor.desk.post(
        f"/api/v1/reports/{tid}/verify",
        content=b"{not json",
        headers=lapor.auth() | {"Content-Type": "application/json"},
    )
    assert broken.status_code == 422
    assert lapor.stored(tid) == ["ReportSubmitted"]
