"""`lapor demo`: one report through its whole life against the running system, over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from shared.auth import Role, create_token
from shared.settings import Settings


def _wait(what: str, condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.2)
    raise SystemExit(f"demo: timed out waiting for {what}")


def run_demo(settings: Settings) -> int:
    intake, verification, routing = (
        settings.url_of("intake"),
        settings.url_of("verification"),
        settings.url_of("routing"),
    )
    admin = create_token(settings.master_secret, Role.ADMIN, subject="demo-admin")
    with httpx.Client(timeout=10) as http:
        try:
            http.get(f"{intake}/healthz").raise_for_status()
        except httpx.HTTPError:
            print(f"demo: intake is not answering at {intake}; start the system with `lapor up`")
            return 2
        created = http.post(
            f"{intake}/api/v1/reports",
            json={
                "classification": "complaint",
                "title": "Obat kosong di Puskesmas Oebobo",
                "body": "Sudah dua minggu obat hipertensi kosong di Puskesmas Oebobo, Kota Kupang.",
                "category": "kesehatan",
                "location": {"region_code": "5371", "address": "Oebobo, Kota Kupang"},
                "reporter": {"name": "Warga Demo", "email": "warga@example.org"},
            },
        )
        created.raise_for_status()
        tid, code = created.json()["tracking_id"], created.json()["access_code"]
        print(f"1. citizen submitted report {tid} (access code {code})")
        report_url = f"{intake}/api/v1/reports/{tid}"
        _wait("the report to appear", lambda: http.get(report_url).status_code == 200)

        auth = {"Authorization": f"Bearer {admin}"}
        http.post(
            f"{verification}/api/v1/reports/{tid}/verify", json={}, headers=auth
        ).raise_for_status()
        print("2. administrator verified it")
        forwarded = _wait(
            "routing to forward it",
            lambda: (r := http.get(report_url).json()).get("agency_code") and r,
        )
        agency = forwarded["agency_code"]
        print(
            f"3. routing forwarded it to {agency} ({forwarded.get('agency_name')}),"
            f" first follow-up due {forwarded.get('follow_up_due')}"
        )

        officer = create_token(
            settings.master_secret, Role.AGENCY, agency=agency, subject="demo-officer"
        )
        http.post(
            f"{routing}/api/v1/reports/{tid}/follow-ups",
            json={
                "text": "Stok obat sudah dikirim dari gudang farmasi kota hari ini.",
                "kind": "final",
            },
            headers={"Authorization": f"Bearer {officer}"},
        ).raise_for_status()
        print(f"4. {agency} posted a follow-up")
        _wait("the follow-up", lambda: http.get(report_url).json()["status"] == "followed_up")

        reporter = {"X-Access-Code": code}
        http.post(
            f"{report_url}/replies",
            json={"text": "Terima kasih, obat sudah tersedia."},
            headers=reporter,
        ).raise_for_status()
        http.post(
            f"{report_url}/close", json={"note": "Selesai"}, headers=reporter
        ).raise_for_status()
        print("5. the reporter answered and closed the report")
        _wait("closure", lambda: http.get(report_url).json()["status"] == "closed")
        http.post(
            f"{report_url}/rating", json={"rating": 5, "comment": "Cepat"}, headers=reporter
        ).raise_for_status()
        print("6. and rated the handling 5/5")

        def rated() -> Any:
            timeline = http.get(f"{report_url}/timeline").json()
            return timeline if timeline[-1]["event_type"] == "ReportRated" else None

        timeline = _wait("the rating in the timeline", rated)
        print(f"\nTimeline of {tid}:")
        for entry in timeline:
            print(f"  {entry['occurred_at']}  {entry['event_type']:<28} by {entry['actor']}")
        print(f"\nAudit it: lapor audit verify {tid}")
    return 0
