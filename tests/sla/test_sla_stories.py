"""The sla service in process (tests/harness.py): the calendar, deadlines and compliance, the
reporter's escalation with its evidence pack, and the auto-close across the turn of the year.

Each story moves the clock itself (`lapor.set_clock`) and runs the ticker when it means to
(`story.tick()`), so every breach and closing lands exactly where the story puts it. What needs
real processes (a SIGKILLed sla service catching up) is in test_sla_system.py.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import astuple
from datetime import date, timedelta

import holidays
import pytest

from services.sla.ticker import TickResult
from shared.calendar import WorkingDayCalendar
from shared.reports.commands import PostFollowUp, ReplyAsReporter
from shared.reports.events import FollowUpKind
from shared.reports.tracking import new_tracking_id
from shared.signing import verify_document
from shared.store.chain import canonical_json, verify_chain
from tests.driver import Driver
from tests.harness import InProcessSystem
from tests.sla.conftest import InProcessStory

pytestmark = pytest.mark.asyncio

CAL = WorkingDayCalendar.default()
DINKES = "DINKES-KOTA-KUPANG"
DISHUB = "DISHUB-KOTA-KUPANG"


# --- the calendar, public ------------------------------------------------------------------------
async def test_the_calendar_endpoints_agree_with_the_holidays_package_every_day_of_2026_and_2027(
    drive: Driver,
) -> None:
    package = holidays.country_holidays(
        "ID", years=(2026, 2027), categories=("public", "government")
    )

    def next_working_day(day: date) -> date:
        day += timedelta(days=1)
        while day.weekday() >= 5 or day in package:
            day += timedelta(days=1)
        return day

    client = drive.client("sla")
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


async def test_working_days_counts_from_the_day_after_start_in_the_region(drive: Driver) -> None:
    client = drive.client("sla")
    answer = await client.get(
        "/api/v1/calendar/working-days",
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
    year_end = await client.get(
        "/api/v1/calendar/working-days", params={"start": "2026-12-23", "days": 10}
    )
    assert year_end.json() == {  # no region asked, none answered
        "start": "2026-12-23",
        "days": 10,
        "due": "2027-01-12",
        "deadline": "2027-01-12T23:59:59.999999+07:00",
    }
    lebaran = (await client.get("/api/v1/calendar/holidays", params={"year": 2026})).json()
    assert {
        "date": "2026-03-20",
        "name": "Cuti Bersama Hari Raya Idul Fitri",
        "category": "government",
    } in lebaran


async def test_the_http_surface_is_documented(drive: Driver) -> None:
    paths = (await drive.client("sla").get("/openapi.json")).json()["paths"]
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
        # a start the calendar cannot count from: the last day a date can hold (it overflowed
        # into a 500) and a year with no holidays (it answered with a local mean time offset)
        ("working-days", {"start": "9999-12-31", "days": "5"}, "start"),
        ("working-days", {"start": "0001-01-01", "days": "5"}, "start"),
        ("working-days", {"start": "1999-12-31", "days": "5"}, "start"),
        ("working-days", {"start": "2101-01-01", "days": "5"}, "start"),
        ("holidays", {"year": "1999"}, "year"),
        ("holidays", {"year": "2101"}, "year"),
        ("holidays", {"year": "MMXXVI"}, "year"),
    ],
)
async def test_bad_calendar_queries_are_422_naming_the_field(
    drive: Driver, path: str, params: dict[str, str], field: str
) -> None:
    answer = await drive.client("sla").get(f"/api/v1/calendar/{path}", params=params)
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["detail"]] == [field]


# --- escalation to the Ombudsman, with evidence ------------------------------------------------
@pytest.mark.parametrize(
    "breaches_first",
    [True, False],
    ids=["breaches-before-the-escalation", "breaches-after-the-escalation"],
)
async def test_escalation_after_60_working_days_without_follow_up_with_signed_evidence(
    story: InProcessStory, lapor: InProcessSystem, breaches_first: bool
) -> None:
    """The follow-up and resolution deadlines pass long before the escalation is possible. The
    ticker records their breaches before the reporter escalates, or only after: either way the
    escalation's digest covers exactly the events before it, and the pack shows both breaches."""
    lapor.set_clock("2026-04-27T09:00:00+08:00")  # Monday, Kupang (WITA)
    tid, code = astuple(await story.submit(region="5371", title="Air PDAM mati"))
    assert await story.deadline(tid, "verification") is not None
    await story.forward(tid, DINKES, CAL.add_working_days(date(2026, 4, 27), 5, "5371").isoformat())
    esc = await story.deadline(tid, "escalation")
    assert esc is not None
    assert (esc["due"], esc["deadline"]) == ("2026-07-29", "2026-07-29T23:59:59.999999+08:00")
    sla = story.drive.client("sla")
    url = f"/api/v1/reports/{tid}/escalate"
    labels = {
        stage: f'{{agency="{DINKES}",stage="{stage}"}}' for stage in ("follow_up", "resolution")
    }
    counted = {s: await story.metric("lapor_sla_breaches_total", m) for s, m in labels.items()}

    lapor.set_clock("2026-07-29T23:59:59+08:00")
    early = await sla.post(url, headers={"X-Access-Code": code})
    assert early.status_code == 409, early.text
    assert early.json()["detail"]["eligible_from"] == "2026-07-30T00:00:00+08:00"
    assert early.json()["detail"]["opens_on"] == "2026-07-30"
    assert "2026-07-30" in early.json()["detail"]["msg"]
    assert (await sla.post(url)).status_code == 401
    assert (await sla.post(url, headers={"X-Access-Code": "ZZZZZZZZ"})).status_code == 403

    def breached(keys: list[str]) -> list[str]:
        return sorted(key.split(":")[2] for key in keys if key.startswith("sla:breach:"))

    if breaches_first:
        assert breached((await story.tick()).appended) == ["follow_up", "resolution"]
    lapor.set_clock("2026-07-30T00:00:01+08:00")
    done = await sla.post(url, headers={"X-Access-Code": code})
    assert done.status_code == 201, done.text
    body = done.json()
    assert body["ombudsman_office"] == "OMBUDSMAN-53"
    assert body["ombudsman_office_name"] == "Ombudsman RI Perwakilan Nusa Tenggara Timur"
    assert body["province_code"] == "53"
    assert body["escalated_at"] == "2026-07-29T16:00:01+00:00"  # stored in UTC
    assert body["evidence"] == {
        "json": f"/api/v1/reports/{tid}/evidence.json",
        "html": f"/api/v1/reports/{tid}/evidence.html",
    }
    again = await sla.post(url, headers={"X-Access-Code": code})
    assert again.status_code == 200
    repeat = again.json()
    # The same escalation, and the caller is told it was one already (issue 16).
    assert body["already_escalated"] is False and repeat["already_escalated"] is True
    assert repeat.pop("message") == (
        "Laporan ini sudah diteruskan ke Ombudsman RI Perwakilan Nusa Tenggara Timur pada"
        " 30 Juli 2026, 00.00 WITA; permintaan ini tidak membuat eskalasi baru. / This report"
        " was already escalated to Ombudsman RI Perwakilan Nusa Tenggara Timur on 30 July 2026,"
        " 00:00 WITA; this request made no new escalation."
    )
    assert repeat == {k: v for k, v in body.items() if k != "ombudsman_office_name"} | {
        "already_escalated": True
    }
    if not breaches_first:
        assert breached((await story.tick()).appended) == ["follow_up", "resolution"]
    [escalated] = await story.events(tid, "EscalatedToOmbudsman")
    assert escalated.data["ombudsman_office"] == "OMBUDSMAN-53"
    assert escalated.actor.kind == "citizen"
    stored = await story.events(tid)
    lifecycle = ["ReportSubmitted", "ReportVerified", "ForwardedToOPD"]
    breaches = ["SlaBreached", "SlaBreached"]
    escalation = ["EscalatedToOmbudsman"]
    # The ticker first ran long after the answer was due: no stale "due tomorrow" warning
    # (SlaDueSoon), only the breaches.
    decisions = [e.event_type for e in stored]
    assert decisions == (
        lifecycle + breaches + escalation if breaches_first else lifecycle + escalation + breaches
    )
    assert escalated.data["grounds"] == "no_final_answer"

    # The evidence pack: signed with the service's Ed25519 key, the chain is the store's.
    key = (await sla.get("/api/v1/evidence-key")).json()
    assert key["algorithm"] == "Ed25519"
    evidence = await sla.get(
        f"/api/v1/reports/{tid}/evidence.json", headers={"X-Access-Code": code}
    )
    assert evidence.status_code == 200
    assert evidence.headers["content-disposition"] == f'inline; filename="lapor-{tid}.json"'
    document = evidence.json()
    public_key = base64.b64decode(key["public_key"])
    assert verify_document(document, public_key)
    assert [(e["event_id"], e["hash"]) for e in document["trail"]] == [
        (str(e.event_id), e.hash) for e in stored
    ]
    assert verify_chain(f"report-{tid}", document["trail"]) == []
    assert (
        document["chain"]["verified"] and document["chain"]["head"] == document["trail"][-1]["hash"]
    )
    assert document["report"]["sla_breaches"] == ["follow_up", "resolution"]
    assert document["report"]["escalated"] is True
    # The escalation's digest covers every event before it: the breaches when they came first,
    # none of them when they came after.
    assert document["escalation"]["stream_version"] == escalated.stream_version
    covered = document["escalation"]["evidence_covers_versions"]
    assert covered == escalated.stream_version - 1
    before = document["trail"][:covered]
    assert [e["event_type"] for e in before if e["event_type"] != "SlaDueSoon"] == (
        lifecycle + breaches if breaches_first else lifecycle
    )
    assert hashlib.sha256(canonical_json(before).encode()).hexdigest() == body["evidence_sha256"]
    assert document["escalation"]["evidence_sha256"] == body["evidence_sha256"]
    tampered = document | {"report": document["report"] | {"title": "Lain"}}
    assert not verify_document(tampered, public_key)
    assert hashlib.sha256(public_key).hexdigest()[:16] == document["signature"]["key_id"]

    html = await sla.get(f"/api/v1/reports/{tid}/evidence.html", headers={"X-Access-Code": code})
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assert tid in html.text and "Ombudsman RI Perwakilan Nusa Tenggara Timur" in html.text
    assert "Siti" not in html.text and "6281234567890" not in html.text
    assert (await sla.get(f"/api/v1/reports/{tid}/evidence.json")).status_code == 401
    ombudsman = await story.drive.client("sla", story.drive.token("ombudsman")).get(
        f"/api/v1/reports/{tid}/evidence.json"
    )
    assert ombudsman.status_code == 200
    # The follow-up and resolution deadlines were breached, once each, and counted once each.
    assert (await story.tick()).appended == []
    assert sorted(e.data["stage"] for e in await story.events(tid, "SlaBreached")) == [
        "follow_up",
        "resolution",
    ]
    for stage, label in labels.items():
        assert await story.metric("lapor_sla_breaches_total", label) == counted[stage] + 1


