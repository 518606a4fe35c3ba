"""The LAPOR! process across real processes (nats-server, the relay and the five services), with
the clock moved through `LAPOR_CLOCK_FILE` so weeks pass in seconds. One story per scenario of
issue 16; they share one running system (each its own reports, each further in time than the one
before, so the clock only moves forward) and every wait stretches with the machine's load.

The sla ticker runs every 0.2 s: after the clock moves, a story waits for what the ticker must do
(a breach, a closing), and for "nothing happens" it waits for two ticks that started after the
move (`quiet`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest

from shared.calendar import WorkingDayCalendar, timezone_for_region
from shared.reports.lifecycle import stream_name
from shared.store.port import RecordedEvent
from shared.store.sqlite import SqliteEventStore
from tests.driver import Driver, Submitted, driving, eventually
from tests.support import System, nats_server, start_system

CAL = WorkingDayCalendar.default()
KUPANG = "5371"
WITA = timezone_for_region(KUPANG)
DINKES = "DINKES-KOTA-KUPANG"
DPUPR = "DPUPR-KOTA-KUPANG"
PUSKESMAS = "PUSKESMAS-OEPOI"
CLINIC = {
    "title": "Obat hipertensi kosong",
    "body": "Sudah dua minggu obat hipertensi kosong di Puskesmas Oepoi, Kota Kupang.",
    "category": "kesehatan",
    "location": {"region_code": KUPANG},
}


def working_days(start: date, days: int) -> date:
    return CAL.add_working_days(start, days, KUPANG)


def at(day: date, hour: int = 9, minute: int = 0) -> str:
    """An instant in Kupang (WITA)."""
    return datetime.combine(day, time(hour, minute), WITA).isoformat()


def after(day: date) -> str:
    """The first minute after the end of `day` in Kupang: a deadline due that day has passed."""
    return at(day + timedelta(days=1), 0, 1)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    tmp = tmp_path_factory.mktemp("process")
    data = tmp / "data"
    data.mkdir()
    (data / "clock.txt").write_text(at(date(2027, 1, 4)))
    with nats_server(tmp) as nats:
        started = start_system(data, nats.url, extra_env={"LAPOR_SLA_TICK_SECONDS": "0.2"})
        try:
            yield started
        finally:
            started.stop_all()
            for name in ("sla", "routing", "verification", "intake"):
                if "Traceback" in started.log(name):
                    print(name, started.log(name)[-4000:])


@dataclass
class World:
    """The running system, the driver, and the test's own read-only look at the store."""

    system: System
    drive: Driver
    store: SqliteEventStore

    def clock(self, iso: str) -> None:
        self.system.set_clock(iso)

    async def events(self, tracking_id: str, event_type: str | None = None) -> list[RecordedEvent]:
        stream = await self.store.read(stream_name(tracking_id))
        return [e for e in stream if event_type is None or e.event_type == event_type]

    async def types(self, tracking_id: str) -> list[str]:
        return [e.event_type for e in await self.events(tracking_id)]

    async def wait_event(self, tracking_id: str, event_type: str, count: int = 1) -> RecordedEvent:
        async def check() -> RecordedEvent | None:
            found = await self.events(tracking_id, event_type)
            return found[count - 1] if len(found) >= count else None

        return await eventually(check, timeout=30, what=f"{event_type} of {tracking_id}")

    async def ticks(self) -> float:
        text = (await self.drive.client("sla").get("/metrics")).text
        found = re.search(r"^lapor_sla_ticks_total ([0-9.e+]+)$", text, re.M)
        return float(found.group(1)) if found else 0.0

    async def quiet(self) -> None:
        """Two ticks of the sla ticker that started after this call have finished: whatever
        the clock's instant makes due has been done."""
        start = await self.ticks()

        async def check() -> bool:
            return await self.ticks() >= start + 2

        await eventually(check, timeout=30, what="two ticks of the sla ticker")

    async def submit(self, **fields: Any) -> Submitted:
        return await self.drive.submit(**(CLINIC | fields))

    async def forwarded(self, agency: str = DINKES, **fields: Any) -> Submitted:
        """Submitted, verified by an administrator, forwarded by routing's rules to `agency`."""
        report = await self.submit(**fields)

        async def at_desk() -> bool:
            response = await self.drive.desk(report.tracking_id, "verify")
            return response.status_code == 200

        await eventually(at_desk, what="verified at the desk")
        await self.in_inbox(agency, report.tracking_id)
        return report

    async def in_inbox(self, agency: str, tracking_id: str) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            items = await self.drive.inbox(agency)
            return next((i for i in items if i["tracking_id"] == tracking_id), None)

        return await eventually(check, timeout=30, what=f"{tracking_id} in {agency}'s inbox")

    async def follow_up(self, tracking_id: str, agency: str, text: str, kind: str) -> None:
        answer = await self.drive.follow_up(tracking_id, agency, text, kind)
        assert answer.status_code == 201, answer.text

    async def escalate(self, report: Submitted) -> Any:
        return await self.drive.client("sla").post(
            f"/api/v1/reports/{report.tracking_id}/escalate",
            headers={"X-Access-Code": report.access_code},
        )


