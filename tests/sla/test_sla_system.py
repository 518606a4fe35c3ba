"""The sla service as real processes, walking reports through long stretches of simulated time.

One system for the module (tests/sla/conftest.py); the clock only moves forward, from Lebaran
2026 through the middle of the year to the turn of 2026/2027. Each test uses its own reports.
The sla service is SIGKILLed and started again around the moments it must act, to prove that
breaches and auto-closes happen exactly once: never missed, never twice.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import date, timedelta

import holidays
import httpx
import pytest

from services.sla.evidence import verify_document
from shared.calendar import WorkingDayCalendar
from shared.reports.commands import ForwardReport, PostFollowUp, ReplyAsReporter, VerifyReport
from shared.reports.events import FollowUpKind
from shared.store.chain import canonical_json, verify_chain
from tests.sla.conftest import Lapor

pytestmark = pytest.mark.asyncio

CAL = WorkingDayCalendar.default()
DINKES = "DINKES-KOTA-KUPANG"
DISHUB = "DISHUB-KOTA-KUPANG"


async def forward(lapor: Lapor, tid: str, agency: str, due: str, inspection: bool = False) -> None:
    await lapor.run(tid, VerifyReport(requires_field_inspection=inspection))
    await lapor.run(
        tid,
        ForwardReport(
            agency_code=agency, agency_name=agency, follow_up_due=date.fromisoformat(due)
        ),
    )


# --- the calendar, public ------------------------------------------------------------------------
async def test_the_calendar_endpoints_agree_with_the_holidays_package_every_day_of_2026_and_2027(
    lapor: Lapor,
) -> None:
    package = holidays.country_holidays(
        "ID", years=(2026, 2027), categories=("public", "government")
    )

    def next_working_day(day: date) -> date:
        day += timedelta(days=1)
        while day.weekday() >= 5 or day in package:
            day += timedelta(days=1)
        return day

    async with httpx.AsyncClient(base_url=lapor.sla, timeout=10) as client:
        day = date(2026, 1, 1)
        while day <= date(2027, 12, 30):
            answer = await client.get(
                "/api/v1/calendar/working-days", params={"start": str(day), "days": 1}
            )
            assert answer.json()["due"] == next_working_day(day).isoformat(), day
            day += timedelta(days=1)
        for year in (2026, 2027):
            listed = (await client.get("/api/v1/calendar/holidays", params={"year": year})).json()
            assert {date.fromisoformat(h["date"]) for h in listed} == {
                d for d in package if d.year == year
            }
            assert all(set(h) == {"date", "name", "category"} for h in listed)


async def test_working_days_counts_from_the_day_after_start_in_the_region(lapor: Lapor) -> None:
    answer = await lapor.http.get(
        f"{lapor.sla}/api/v1/calendar/working-days",
        params={"start": "2026-03-17", "days": 3, "region": "5371"},
    )
    assert answer.status_code == 200
    assert answer.json() == {
        "start": "2026-03-17",
        "days": 3,
        "due": "2026-03-27",
        "deadline": "2026-03-27T23:59:59.999999+08:00",
        "region": "5371",
    }
    year_end = await lapor.http.get(
        f"{lapor.sla}/api/v1/calendar/working-days", params={"start": "2026-12-23", "days": 10}
    )
    assert year_end.json()["due"] == "2027-01-12"
    lebaran = (
        await lapor.http.get(f"{lapor.sla}/api/v1/calendar/holidays", params={"year": 2026})
    ).json()
    assert {
        "date": "2026-03-20",
        "name": "Cuti Bersama Hari Raya Idul Fitri",
        "category": "government",
    } in lebaran


async def test_the_http_surface_is_documented(lapor: Lapor) -> None:
    paths = (await lapor.http.get(f"{lapor.sla}/openapi.json")).json()["paths"]
    for path in (
        "/api/v1/calendar/working-days",
        "/api/v1/calendar/holidays",
        "/api/v1/deadlines",
        "/api/v1/compliance",
        "/api/v1/reports/{tracking_id}/escalate",
        "/api/v1/reports/{tracking_id}/evidence.json",
        "/api/v1/reports/{tracking_id}/evidence.html",
        "/api/v1/evidence-key",
    ):
        assert path in paths, path


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("working-days", {"start": "2026-02-30", "days": "3"}, "start"),
        ("working-days", {"start": "kemarin", "days": "3"}, "start"),
        ("working-days", {"days": "3"}, "start"),
        ("working-days", {"start": "2026-03-17", "days": "-1"}, "days"),
        ("working-days", {"start": "2026-03-17", "days": "1001"}, "days"),
        ("working-days", {"start": "2026-03-17", "days": "tiga"}, "days"),
        ("working-days", {"start": "2026-03-17", "days": "3", "region": "53.71"}, "region"),
        ("holidays", {"year": "1999"}, "year"),
        ("holidays", {"year": "2101"}, "year"),
        ("holidays", {"year": "MMXXVI"}, "year"),
    ],
)
async def test_bad_calendar_queries_are_422_naming_the_field(
    lapor: Lapor, path: str, params: dict[str, str], field: str
) -> None:
    answer = await lapor.http.get(f"{lapor.sla}/api/v1/calendar/{path}", params=params)
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["detail"]] == [field]


# --- Lebaran 2026: verification, follow-up, resolution, auto-close -------------------------------
async def test_a_report_through_lebaran_is_breached_and_closed_exactly_once_across_restarts(
    lapor: Lapor,
) -> None:
    lapor.set_clock("2026-03-17T09:00:00+07:00")  # Tuesday before Nyepi and Idul Fitri
    tid, _ = await lapor.submit()
    v = await lapor.wait_deadline(tid, "verification", "verification deadline", state="pending")
    assert (v["due"], v["deadline"]) == ("2026-03-27", "2026-03-27T23:59:59.999999+07:00")

    lapor.set_clock("2026-03-26T08:00:00+07:00")
    soon = [d["tracking_id"] for d in await lapor.deadlines(state="due_soon", stage="verification")]
    assert tid in soon

    lapor.set_clock("2026-03-27T23:59:59+07:00")  # the last second of the due day
    await lapor.ticks()
    assert await lapor.events(tid, "SlaBreached") == []

    # The sla service is down when the deadline passes; it catches up when it starts again.
    await lapor.restart_sla(clock="2026-03-28T00:00:01+07:00")
    [breach] = await lapor.wait_events(tid, "SlaBreached", 1)
    assert breach.data == {"stage": "verification", "due": "2026-03-27", "agency_code": None}
    await lapor.wait_deadline(tid, "verification", "breach in view", breach_recorded=True)
    assert tid in [d["tracking_id"] for d in await lapor.deadlines(state="overdue")]

    # Verified late on Monday 30 March, forwarded the same day: first follow-up due 7 April
    # (3 April is Good Friday).
    lapor.set_clock("2026-03-30T10:00:00+07:00")
    assert CAL.add_working_days(date(2026, 3, 30), 5, "3171") == date(2026, 4, 7)
    await forward(lapor, tid, DINKES, "2026-04-07")
    await lapor.wait_deadline(tid, "follow_up", "follow-up deadline", due="2026-04-07")
    res = await lapor.wait_deadline(tid, "resolution", "resolution deadline", due="2026-04-13")
    assert res["limit"] == "14 calendar days"

    lapor.set_clock("2026-04-08T00:00:01+07:00")
    follow_up_breach = await lapor.wait_events(tid, "SlaBreached", 2)
    assert follow_up_breach[1].data == {
        "stage": "follow_up",
        "due": "2026-04-07",
        "agency_code": DINKES,
    }

    # A final follow-up on 9 April resolves it within 14 days; nobody answers for 10 working days.
    lapor.set_clock("2026-04-09T15:00:00+07:00")
    await lapor.run(
        tid, PostFollowUp(agency_code=DINKES, text="Sudah dibuka", kind=FollowUpKind.FINAL)
    )
    close = await lapor.wait_deadline(tid, "auto_close", "auto-close deadline", due="2026-04-23")
    assert close["state"] == "pending"
    lapor.set_clock("2026-04-23T23:59:59+07:00")
    await lapor.ticks()
    assert await lapor.events(tid, "ReportClosed") == []

    await lapor.restart_sla(clock="2026-04-24T00:00:01+07:00")
    [closed] = await lapor.wait_events(tid, "ReportClosed", 1)
    assert closed.data["reason"] == "no_response"
    await lapor.ticks()
    assert len(await lapor.events(tid, "ReportClosed")) == 1
    breaches = [(e.data["stage"]) for e in await lapor.events(tid, "SlaBreached")]
    assert breaches == ["verification", "follow_up"]  # and no resolution breach: met in time
    await lapor.wait_deadline(tid, "resolution", "resolution met", state="met")
    await lapor.wait_deadline(tid, "follow_up", "late follow-up", state="met_late")
    await lapor.wait_deadline(tid, "auto_close", "closed", state="closed")


# --- escalation to the Ombudsman, with evidence ------------------------------------------------
async def test_escalation_after_60_working_days_without_follow_up_with_signed_evidence(
    lapor: Lapor,
) -> None:
    lapor.set_clock("2026-04-27T09:00:00+08:00")  # Monday, Kupang (WITA)
    tid, code = await lapor.submit(region="5371", title="Air PDAM mati")
    await lapor.wait_deadline(tid, "verification", "verification deadline")
    await forward(
        lapor, tid, DINKES, CAL.add_working_days(date(2026, 4, 27), 5, "5371").isoformat()
    )
    esc = await lapor.wait_deadline(tid, "escalation", "escalation deadline")
    assert (esc["due"], esc["deadline"]) == ("2026-07-29", "2026-07-29T23:59:59.999999+08:00")
    url = f"{lapor.sla}/api/v1/reports/{tid}/escalate"

    lapor.set_clock("2026-07-29T23:59:59+08:00")
    early = await lapor.http.post(url, headers={"X-Access-Code": code})
    assert early.status_code == 409, early.text
    assert early.json()["detail"]["eligible_from"] == "2026-07-30T00:00:00+08:00"
    assert (await lapor.http.post(url)).status_code == 401
    assert (await lapor.http.post(url, headers={"X-Access-Code": "ZZZZZZZZ"})).status_code == 403

    lapor.set_clock("2026-07-30T00:00:01+08:00")
    done = await lapor.http.post(url, headers={"X-Access-Code": code})
    assert done.status_code == 201, done.text
    body = done.json()
    assert body["ombudsman_office"] == "OMBUDSMAN-53"
    assert body["province_code"] == "53"
    again = await lapor.http.post(url, headers={"X-Access-Code": code})
    assert again.status_code == 200 and again.json()["evidence_sha256"] == body["evidence_sha256"]
    [escalated] = await lapor.events(tid, "EscalatedToOmbudsman")
    assert escalated.data["ombudsman_office"] == "OMBUDSMAN-53"
    assert escalated.actor.kind == "citizen"

    # The evidence pack: signed with the service's Ed25519 key, the chain is the store's.
    key = (await lapor.http.get(f"{lapor.sla}/api/v1/evidence-key")).json()
    assert key["algorithm"] == "Ed25519"
    evidence = await lapor.http.get(
        f"{lapor.sla}/api/v1/reports/{tid}/evidence.json", headers={"X-Access-Code": code}
    )
    assert evidence.status_code == 200
    document = evidence.json()
    public_key = base64.b64decode(key["public_key"])
    assert verify_document(document, public_key)
    stored = await lapor.events(tid)
    assert [(e["event_id"], e["hash"]) for e in document["trail"]] == [
        (str(e.event_id), e.hash) for e in stored[: len(document["trail"])]
    ]
    assert verify_chain(f"report-{tid}", document["trail"]) == []
    assert (
        document["chain"]["verified"] and document["chain"]["head"] == document["trail"][-1]["hash"]
    )
    covered = document["escalation"]["evidence_covers_versions"]
    # The pack covers every event before the escalation, except a breach the ticker may have
    # recorded in the same instant, between the reporter's request and its append.
    assert covered is not None
    assert covered <= escalated.stream_version - 1
    assert {e.event_type for e in stored[covered : escalated.stream_version - 1]} <= {"SlaBreached"}
    before = document["trail"][:covered]
    assert hashlib.sha256(canonical_json(before).encode()).hexdigest() == body["evidence_sha256"]
    tampered = document | {"report": document["report"] | {"title": "Lain"}}
    assert not verify_document(tampered, public_key)
    assert hashlib.sha256(public_key).hexdigest()[:16] == document["signature"]["key_id"]

    html = await lapor.http.get(
        f"{lapor.sla}/api/v1/reports/{tid}/evidence.html", headers={"X-Access-Code": code}
    )
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assert tid in html.text and "Ombudsman RI Perwakilan Nusa Tenggara Timur" in html.text
    assert "Siti" not in html.text and "6281234567890" not in html.text
    assert (
        await lapor.http.get(f"{lapor.sla}/api/v1/reports/{tid}/evidence.json")
    ).status_code == 401
    ombudsman = await lapor.http.get(
        f"{lapor.sla}/api/v1/reports/{tid}/evidence.json", headers=lapor.token("ombudsman")
    )
    assert ombudsman.status_code == 200
    # Along the way the follow-up and resolution deadlines were breached, once each.
    await lapor.ticks()
    assert sorted(e.data["stage"] for e in await lapor.events(tid, "SlaBreached")) == [
        "follow_up",
        "resolution",
    ]
    await lapor.caught_up()
    for stage in ("follow_up", "resolution"):
        labels = f'{{agency="{DINKES}",stage="{stage}"}}'
        assert await lapor.metric("lapor_sla_breaches_total", labels) >= 1


async def test_escalation_is_refused_after_a_follow_up(lapor: Lapor) -> None:
    lapor.set_clock("2026-08-03T09:00:00+07:00")
    tid, code = await lapor.submit()
    await forward(lapor, tid, DINKES, "2026-08-10")
    await lapor.run(tid, PostFollowUp(agency_code=DINKES, text="Kami tindak lanjuti"))
    lapor.set_clock("2026-12-01T09:00:00+07:00")
    refused = await lapor.http.post(
        f"{lapor.sla}/api/v1/reports/{tid}/escalate", headers={"X-Access-Code": code}
    )
    assert refused.status_code == 409
    assert "follow-up" in refused.json()["detail"]["msg"]
    assert (
        await lapor.http.post(f"{lapor.sla}/api/v1/reports/ABCDEFGH2/escalate")
    ).status_code == 422


# --- the turn of the year: auto-close, a reply, an institution's own policy -------------------
async def test_auto_close_across_the_year_end_once_and_only_without_a_reply(lapor: Lapor) -> None:
    lapor.set_clock("2026-12-14T09:00:00+07:00")
    quiet, _ = await lapor.submit(title="Lampu jalan mati")
    replied, _ = await lapor.submit(title="Sampah menumpuk")
    own_policy, _ = await lapor.submit(title="Halte rusak")
    lapor.set_clock("2026-12-16T09:00:00+07:00")
    for tid, agency in ((quiet, DINKES), (replied, DINKES), (own_policy, DISHUB)):
        await forward(lapor, tid, agency, "2026-12-23")
    lapor.set_clock("2026-12-23T14:00:00+07:00")
    for tid, agency in ((quiet, DINKES), (replied, DINKES), (own_policy, DISHUB)):
        await lapor.run(tid, PostFollowUp(agency_code=agency, text="Sudah diperbaiki"))
    # 24-25 Dec, 1 Jan and 5 Jan are holidays; DISHUB closes after 5 working days by its policy.
    await lapor.wait_deadline(quiet, "auto_close", "auto-close", due="2027-01-12")
    await lapor.wait_deadline(own_policy, "auto_close", "auto-close", due="2027-01-04")
    lapor.set_clock("2027-01-05T08:00:00+07:00")
    await lapor.run(replied, ReplyAsReporter(text="Belum, masih menumpuk"))
    await lapor.wait_events(own_policy, "ReportClosed", 1)

    lapor.set_clock("2027-01-12T23:59:59+07:00")
    await lapor.ticks()
    assert await lapor.events(quiet, "ReportClosed") == []

    await lapor.restart_sla(clock="2027-01-13T00:00:01+07:00")
    [closed] = await lapor.wait_events(quiet, "ReportClosed", 1)
    [follow_up] = await lapor.events(quiet, "FollowUpPosted")
    assert closed.data["reason"] == "no_response"
    assert closed.causation_id == str(follow_up.event_id)
    assert closed.correlation_id == follow_up.correlation_id
    await lapor.restart_sla()
    await lapor.ticks()
    assert len(await lapor.events(quiet, "ReportClosed")) == 1
    assert len(await lapor.events(own_policy, "ReportClosed")) == 1
    assert await lapor.events(replied, "ReportClosed") == []
    await lapor.wait_deadline(replied, "auto_close", "cancelled by the reply", state="cancelled")


# --- who sees which deadlines; compliance --------------------------------------------------------
async def test_deadlines_and_compliance_are_for_officers_and_agencies_see_their_own(
    lapor: Lapor,
) -> None:
    url = f"{lapor.sla}/api/v1/deadlines"
    assert (await lapor.http.get(url)).status_code == 401
    assert (await lapor.http.get(url, headers=lapor.token("client"))).status_code == 403
    own = (await lapor.http.get(url, headers=lapor.token("agency", DISHUB))).json()
    assert own and {d["agency_code"] for d in own} == {DISHUB}
    other = await lapor.http.get(
        url, params={"agency": DINKES}, headers=lapor.token("agency", DISHUB)
    )
    assert other.status_code == 403
    bad = await lapor.http.get(url, params={"state": "late"}, headers=lapor.token("admin"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "state"
    bad_id = await lapor.http.get(
        url, params={"tracking_id": "ABCDEFGH2"}, headers=lapor.token("admin")
    )
    assert bad_id.status_code == 422 and bad_id.json()["detail"][0]["field"] == "tracking_id"

    compliance = (
        await lapor.http.get(f"{lapor.sla}/api/v1/compliance", headers=lapor.token("ombudsman"))
    ).json()
    dinkes = next(a for a in compliance["agencies"] if a["agency_code"] == DINKES)
    follow_up = dinkes["follow_up"]
    assert follow_up["late"] >= 1 and follow_up["within_limit"] >= 1
    assert 0 < follow_up["share_within_limit"] < 1
    assert dinkes["median_working_days_to_first_follow_up"] is not None
    assert compliance["verification_desk"]["late"] >= 1
    dishub = (
        await lapor.http.get(
            f"{lapor.sla}/api/v1/compliance", headers=lapor.token("agency", DISHUB)
        )
    ).json()
    assert [a["agency_code"] for a in dishub["agencies"]] == [DISHUB]
    assert dishub["agencies"][0]["follow_up"]["share_within_limit"] == 1.0
    assert await lapor.metric("lapor_sla_deadlines", '{state="overdue"}') >= 1
