"""The sla service as real processes, across a SIGKILL and a restart around the moments it acts.

A report walks through Lebaran 2026; the sla service is down when its deadlines pass and must
catch up when it starts again: breaches and the auto-close happen exactly once, never missed,
never twice. (What needs no processes is in test_sla_stories.py, in process.)
"""

from __future__ import annotations

from datetime import date

import pytest

from shared.calendar import WorkingDayCalendar
from shared.reports.commands import PostFollowUp
from shared.reports.events import FollowUpKind
from tests.sla.conftest import Running

pytestmark = pytest.mark.asyncio

CAL = WorkingDayCalendar.default()
DINKES = "DINKES-KOTA-KUPANG"


# --- Lebaran 2026: verification, follow-up, resolution, auto-close -------------------------------
async def test_a_report_through_lebaran_is_breached_and_closed_exactly_once_across_restarts(
    running: Running,
) -> None:
    running.set_clock("2026-03-17T09:00:00+07:00")  # Tuesday before Nyepi and Idul Fitri
    tid = (await running.submit()).tracking_id
    v = await running.wait_deadline(tid, "verification", "verification deadline", state="pending")
    assert (v["due"], v["deadline"]) == ("2026-03-27", "2026-03-27T23:59:59.999999+07:00")

    running.set_clock("2026-03-26T08:00:00+07:00")
    soon = [
        d["tracking_id"] for d in await running.deadlines(state="due_soon", stage="verification")
    ]
    assert tid in soon

    running.set_clock("2026-03-27T23:59:59+07:00")  # the last second of the due day
    await running.ticks()
    assert await running.events(tid, "SlaBreached") == []

    # The sla service is down when the deadline passes; it catches up when it starts again.
    await running.restart_sla(clock="2026-03-28T00:00:01+07:00")
    [breach] = await running.wait_events(tid, "SlaBreached", 1)
    assert breach.data == {"stage": "verification", "due": "2026-03-27", "agency_code": None}
    await running.wait_deadline(tid, "verification", "breach in view", breach_recorded=True)
    assert tid in [d["tracking_id"] for d in await running.deadlines(state="overdue")]

    # Verified late on Monday 30 March, forwarded the same day: first follow-up due 7 April
    # (3 April is Good Friday).
    running.set_clock("2026-03-30T10:00:00+07:00")
    assert CAL.add_working_days(date(2026, 3, 30), 5, "3171") == date(2026, 4, 7)
    await running.forward(tid, DINKES, "2026-04-07")
    await running.wait_deadline(tid, "follow_up", "follow-up deadline", due="2026-04-07")
    res = await running.wait_deadline(tid, "resolution", "resolution deadline", due="2026-04-13")
    assert res["limit"] == "14 calendar days"

    running.set_clock("2026-04-08T00:00:01+07:00")
    follow_up_breach = await running.wait_events(tid, "SlaBreached", 2)
    assert follow_up_breach[1].data == {
        "stage": "follow_up",
        "due": "2026-04-07",
        "agency_code": DINKES,
    }

    # A final follow-up on 9 April resolves it within 14 days; nobody answers for 10 working days.
    running.set_clock("2026-04-09T15:00:00+07:00")
    await running.act(
        tid, PostFollowUp(agency_code=DINKES, text="Sudah dibuka", kind=FollowUpKind.FINAL)
    )
    close = await running.wait_deadline(tid, "auto_close", "auto-close deadline", due="2026-04-23")
    assert close["state"] == "pending"
    running.set_clock("2026-04-23T23:59:59+07:00")
    await running.ticks()
    assert await running.events(tid, "ReportClosed") == []

    await running.restart_sla(clock="2026-04-24T00:00:01+07:00")
    [closed] = await running.wait_events(tid, "ReportClosed", 1)
    assert closed.data["reason"] == "no_response"
    await running.ticks()
    assert len(await running.events(tid, "ReportClosed")) == 1
    breaches = [(e.data["stage"]) for e in await running.events(tid, "SlaBreached")]
    assert breaches == ["verification", "follow_up"]  # and no resolution breach: met in time
    await running.wait_deadline(tid, "resolution", "resolution met", state="met")
    await running.wait_deadline(tid, "follow_up", "late follow-up", state="met_late")
    await running.wait_deadline(tid, "auto_close", "closed", state="closed")
