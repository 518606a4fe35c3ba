"""The LAPOR! process (issue 16), told through the five services in one event loop: follow-ups
that count, nothing stranded at the desk, the hierarchy of institutions, administrators' replies
and public texts, and bad input refused with nothing appended.

What needs the clock to run for weeks across real processes is in test_process_system.py.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta
from typing import Any

import httpx

from shared.calendar import WorkingDayCalendar
from shared.clock import FileClock
from shared.i18n.dates import day
from shared.runtime.directory import LiveDirectory
from shared.runtime.escalation import Escalations
from shared.runtime.repository import ReportRepository
from shared.runtime.rules import load_rules
from tests.driver import Driver
from tests.harness import InProcessSystem

CAL = WorkingDayCalendar.default()

DINKES = "DINKES-KOTA-KUPANG"
PEMKOT = "PEMKOT-KUPANG"
PUSKESMAS = "PUSKESMAS-SIKUMANA"
CLINIC = {
    "title": "Puskesmas tutup siang hari",
    "body": "Puskesmas Sikumana tutup pukul 12, warga yang datang disuruh pulang.",
    "category": "kesehatan",
    "location": {"region_code": "5371"},
}


async def events(lapor: InProcessSystem, tracking_id: str) -> list[str]:
    return [e.event_type for e in await lapor.store.read(f"report-{tracking_id}")]


async def forwarded(drive: Driver, **fields: Any) -> tuple[str, str]:
    """A report verified and forwarded by routing's rules; (tracking ID, access code)."""
    report = await drive.submit(**(CLINIC | fields))
    await drive.verify(report.tracking_id)
    return report.tracking_id, report.access_code


# --- follow-ups that count -----------------------------------------------------------------------
async def test_a_question_is_shown_as_a_question_and_the_answer_flags_the_inbox(
    drive: Driver, lapor: InProcessSystem
) -> None:
    tid, code = await forwarded(drive)
    bad = await drive.follow_up(tid, DINKES, "Sudah kami cek.", kind="maybe")
    assert bad.status_code == 422
    assert [d["loc"][-1] for d in bad.json()["detail"]] == ["kind"]
    assert await events(lapor, tid) == ["ReportSubmitted", "ReportVerified", "ForwardedToOPD"]

    asked = await drive.follow_up(tid, DINKES, "Anak Anda umur berapa?", kind="question")
    assert asked.status_code == 201 and asked.json()["kind"] == "question"
    [item] = [i for i in await drive.inbox(DINKES) if i["tracking_id"] == tid]
    # A question answers nothing: the first follow-up is still due, and counted down.
    assert item["follow_up_done"] is False and item["time_left"] is not None
    assert item["last_follow_up_kind"] == "question" and item["answered_since_follow_up"] is False
    timeline = await drive.timeline(tid, code)
    assert (timeline[-1]["event_type"], timeline[-1]["kind"]) == ("FollowUpPosted", "question")
    page = await drive.client("intake").get(f"/laporan/{tid}")
    assert '<li class="question">' in page.text and "Pertanyaan untuk pelapor" in page.text

    replied = await drive.reporter(tid, code, "replies", {"text": "Umurnya 4 tahun."})
    assert replied.status_code == 201
    [item] = [i for i in await drive.inbox(DINKES) if i["tracking_id"] == tid]
    assert item["answered_since_follow_up"] is True
    assert (await drive.inbox(DINKES))[0]["tracking_id"] == tid  # waiting for them: on top
    interim = await drive.follow_up(tid, DINKES, "Akan kami cek besok.", kind="interim")
    assert interim.status_code == 201
    [item] = [i for i in await drive.inbox(DINKES) if i["tracking_id"] == tid]
    assert item["follow_up_done"] is True and item["time_left"] is None
    assert item["answered_since_follow_up"] is False


