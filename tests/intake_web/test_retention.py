"""Security hook (issue 12, retention): with LAPOR_VIEW_RETENTION_DAYS set, a finished report's
text leaves intake's views that many days after its last change; the runtime runs the pass as a
periodic job (`view-retention`), here the test runs it. In process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.intake.bootstrap import RETENTION_JOB
from shared.reports.commands import ForwardReport, PostFollowUp, VerifyReport
from tests.driver import driving
from tests.harness import InProcessSystem, in_process
from tests.intake_web.officers import act

WORD = "Retensixq7"


async def test_finished_reports_text_leaves_the_views_after_the_retention_period(
    tmp_path: Path,
) -> None:
    env = {"LAPOR_VIEW_RETENTION_DAYS": "2"}
    async with (
        in_process(tmp_path / "lapor", ("intake",), env=env) as lapor,
        driving(lapor) as drive,
    ):
        report = await drive.submit(
            title="Lampu jalan padam",
            body=f"Lampu jalan padam sebulan di depan rumah Bapak {WORD}.",
            location={"region_code": "5371", "address": f"Rumah Bapak {WORD}"},
        )
        tid, code = report.tracking_id, report.access_code
        await act(lapor, tid, VerifyReport())
        due = (datetime.now(UTC) + timedelta(days=7)).date()
        forward = ForwardReport(
            agency_code="PEMKOT-KUPANG", agency_name="Pemkot", follow_up_due=due
        )
        await act(lapor, tid, forward)
        await act(
            lapor, tid, PostFollowUp(agency_code="PEMKOT-KUPANG", text=f"Untuk {WORD}."), "agency"
        )
        closed = await drive.reporter(tid, code, "close", {"note": f"Terima kasih {WORD}"})
        assert closed.status_code == 200, closed.text
        intake = drive.client("intake")

        async def shown() -> str:
            public = await drive.report(tid)
            timeline = await drive.timeline(tid, code)
            page = await intake.get(f"/laporan/{tid}")
            found = await intake.get("/api/v1/reports", params={"q": WORD})
            return public.text + str(timeline) + page.text + found.text

        # One day on: still within the period.
        lapor.set_clock(datetime.now(UTC) + timedelta(days=1))
        assert await lapor.run("intake", RETENTION_JOB) == 0
        assert (await shown()).count(WORD) >= 5
        # Three days on: the body, the address and the free text of the history are gone.
        lapor.set_clock(datetime.now(UTC) + timedelta(days=3))
        assert await lapor.run("intake", RETENTION_JOB) == 1
        view = (await drive.report(tid)).json()
        assert view["body"] == "" and view["location"]["address"] is None
        assert view["status"] == "closed"
        assert WORD not in await shown()
        assert "ReportClosed" in str(await drive.timeline(tid, code))
        # The store keeps every event (the audit trail).
        stored = await lapor.store.read(f"report-{tid}")
        assert WORD in stored[0].data["body"]


async def test_without_a_period_there_is_no_retention_job(lapor: InProcessSystem) -> None:
    with pytest.raises(KeyError):
        lapor.services["intake"].periodic(RETENTION_JOB)