@pytest.fixture(scope="module")
async def world(system: System) -> AsyncIterator[World]:
    store = SqliteEventStore(system.data_dir / "events.db")
    try:
        async with driving(system) as drive:
            yield World(system, drive, store)
    finally:
        await store.close()


# --- returned → back in the default queue and re-forwarded -------------------------------------
async def test_a_returned_report_is_back_in_the_default_queue_and_forwarded_again(
    world: World,
) -> None:
    day = date(2027, 1, 4)  # Monday
    world.clock(at(day))
    report = await world.forwarded(DPUPR, title="Jalan berlubang", category="infrastruktur")
    tid = report.tracking_id
    back = await world.drive.agency(
        tid, "return", DPUPR, {"reason": "not_our_authority", "note": "Jalan provinsi"}
    )
    assert back.status_code == 200, back.text

    async def queued() -> dict[str, Any] | None:
        return next((r for r in await world.drive.queue() if r["tracking_id"] == tid), None)

    row = await eventually(queued, what="the returned report in the default queue")
    due = working_days(day, 3)
    assert (row["status"], row["deadline_stage"], row["returned"]["by"]) == (
        "returned",
        "reforward",
        DPUPR,
    )
    assert row["time_left"]["due_date"] == due.isoformat()

    world.clock(after(due))  # nobody forwarded it within 3 working days
    breach = await world.wait_event(tid, "SlaBreached")
    assert breach.data == {"stage": "reforward", "due": due.isoformat(), "agency_code": None}

    async def overdue() -> bool:
        found = await queued()
        return bool(found and found["time_left"]["overdue"] and found["reforward_breached"])

    await eventually(overdue, what="overdue in the queue")
    sent = await world.drive.desk(tid, "forward", {"agency_code": "PEMPROV-NTT"})
    assert sent.status_code == 200, sent.text
    item = await world.in_inbox("PEMPROV-NTT", tid)
    assert item["routed_by"] == "admin"
    assert item["follow_up_due"] == working_days(due + timedelta(days=1), 5).isoformat()
    assert await queued() is None


