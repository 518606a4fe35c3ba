"""A report's life through the five services in one event loop (the harness's own check)."""

from __future__ import annotations

from tests.driver import Driver

AGENCY = "DINKES-KOTA-KUPANG"


async def test_a_report_goes_from_the_citizen_to_the_institution_and_back(drive: Driver) -> None:
    report = await drive.submit(category="kesehatan", location={"region_code": "5371"})
    # what the citizen just did is in the desk's queue at once: no waiting
    desk = drive.client("verification", drive.token("admin"))
    queue = (await desk.get("/api/v1/queue")).json()
    assert report.tracking_id in [row["tracking_id"] for row in queue]

    await drive.verify(report.tracking_id)
    # routing forwarded it by its rules, in the same delivery
    assert report.tracking_id in [item["tracking_id"] for item in await drive.inbox(AGENCY)]

    answered = await drive.follow_up(report.tracking_id, AGENCY, "Stok obat dikirim.", "final")
    assert answered.status_code in (200, 201), answered.text
    timeline = await drive.timeline(report.tracking_id)
    assert [e["event_type"] for e in timeline] == [
        "ReportSubmitted",
        "ReportVerified",
        "ForwardedToOPD",
        "FollowUpPosted",
    ]
