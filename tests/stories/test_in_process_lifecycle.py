"""A report's life through the five services in one event loop (the harness's own check)."""

from __future__ import annotations

from pathlib import Path

from tests.harness import in_process


async def test_a_report_goes_from_the_citizen_to_the_institution_and_back(tmp_path: Path) -> None:
    async with in_process(tmp_path) as lapor:
        admin = lapor.token("admin")
        officer = lapor.token("agency", agency="DINKES-KOTA-KUPANG")
        async with (
            lapor.client("intake") as intake,
            lapor.client("verification", admin) as desk,
            lapor.client("routing", officer) as inbox,
        ):
            created = await intake.post(
                "/api/v1/reports",
                json={
                    "title": "Obat kosong di puskesmas",
                    "body": "Obat hipertensi kosong dua minggu di Puskesmas Oebobo.",
                    "category": "kesehatan",
                    "location": {"region_code": "5371"},
                },
            )
            assert created.status_code == 201, created.text
            tracking_id = created.json()["tracking_id"]
            # what the citizen just did is in the desk's queue at once: no waiting
            queue = (await desk.get("/api/v1/queue")).json()
            assert tracking_id in [row["tracking_id"] for row in queue]

            verified = await desk.post(f"/api/v1/reports/{tracking_id}/verify", json={})
            assert verified.status_code == 200, verified.text
            # routing forwarded it by its rules, within the same settle
            items = (await inbox.get("/api/v1/inbox")).json()
            assert tracking_id in [item["tracking_id"] for item in items]

            answered = await inbox.post(
                f"/api/v1/reports/{tracking_id}/follow-ups",
                json={"text": "Stok obat sudah dikirim.", "kind": "final"},
            )
            assert answered.status_code in (200, 201), answered.text
            timeline = (await intake.get(f"/api/v1/reports/{tracking_id}/timeline")).json()
            assert [e["event_type"] for e in timeline] == [
                "ReportSubmitted",
                "ReportVerified",
                "ForwardedToOPD",
                "FollowUpPosted",
            ]