# --- delegated to a Puskesmas → the Dinkes sees it handed on ------------------------------------
async def test_delegated_to_a_puskesmas_the_dinkes_sees_it_handed_on(world: World) -> None:
    day = date(2027, 2, 1)  # Monday
    world.clock(at(day))
    report = await world.forwarded(DINKES)
    tid = report.tracking_id
    given = await world.drive.agency(
        tid, "delegate", DINKES, {"agency_code": PUSKESMAS, "note": "Mohon dicek stok obat"}
    )
    assert given.status_code == 200, given.text
    due = working_days(day, 5)
    assert given.json()["follow_up_due"] == due.isoformat()
    item = await world.in_inbox(PUSKESMAS, tid)
    assert (item["follow_up_due"], item["delegated_from"]) == (due.isoformat(), DINKES)
    dinkes = world.drive.client("routing", world.drive.token("agency", agency=DINKES))

    async def handed_on() -> dict[str, Any] | None:
        found = (await dinkes.get("/api/v1/handed-on")).json()
        return next((h for h in found if h["tracking_id"] == tid), None)

    handed = await eventually(handed_on, what="handed on in the Dinkes's desk")
    assert (handed["how"], handed["to_agency"], handed["now_agency_code"]) == (
        "delegated",
        PUSKESMAS,
        PUSKESMAS,
    )
    assert tid not in [i["tracking_id"] for i in await world.drive.inbox(DINKES)]
    # The unit answers under the same deadline: missed, the breach names the unit.
    world.clock(after(due))
    breach = await world.wait_event(tid, "SlaBreached")
    assert breach.data == {"stage": "follow_up", "due": due.isoformat(), "agency_code": PUSKESMAS}
    await world.follow_up(tid, PUSKESMAS, "Stok obat sudah dikirim.", "final")

    async def answered() -> bool:
        found = await handed_on()
        return bool(found and found["status"] == "followed_up")

    await eventually(answered, what="the Dinkes sees the unit's answer in its desk")


# --- question → no auto-close --------------------------------------------------------------------
async def test_a_question_alone_never_closes_the_report(world: World) -> None:
    day = date(2027, 3, 1)  # Monday
    world.clock(at(day))
    report = await world.forwarded(DINKES)
    tid = report.tracking_id
    await world.follow_up(tid, DINKES, "Anak Anda umur berapa?", "question")
    due = working_days(day, 5)
    world.clock(after(working_days(day, 12)))  # past the first follow-up and 10 working days
    breach = await world.wait_event(tid, "SlaBreached")
    assert breach.data["stage"] == "follow_up"  # a question answers nothing
    await world.quiet()
    assert "ReportClosed" not in await world.types(tid)
    assert (await world.drive.report(tid)).json()["status"] == "followed_up"
    assert breach.data["due"] == due.isoformat()


# --- interim → the completion clock still runs ---------------------------------------------------
async def test_an_interim_answer_meets_the_first_deadline_and_the_rest_keeps_running(
    world: World,
) -> None:
    day = date(2027, 4, 5)  # Monday
    world.clock(at(day))
    report = await world.forwarded(DINKES)
    tid = report.tracking_id
    await world.follow_up(tid, DINKES, "Akan kami cek minggu ini.", "interim")
    world.clock(after(day + timedelta(days=14)))  # 14 days without a final answer
    breach = await world.wait_event(tid, "SlaBreached")
    assert breach.data == {
        "stage": "resolution",
        "due": (day + timedelta(days=14)).isoformat(),
        "agency_code": DINKES,
    }
    world.clock(after(working_days(day, 12)))
    await world.quiet()
    assert "ReportClosed" not in await world.types(tid)  # an interim answer closes nothing
    assert [e.data["stage"] for e in await world.events(tid, "SlaBreached")] == ["resolution"]
    opens = working_days(day, 60) + timedelta(days=1)
    early = await world.escalate(report)  # the way to the Ombudsman is still open, later
    assert early.status_code == 409 and early.json()["detail"]["opens_on"] == opens.isoformat()


# --- final → closed after 10 quiet working days, restarted by an administrator's reply ----------
async def test_a_final_answer_closes_after_ten_quiet_working_days_an_admin_reply_restarts(
    world: World,
) -> None:
    day = date(2027, 5, 3)  # Monday
    world.clock(at(day))
    report = await world.forwarded(DINKES)
    tid = report.tracking_id
    await world.follow_up(tid, DINKES, "Obat sudah tersedia kembali.", "final")
    replied = working_days(day, 5)
    world.clock(at(replied, 10))
    answer = await world.drive.desk(tid, "reply", {"text": "Mohon pelapor mengonfirmasi."})
    assert answer.status_code == 200 and answer.json()["events"] == ["AdministratorReplied"]
    world.clock(after(working_days(day, 10)))  # ten working days after the final answer
    await world.quiet()
    assert "ReportClosed" not in await world.types(tid)  # the reply restarted the count
    world.clock(after(working_days(replied, 10)))
    closed = await world.wait_event(tid, "ReportClosed")
    assert closed.data["reason"] == "no_response" and closed.actor.kind == "system"


