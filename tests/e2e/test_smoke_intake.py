from __future__ import annotations

from pathlib import Path

import httpx

from tests.support import NatsServer, start_system, wait_for


def test_a_submitted_report_becomes_visible(tmp_path: Path, fresh_nats: NatsServer) -> None:
    system = start_system(tmp_path / "data", fresh_nats.url, services=("intake",))
    try:
        created = httpx.post(
            f"{system.url('intake')}/api/v1/reports",
            json={
                "title": "Jalan rusak",
                "body": "Jalan di depan puskesmas rusak parah.",
                "location": {"region_code": "5371"},
                "reporter": {"name": "Siti", "phone": "+6281234567890"},
            },
        )
        assert created.status_code == 201, created.text
        tid = created.json()["tracking_id"]
        report = wait_for(
            lambda: (
                (r := httpx.get(f"{system.url('intake')}/api/v1/reports/{tid}")).status_code == 200
                and r.json()
            ),
            what="report visible",
        )
        assert report["status"] == "submitted"
        timeline = httpx.get(f"{system.url('intake')}/api/v1/reports/{tid}/timeline").json()
        assert [e["event_type"] for e in timeline] == ["ReportSubmitted"]
    finally:
        system.stop_all()
        print(system.log("intake")[-3000:], system.log("relay")[-3000:])