async def test_escalation_is_refused_after_a_final_answer_not_after_an_interim_one(
    story: InProcessStory, lapor: InProcessSystem
) -> None:
    lapor.set_clock("2026-08-03T09:00:00+07:00")
    tid, code = astuple(await story.submit())
    checking, checking_code = astuple(await story.submit(title="Jalan berlubang"))
    for report in (tid, checking):
        await story.forward(report, DINKES, "2026-08-10")
    await story.act(checking, PostFollowUp(agency_code=DINKES, text="Akan kami cek"))
    await story.act(
        tid, PostFollowUp(agency_code=DINKES, text="Sudah selesai", kind=FollowUpKind.FINAL)
    )
    lapor.set_clock("2026-12-01T09:00:00+07:00")
    sla = story.drive.client("sla")
    url = f"/api/v1/reports/{tid}/escalate"
    # "Akan kami cek" and nothing after it for 60 working days: the reporter may escalate
    allowed = await sla.post(
        f"/api/v1/reports/{checking}/escalate", headers={"X-Access-Code": checking_code}
    )
    assert allowed.status_code == 201, allowed.text
    refused = await sla.post(url, headers={"X-Access-Code": code})
    assert refused.status_code == 409
    assert refused.json()["detail"] == {
        "msg": "belum dapat diteruskan ke Ombudsman: instansi sudah memberikan jawaban akhir"
        " / not eligible for escalation: the institution has given its final answer",
        "eligible_from": None,
        "opens_on": None,
    }
    assert await story.events(tid, "EscalatedToOmbudsman") == []
    assert (await sla.post("/api/v1/reports/ABCDEFGH2/escalate")).status_code == 422
    unknown = await sla.post(
        f"/api/v1/reports/{new_tracking_id()}/escalate", headers={"X-Access-Code": code}
    )
    assert unknown.status_code == 404 and unknown.json() == {
        "detail": "laporan tidak ditemukan / report not found"
    }