# --- unverified → escalated after 60 working days, listed for the Ombudsman ---------------------
async def test_an_unverified_report_is_escalated_after_60_working_days_and_listed(
    world: World,
) -> None:
    day = date(2027, 6, 1)  # Tuesday
    world.clock(at(day))
    report = await world.submit(title="Puskesmas tidak melayani", confidential=False)
    tid = report.tracking_id
    world.clock(after(working_days(day, 3)))  # the desk never verifies it
    breach = await world.wait_event(tid, "SlaBreached")
    assert breach.data["stage"] == "verification"  # the administrators in scope hear of it
    opens = working_days(day, 60) + timedelta(days=1)
    early = await world.escalate(report)
    assert early.status_code == 409
    assert early.json()["detail"]["opens_on"] == opens.isoformat()
    assert opens.isoformat() in early.json()["detail"]["msg"]
    assert "EscalatedToOmbudsman" not in await world.types(tid)

    world.clock(at(opens))
    done = await world.escalate(report)
    assert done.status_code == 201, done.text
    assert (done.json()["ombudsman_office"], done.json()["province_code"]) == ("OMBUDSMAN-53", "53")
    ombudsman = world.drive.client("sla", world.drive.token("ombudsman", region="53"))

    async def listed() -> dict[str, Any] | None:
        rows = (await ombudsman.get("/api/v1/escalations")).json()
        return rows[0] if rows and rows[0]["tracking_id"] == tid else None

    row = await eventually(listed, what="the escalation in the Ombudsman's list")
    assert row["grounds"] == "no_final_answer"
    assert row["ombudsman_office_name"] == "Ombudsman RI Perwakilan Nusa Tenggara Timur"
    pack = await ombudsman.get(row["evidence"]["json"])
    assert pack.status_code == 200 and pack.json()["escalation"]["ombudsman_office"] == (
        "OMBUDSMAN-53"
    )
    elsewhere = world.drive.client("sla", world.drive.token("ombudsman", region="35"))
    assert tid not in [
        r["tracking_id"] for r in (await elsewhere.get("/api/v1/escalations")).json()
    ]


# --- escalation racing a breach → 201 ------------------------------------------------------------
async def test_escalations_racing_the_tickers_breaches_are_never_bounced(world: World) -> None:
    """The clock jumps to the day escalation opens for reports the desk never verified: the
    ticker appends their verification breaches while their reporters escalate at once."""
    day = date(2027, 9, 1)  # Wednesday
    world.clock(at(day))
    reports = [await world.submit(title=f"Antrean berjam-jam {n}") for n in range(4)]
    for report in reports:
        await eventually(
            lambda r=report: _visible(world, r), what=f"{report.tracking_id} in sla's view"
        )
    world.clock(at(working_days(day, 60) + timedelta(days=1)))
    answers = await asyncio.gather(*(world.escalate(r) for r in reports))
    assert [a.status_code for a in answers] == [201] * len(reports), [a.text for a in answers]
    for report in reports:
        await world.wait_event(report.tracking_id, "SlaBreached")
        assert (await world.types(report.tracking_id)).count("EscalatedToOmbudsman") == 1


async def _visible(world: World, report: Submitted) -> bool:
    deadlines = await world.drive.client("sla", world.drive.token("admin")).get(
        "/api/v1/deadlines", params={"tracking_id": report.tracking_id}
    )
    return bool(deadlines.json())
