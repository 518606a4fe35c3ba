"""A reopened report's new follow-up due date, as the institution's desk shows it, is counted in
the report's region with the calendar the process was configured with (regional holidays, the
region's time zone), as the sla service counts it. Found: routing's view counted it with the
shipped national calendar, so a regional holiday was a working day at the desk only."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.driver import Driver, driving
from tests.harness import InProcessSystem, in_process

DINKES = "DINKES-KOTA-KUPANG"
# A regional holiday in Nusa Tenggara Timur (province 53) only: Monday 9 March 2026.
NTT_HOLIDAY = {"date": "2026-03-09", "name": "Hari libur daerah NTT (uji)", "region_prefix": "53"}


@pytest.fixture
async def lapor(tmp_path: Path) -> AsyncIterator[InProcessSystem]:
    calendar = tmp_path / "calendar.json"
    calendar.write_text(json.dumps({"years": {"2026": {"regional": [NTT_HOLIDAY]}}}))
    env = {"LAPOR_SLA_CALENDAR_FILE": str(calendar)}
    async with in_process(tmp_path / "lapor", env=env) as system:
        yield system


@pytest.fixture
async def drive(lapor: InProcessSystem) -> AsyncIterator[Driver]:
    async with driving(lapor) as driver:
        yield driver


async def test_the_reopened_reports_due_date_skips_the_regions_holiday_in_its_time_zone(
    drive: Driver, lapor: InProcessSystem
) -> None:
    lapor.set_clock("2026-03-02T09:00:00+08:00")  # Monday, Kupang (WITA)
    report = await drive.submit(
        title="Puskesmas tutup siang hari",
        body="Puskesmas Sikumana tutup pukul 12, warga yang datang disuruh pulang.",
        category="kesehatan",
        location={"region_code": "5371"},
    )
    tid, code = report.tracking_id, report.access_code
    await drive.verify(tid)
    answered = await drive.follow_up(tid, DINKES, "Jam layanan diperpanjang.", kind="final")
    assert answered.status_code == 201, answered.text
    closed = await drive.reporter(tid, code, "close", {})
    assert closed.status_code == 200, closed.text
    # Friday 00:30 in Kupang is still Thursday in Jakarta: the day is the region's.
    lapor.set_clock("2026-03-06T00:30:00+08:00")
    rated = await drive.reporter(tid, code, "rating", {"rating": 1})
    assert rated.json()["events"] == ["ReportRated", "ReportReopened"]

    # 5 working days from Friday 6 March in NTT: Tue 10, Wed 11, Thu 12, Fri 13, Mon 16
    # (Monday 9 is the region's holiday).
    [item] = [i for i in await drive.inbox(DINKES) if i["tracking_id"] == tid]
    assert (item["routed_by"], item["follow_up_due"]) == ("reopen", "2026-03-16")
    assert item["time_left"]["due"] == "2026-03-16"
    sla = drive.client("sla", drive.admin())
    rows = (
        await sla.get("/api/v1/deadlines", params={"tracking_id": tid, "stage": "follow_up"})
    ).json()
    assert [d["due"] for d in rows] == [rows[0]["due"], "2026-03-16"]  # the desk and sla agree