# --- the turn of the year: auto-close, a reply, an institution's own policy -------------------
def closings(result: TickResult) -> list[str]:
    """What a tick closed (interim follow-ups leave the resolution deadlines to be breached)."""
    return [key for key in result.appended if key.startswith("sla:autoclose:")]


async def test_auto_close_across_the_year_end_once_and_only_without_a_reply(
    story: InProcessStory, lapor: InProcessSystem
) -> None:
    lapor.set_clock("2026-12-14T09:00:00+07:00")
    quiet = (await story.submit(title="Lampu jalan mati")).tracking_id
    replied = (await story.submit(title="Sampah menumpuk")).tracking_id
    own_policy = (await story.submit(title="Halte rusak")).tracking_id
    lapor.set_clock("2026-12-16T09:00:00+07:00")
    for tid, agency in ((quiet, DINKES), (replied, DINKES), (own_policy, DISHUB)):
        await story.forward(tid, agency, "2026-12-23")
    lapor.set_clock("2026-12-23T14:00:00+07:00")
    for tid, agency in ((quiet, DINKES), (replied, DINKES), (own_policy, DISHUB)):
        final = PostFollowUp(agency_code=agency, text="Sudah diperbaiki", kind=FollowUpKind.FINAL)
        await story.act(tid, final)
    # 24-25 Dec, 1 Jan and 5 Jan are holidays; DISHUB closes after 5 working days by its policy.
    quiet_close = await story.deadline(quiet, "auto_close")
    own_close = await story.deadline(own_policy, "auto_close")
    assert quiet_close is not None and quiet_close["due"] == "2027-01-12"
    assert own_close is not None and own_close["due"] == "2027-01-04"
    lapor.set_clock("2027-01-05T08:00:00+07:00")
    await story.act(replied, ReplyAsReporter(text="Belum, masih menumpuk"))
    assert closings(await story.tick()) == [f"sla:autoclose:{own_policy}:4"]
    assert len(await story.events(own_policy, "ReportClosed")) == 1

    lapor.set_clock("2027-01-12T23:59:59+07:00")
    assert closings(await story.tick()) == []
    assert await story.events(quiet, "ReportClosed") == []

    lapor.set_clock("2027-01-13T00:00:01+07:00")
    assert closings(await story.tick()) == [f"sla:autoclose:{quiet}:4"]
    [closed] = await story.events(quiet, "ReportClosed")
    [follow_up] = await story.events(quiet, "FollowUpPosted")
    assert closed.data["reason"] == "no_response"
    assert closed.causation_id == str(follow_up.event_id)
    assert closed.correlation_id == follow_up.correlation_id
    assert (await story.tick()).appended == []
    assert len(await story.events(quiet, "ReportClosed")) == 1
    assert len(await story.events(own_policy, "ReportClosed")) == 1
    assert await story.events(replied, "ReportClosed") == []
    # The reply restarted the count: ten working days after 5 January (Isra Mikraj): the 19th.
    restarted = await story.deadline(replied, "auto_close", cycle=2)
    assert restarted is not None and restarted["due"] == "2027-01-19"
    lapor.set_clock("2027-01-20T00:00:01+07:00")
    assert closings(await story.tick()) == [f"sla:autoclose:{replied}:5"]
    [closed_later] = await story.events(replied, "ReportClosed")
    assert closed_later.data["reason"] == "no_response"