# --- nothing stranded ---------------------------------------------------------------------------
async def test_a_returned_report_is_back_in_the_default_queue_and_forwarded_again(
    drive: Driver, lapor: InProcessSystem
) -> None:
    tid, _ = await forwarded(drive)
    back = await drive.agency(
        tid, "return", DINKES, {"reason": "not_our_authority", "note": "Urusan sekolah"}
    )
    assert back.status_code == 200, back.text
    [row] = [r for r in await drive.queue() if r["tracking_id"] == tid]
    assert row["status"] == "returned" and row["deadline_stage"] == "reforward"
    assert row["returned"] == {
        "by": DINKES,
        "reason": "not_our_authority",
        "note": "Urusan sekolah",
        "suggested_agency": row["returned"]["suggested_agency"],
    }
    assert row["time_left"]["overdue"] is False and row["time_left"]["due_date"]
    console = drive.client("verification", drive.admin())
    page = await console.get(
        f"/console/reports/{tid}", headers={"Cookie": f"lapor_console={drive.admin()}"}
    )
    assert 'id="returned-actions"' in page.text and "/forward" in page.text

    # Reject with reason other and no note: 422 naming `note`, nothing appended.
    before = await events(lapor, tid)
    refused = await drive.desk(tid, "reject", {"reason": "other"})
    assert refused.status_code == 422
    assert [d["field"] for d in refused.json()["detail"]] == ["note"]
    unknown = await drive.desk(tid, "forward", {"agency_code": "TIDAK-ADA"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["field"] == "agency_code"
    assert await events(lapor, tid) == before

    sent = await drive.desk(tid, "forward", {"agency_code": "DINDIK-KOTA-BLITAR"})
    assert sent.status_code == 200, sent.text
    assert sent.json()["events"] == ["ForwardedToOPD"]
    assert tid not in [r["tracking_id"] for r in await drive.queue()]
    [item] = [i for i in await drive.inbox("DINDIK-KOTA-BLITAR") if i["tracking_id"] == tid]
    assert item["routed_by"] == "admin" and item["follow_up_due"]
    handed = (
        await drive.client("routing", drive.token("agency", agency=DINKES)).get("/api/v1/handed-on")
    ).json()
    assert (handed[0]["tracking_id"], handed[0]["how"], handed[0]["status"]) == (
        tid,
        "returned",
        "forwarded",
    )


async def test_a_returned_report_sent_up_keeps_a_re_forward_deadline_at_the_national_desk(
    drive: Driver, lapor: InProcessSystem
) -> None:
    """Found: a returned report that the regional desk sent up reached the national desk with no
    deadline at all (the referral ended the only one), so nobody was warned or breached."""
    lapor.set_clock("2026-03-02T09:00:00+08:00")  # Monday, Kupang (WITA)
    tid, _ = await forwarded(drive)
    lapor.set_clock("2026-03-03T09:00:00+08:00")
    back = await drive.agency(tid, "return", DINKES, {"reason": "not_our_authority"})
    assert back.status_code == 200, back.text
    ntt = drive.token("admin", region="53")
    [row] = [r for r in await drive.queue(ntt) if r["tracking_id"] == tid]
    assert (row["deadline_stage"], row["time_left"]["due_date"]) == ("reforward", "2026-03-06")

    lapor.set_clock("2026-03-05T10:00:00+08:00")  # Thursday
    up = await drive.desk(tid, "not-our-authority", {"note": "Kewenangan pusat"}, token=ntt)
    assert up.status_code == 200 and up.json()["events"] == ["ReportReferred"]
    assert tid not in [r["tracking_id"] for r in await drive.queue(ntt)]
    [row] = [r for r in await drive.queue() if r["tracking_id"] == tid]
    # The national desk's own 3 working days from Thursday 5 March (WIB): Fri 6, Mon 9, Tue 10.
    assert row["status"] == "returned" and row["deadline_stage"] == "reforward"
    assert row["time_left"]["due_date"] == "2026-03-10" and row["reforward_breached"] is False
    sla = drive.client("sla", drive.admin())
    rows = await sla.get("/api/v1/deadlines", params={"tracking_id": tid, "stage": "reforward"})
    assert [(d["cycle"], d["state"], d["due"], d["ended_by"]) for d in rows.json()] == [
        (1, "met", "2026-03-06", "ReportReferred"),
        (2, "pending", "2026-03-10", None),
    ]

    lapor.set_clock("2026-03-11T08:00:00+07:00")
    await lapor.run("sla", "tick")  # the national desk let it pass: its breach, not the region's
    [breach] = [
        e.payload()
        for e in await lapor.store.read(f"report-{tid}")
        if e.event_type == "SlaBreached" and e.payload().stage == "reforward"  # type: ignore[attr-defined]
    ]
    assert breach.due == date(2026, 3, 10)  # type: ignore[attr-defined]
    [row] = [r for r in await drive.queue() if r["tracking_id"] == tid]
    assert row["reforward_breached"] is True and row["time_left"]["overdue"] is True


async def test_postponing_never_passes_the_due_date(drive: Driver, lapor: InProcessSystem) -> None:
    report = await drive.submit(**CLINIC)
    due = (await drive.desk_report(report.tracking_id))["time_left"]["due_date"]
    before = await events(lapor, report.tracking_id)
    later = (date.fromisoformat(due) + timedelta(days=7)).isoformat()
    beyond = await drive.desk(report.tracking_id, "postpone", {"until": later})
    assert beyond.status_code == 422
    [problem] = beyond.json()["detail"]
    assert problem["field"] == "until" and due in problem["msg"]
    assert await events(lapor, report.tracking_id) == before


# --- administrators on the follow-up page, and the public text -----------------------------------
async def test_an_administrator_answers_and_sets_the_public_text(
    drive: Driver, lapor: InProcessSystem
) -> None:
    phone = "081234509876"
    tid, code = await forwarded(drive, body=f"Saya Budi, HP {phone}. Puskesmas tutup siang hari.")
    early = await drive.desk(tid, "reply", {"text": "Kami pantau."})
    assert early.status_code == 409  # nothing to answer before the institution's follow-up
    await drive.follow_up(tid, DINKES, "Jam buka sudah diperpanjang.", kind="final")
    answered = await drive.desk(tid, "reply", {"text": "Admin LAPOR! memantau tindak lanjut."})
    assert answered.status_code == 200 and answered.json()["events"] == ["AdministratorReplied"]
    timeline = await drive.timeline(tid)
    assert timeline[-1] | {"occurred_at": ""} == {
        "event_type": "AdministratorReplied",
        "occurred_at": "",
        "actor": "admin",
        "text": "Admin LAPOR! memantau tindak lanjut.",
    }

    assert phone in (await drive.report(tid)).json()["body"]  # until a public text is set
    redacted = await drive.desk(
        tid,
        "public-text",
        {"title": "Puskesmas tutup siang hari", "body": "Pelapor: Puskesmas tutup siang hari."},
    )
    assert redacted.status_code == 200 and redacted.json()["events"] == ["PublicTextSet"]
    public = (await drive.report(tid)).json()
    assert public["body"] == "Pelapor: Puskesmas tutup siang hari." and "public_body" not in public
    own = (await drive.report(tid, code)).json()
    assert phone in own["body"] and own["public_body"] == "Pelapor: Puskesmas tutup siang hari."
    intake = drive.client("intake")
    assert (await intake.get("/api/v1/reports", params={"q": phone})).json() == []
    assert phone not in (await intake.get(f"/laporan/{tid}")).text
    assert "Pelapor: Puskesmas" not in (await intake.get("/laporan")).text  # the title only
    assert tid in (await intake.get("/laporan")).text
    [item] = [i for i in await drive.inbox(DINKES) if i["tracking_id"] == tid]
    assert phone in item["body"]  # the institution keeps the original


# --- the hierarchy (seeds 002, 003) -------------------------------------------------------------
async def test_a_city_desk_delegates_to_its_opd_and_the_dinkes_to_its_puskesmas(
    drive: Driver, lapor: InProcessSystem
) -> None:
    # No rule for this category in Kota Kupang: the city government's desk receives it.
    tid, _ = await forwarded(drive, category=None, title="Pelayanan lambat di puskesmas")
    [item] = [i for i in await drive.inbox(PEMKOT) if i["tracking_id"] == tid]
    due = item["follow_up_due"]
    assert item["routed_by"] == "region"

    not_mine = await drive.agency(tid, "delegate", PEMKOT, {"agency_code": "DINDIK-KOTA-BLITAR"})
    assert not_mine.status_code == 400 and not_mine.json()["detail"][0]["field"] == "agency_code"
    to_opd = await drive.agency(tid, "delegate", PEMKOT, {"agency_code": DINKES, "note": "Teknis"})
    assert to_opd.status_code == 200, to_opd.text
    assert (to_opd.json()["agency_code"], to_opd.json()["follow_up_due"]) == (DINKES, due)

    # The documented transfer to one's own Puskesmas is a delegation under the same deadline.
    to_unit = await drive.agency(tid, "transfer", DINKES, {"agency_code": PUSKESMAS})
    assert to_unit.status_code == 200, to_unit.text
    assert (to_unit.json()["agency_code"], to_unit.json()["follow_up_due"]) == (PUSKESMAS, due)
    assert (await events(lapor, tid))[-2:] == ["ReportDelegated", "ReportDelegated"]
    [item] = [i for i in await drive.inbox(PUSKESMAS) if i["tracking_id"] == tid]
    assert (item["follow_up_due"], item["delegated_from"]) == (due, DINKES)
    assert tid not in [i["tracking_id"] for i in await drive.inbox(DINKES)]
    for agency, to in ((PEMKOT, DINKES), (DINKES, PUSKESMAS)):
        desk = drive.client("routing", drive.token("agency", agency=agency))
        [handed] = [
            h for h in (await desk.get("/api/v1/handed-on")).json() if h["tracking_id"] == tid
        ]
        assert (handed["how"], handed["to_agency"], handed["now_agency_code"]) == (
            "delegated",
            to,
            PUSKESMAS,
        )
        token = drive.token("agency", agency=agency)
        page = await desk.get("/desk", headers={"Cookie": f"lapor_desk={token}"})
        assert 'id="handed-on"' in page.text and tid in page.text
    answered = await drive.follow_up(tid, PUSKESMAS, "Jam layanan diperpanjang.", kind="final")
    assert answered.status_code == 201


async def test_the_delegating_institution_opens_the_handed_on_report_read_only(
    drive: Driver, lapor: InProcessSystem
) -> None:
    """Found: the Dinkes saw the report it gave its Puskesmas in its desk list, but its page
    answered 404."""
    lapor.set_clock("2026-03-02T09:00:00+08:00")
    tid, _ = await forwarded(drive)
    lapor.set_clock("2026-03-03T10:15:00+08:00")
    given = await drive.agency(tid, "delegate", DINKES, {"agency_code": PUSKESMAS})
    assert given.status_code == 200, given.text
    token = drive.token("agency", agency=DINKES)
    dinkes = drive.client("routing", token)
    cookie = {"Cookie": f"lapor_desk={token}"}
    listed = await dinkes.get("/desk", headers=cookie)
    assert f'<a href="/desk/reports/{tid}">{tid}</a>' in listed.text

    page = await dinkes.get(f"/desk/reports/{tid}", headers=cookie)
    assert page.status_code == 200, page.text
    assert 'id="handed-on-notice"' in page.text
    assert (
        "Laporan ini telah diserahkan ke unit: ke Puskesmas Sikumana pada 3 Maret 2026, 10.15 WITA"
        in page.text
    )
    assert "hanya Puskesmas Sikumana yang menindaklanjutinya" in page.text
    # Read-only: no form to answer, return, transfer or delegate.
    assert f'action="/desk/reports/{tid}/' not in page.text
    english = await dinkes.get(f"/desk/reports/{tid}?lang=en", headers=cookie)
    assert "This report was delegated to a unit: to Puskesmas Sikumana on" in english.text

    detail = (await dinkes.get(f"/api/v1/inbox/{tid}")).json()
    assert detail["handed_on"] == {
        "how": "delegated",
        "at": detail["handed_on"]["at"],
        "to_agency": PUSKESMAS,
        "to_agency_name": "Puskesmas Sikumana",
    }
    assert detail["handed_on"]["at"].startswith("2026-03-03T")
    assert detail["agency_code"] == PUSKESMAS and detail["history"][-1]["event_type"] == (
        "ReportDelegated"
    )
    before = await events(lapor, tid)
    refused = await drive.follow_up(tid, DINKES, "Sudah kami tangani.", kind="final")
    assert refused.status_code in (403, 409) and await events(lapor, tid) == before
    unit = (
        await drive.client("routing", drive.token("agency", agency=PUSKESMAS)).get(
            f"/api/v1/inbox/{tid}"
        )
    ).json()
    assert unit["handed_on"] is None  # the unit holds it and acts on it

    # A confidential report the institution returned is no longer its to read.
    secret, _ = await forwarded(drive, confidential=True)
    back = await drive.agency(secret, "return", DINKES, {"reason": "not_our_authority"})
    assert back.status_code == 200, back.text
    assert (await dinkes.get(f"/api/v1/inbox/{secret}")).status_code == 404
    assert (await dinkes.get(f"/desk/reports/{secret}", headers=cookie)).status_code == 404
    elsewhere = drive.client("routing", drive.token("agency", agency="DINDIK-KOTA-BLITAR"))
    assert (await elsewhere.get(f"/api/v1/inbox/{tid}")).status_code == 404


# --- escalation before it is open ---------------------------------------------------------------
async def test_escalating_before_it_is_open_names_the_day_and_appends_nothing(
    drive: Driver, lapor: InProcessSystem
) -> None:
    report = await drive.submit(**CLINIC)  # never verified
    before = await events(lapor, report.tracking_id)
    early = await drive.client("sla").post(
        f"/api/v1/reports/{report.tracking_id}/escalate",
        headers={"X-Access-Code": report.access_code},
    )
    assert early.status_code == 409
    detail = early.json()["detail"]
    assert detail["opens_on"] and detail["opens_on"] in detail["msg"]
    assert await events(lapor, report.tracking_id) == before
    ombudsman = drive.client("sla", drive.token("ombudsman", region="53"))
    assert (await ombudsman.get("/api/v1/escalations")).json() == []
    assert (
        await drive.client("sla", drive.token("agency", agency=DINKES)).get("/api/v1/escalations")
    ).status_code == 403


# --- the Ombudsman, on the report page and racing the ticker -------------------------------------
def form_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


async def test_the_signed_in_reporter_escalates_from_the_report_page(
    drive: Driver, lapor: InProcessSystem
) -> None:
    lapor.set_clock("2026-03-02T09:00:00+08:00")  # Monday, Kupang (WITA)
    report = await drive.submit(**CLINIC)
    tid = report.tracking_id
    opens = CAL.add_working_days(date(2026, 3, 2), 60, "5371") + timedelta(days=1)
    async with lapor.client("intake") as web:
        page = (await web.get(f"/laporan/{tid}")).text
        signed = await web.post(
            f"/laporan/{tid}/masuk",
            data={"csrf_token": form_token(page), "access_code": report.access_code},
        )
        assert signed.status_code == 303
        page = (await web.get(f"/laporan/{tid}")).text
        # Not open yet: the page says from which day, and offers no button.
        assert f'id="escalation-opens-on" datetime="{opens.isoformat()}"' in page
        assert day(opens, "id") in page and f"/laporan/{tid}/eskalasi" not in page
        early = await web.post(f"/laporan/{tid}/eskalasi", data={"csrf_token": form_token(page)})
        assert early.status_code == 409
        assert "EscalatedToOmbudsman" not in await events(lapor, tid)

        lapor.set_clock(f"{opens.isoformat()}T08:00:00+08:00")
        page = (await web.get(f"/laporan/{tid}")).text
        assert f'action="/laporan/{tid}/eskalasi"' in page
        done = await web.post(f"/laporan/{tid}/eskalasi", data={"csrf_token": form_token(page)})
        assert done.status_code == 303, done.text
        page = (await web.get(done.headers["location"])).text
        assert "Laporan ini telah diteruskan ke Ombudsman RI Perwakilan Nusa Tenggara Timur" in page
        assert "Terima kasih, sudah kami catat." in page
        # Pressed again (a second tab, a slow connection): told it was escalated already.
        again = await web.post(f"/laporan/{tid}/eskalasi", data={"csrf_token": form_token(page)})
        assert again.status_code == 303, again.text
        page = (await web.get(again.headers["location"])).text
        assert "sudah diteruskan ke Ombudsman RI sebelumnya" in page
        assert "Terima kasih, sudah kami catat." not in page
    # The API (and SMS) run the same use case under the same key: it finds this escalation.
    again = await drive.client("sla").post(
        f"/api/v1/reports/{tid}/escalate", headers={"X-Access-Code": report.access_code}
    )
    assert again.status_code == 200 and again.json()["ombudsman_office"] == "OMBUDSMAN-53"
    assert (await events(lapor, tid)).count("EscalatedToOmbudsman") == 1
    listed = (
        await drive.client("sla", drive.token("ombudsman", region="53")).get("/api/v1/escalations")
    ).json()
    assert listed[0]["tracking_id"] == tid
    assert listed[0]["evidence"]["json"] == f"/api/v1/reports/{tid}/evidence.json"
    assert listed[0]["ombudsman_office_name"] == "Ombudsman RI Perwakilan Nusa Tenggara Timur"
    elsewhere = drive.client("sla", drive.token("ombudsman", region="35"))
    assert tid not in [
        r["tracking_id"] for r in (await elsewhere.get("/api/v1/escalations")).json()
    ]


async def test_an_escalation_racing_the_tickers_breach_is_decided_again_not_bounced(
    drive: Driver, lapor: InProcessSystem
) -> None:
    """The reporter's request read the stream; the ticker appended a breach before the
    escalation was appended: the system's own work never bounces a person (found: 409 "someone
    else changed this report first")."""
    lapor.set_clock("2026-03-02T09:00:00+08:00")
    report = await drive.submit(**CLINIC)
    opens = CAL.add_working_days(date(2026, 3, 2), 60, "5371") + timedelta(days=1)
    lapor.set_clock(f"{opens.isoformat()}T08:00:00+08:00")
    clock = FileClock(lapor.data_dir / "clock.txt")
    escalations = Escalations(
        ReportRepository(lapor.store, clock), LiveDirectory(lapor.store), load_rules(), clock
    )
    state, seen = await escalations.load(report.tracking_id)  # the request has read the stream
    await lapor.run("sla", "tick")  # meanwhile the ticker records the verification breach
    assert (await events(lapor, report.tracking_id))[-1] == "SlaBreached"
    done = await escalations.escalate(state, seen, "race")
    assert done.new and done.ombudsman_office == "OMBUDSMAN-53"
    assert (await events(lapor, report.tracking_id))[-2:] == ["SlaBreached", "EscalatedToOmbudsman"]
    pack = await drive.client("sla").get(
        f"/api/v1/reports/{report.tracking_id}/evidence.json",
        headers={"X-Access-Code": report.access_code},
    )
    assert pack.json()["escalation"]["evidence_covers_versions"] == len(seen)


async def test_two_simultaneous_first_escalations_escalate_once_and_the_second_hears_so(
    drive: Driver, lapor: InProcessSystem
) -> None:
    """Found: both callers were answered 201 "escalated" though one event was stored."""
    lapor.set_clock("2026-03-02T09:00:00+08:00")
    report = await drive.submit(**CLINIC)
    tid = report.tracking_id
    opens = CAL.add_working_days(date(2026, 3, 2), 60, "5371") + timedelta(days=1)
    lapor.set_clock(f"{opens.isoformat()}T08:00:00+08:00")
    sla = drive.client("sla")

    async def escalate() -> httpx.Response:
        return await sla.post(
            f"/api/v1/reports/{tid}/escalate", headers={"X-Access-Code": report.access_code}
        )

    answers = await asyncio.gather(*(escalate() for _ in range(3)))
    assert sorted(a.status_code for a in answers) == [200, 200, 201], [a.text for a in answers]
    assert (await events(lapor, tid)).count("EscalatedToOmbudsman") == 1
    [first] = [a.json() for a in answers if a.status_code == 201]
    repeats = [a.json() for a in answers if a.status_code == 200]
    assert first["already_escalated"] is False and "message" not in first
    for repeat in repeats:
        assert repeat["already_escalated"] is True
        assert repeat["escalated_at"] == first["escalated_at"]
        assert repeat["ombudsman_office"] == first["ombudsman_office"] == "OMBUDSMAN-53"
        office = "Ombudsman RI Perwakilan Nusa Tenggara Timur"
        assert repeat["message"].startswith(f"Laporan ini sudah diteruskan ke {office} pada ")
        assert f" / This report was already escalated to {office} on " in repeat["message"]
        assert "WITA" in repeat["message"]
