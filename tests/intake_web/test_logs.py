"""What a real intake process writes to its log never names a reporter (real processes:
nats-server, relay, intake; the log is the process's own)."""

from __future__ import annotations

import httpx

from tests.intake_web.conftest import publish_in, submit, visible
from tests.support import System, wait_for


def test_an_anonymous_reporter_is_never_shown(api: httpx.Client, system: System) -> None:
    created = submit(
        api,
        title="Guru sering tidak masuk",
        body="Guru kelas 5 jarang hadir, murid dibiarkan belajar sendiri.",
        location={"region_code": "3572", "lat": -8.09, "lon": 112.17},
        anonymous=True,
        reporter={"name": "Siti Aminah", "phone": "+6281234567890", "email": "siti@contoh.id"},
    )
    tid = created["tracking_id"]
    publish_in(system, tid)  # forwarded: published, so every public view shows it
    report = wait_for(
        lambda: (r := visible(api, tid)).get("published") and r, what="published report"
    )
    assert report["anonymous"] is True
    shown = "".join(
        [
            api.get(f"/api/v1/reports/{tid}").text,
            api.get(
                f"/api/v1/reports/{tid}", headers={"X-Access-Code": created["access_code"]}
            ).text,
            api.get(f"/api/v1/reports/{tid}/timeline").text,
            api.get("/api/v1/reports", params={"q": "guru"}).text,
            api.get("/api/v1/map.geojson").text,
            api.get(f"/laporan/{tid}").text,
            api.get("/api/v1/stats").text,
        ]
    )
    for personal in ("Siti", "Aminah", "6281234567890", "siti@contoh.id"):
        assert personal not in shown
        assert personal not in system.log("intake")
    # Even the stored event keeps the contact only encrypted.
    assert b"Siti" not in (system.data_dir / "events.db").read_bytes()