# --- who sees which deadlines; compliance --------------------------------------------------------
async def test_deadlines_and_compliance_are_for_officers_and_agencies_see_their_own(
    story: InProcessStory, lapor: InProcessSystem
) -> None:
    # Four reports, all verified late (the desk's deadline passed on Friday 27 March): DINKES
    # answers one late, one in time and one not at all; DISHUB answers its own in time.
    lapor.set_clock("2026-03-17T09:00:00+07:00")
    late, in_time, silent, dishub_own = [
        (await story.submit(title=f"Laporan {n}")).tracking_id for n in range(4)
    ]
    lapor.set_clock("2026-03-30T10:00:00+07:00")
    for tid, agency in ((late, DINKES), (in_time, DINKES), (silent, DINKES), (dishub_own, DISHUB)):
        await story.forward(tid, agency, "2026-04-07")
    lapor.set_clock("2026-04-06T10:00:00+07:00")
    await story.act(in_time, PostFollowUp(agency_code=DINKES, text="Kami cek"))
    await story.act(dishub_own, PostFollowUp(agency_code=DISHUB, text="Kami cek"))
    lapor.set_clock("2026-04-09T10:00:00+07:00")
    await story.act(late, PostFollowUp(agency_code=DINKES, text="Maaf terlambat"))

    sla = story.drive.client("sla")

    def as_(role: str, agency: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {story.drive.token(role, agency=agency)}"}

    url = "/api/v1/deadlines"
    assert (await sla.get(url)).status_code == 401
    assert (await sla.get(url, headers=as_("client"))).status_code == 403
    own = (await sla.get(url, headers=as_("agency", DISHUB))).json()
    assert own and {d["agency_code"] for d in own} == {DISHUB}
    assert {d["tracking_id"] for d in own} == {dishub_own}
    other = await sla.get(url, params={"agency": DINKES}, headers=as_("agency", DISHUB))
    assert other.status_code == 403
    bad = await sla.get(url, params={"state": "late"}, headers=as_("admin"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "state"
    bad_id = await sla.get(url, params={"tracking_id": "ABCDEFGH2"}, headers=as_("admin"))
    assert bad_id.status_code == 422 and bad_id.json()["detail"][0]["field"] == "tracking_id"
    overdue = await story.deadlines(state="overdue")
    assert [(d["tracking_id"], d["stage"]) for d in overdue] == [(silent, "follow_up")]

    compliance = (await sla.get("/api/v1/compliance", headers=as_("ombudsman"))).json()
    dinkes = next(a for a in compliance["agencies"] if a["agency_code"] == DINKES)
    follow_up = dinkes["follow_up"]
    assert (follow_up["within_limit"], follow_up["late"], follow_up["overdue"]) == (1, 1, 1)
    assert follow_up["late"] >= 1 and follow_up["within_limit"] >= 1
    assert 0 < follow_up["share_within_limit"] < 1
    assert dinkes["median_working_days_to_first_follow_up"] is not None
    assert dinkes["first_follow_ups"] == 2
    assert compliance["verification_desk"]["late"] == 4
    dishub = (await sla.get("/api/v1/compliance", headers=as_("agency", DISHUB))).json()
    assert [a["agency_code"] for a in dishub["agencies"]] == [DISHUB]
    assert dishub["agencies"][0]["follow_up"]["share_within_limit"] == 1.0
    assert "verification_desk" not in dishub  # an institution sees only its own
    await story.tick()
    assert await story.metric("lapor_sla_deadlines", '{state="overdue"}') == 1
