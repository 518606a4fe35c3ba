"""The map in a real browser without internet (like this machine): Leaflet served by LAPOR, the
tiles fail, Indonesia's outline shipped with LAPOR shows where the reports are, pins are
clustered at national zoom, and the filters change the pins without a page reload.

Screenshots (mobile and desktop) go to LAPOR_SCREENSHOTS (a person looks at them; the ones in
docs/screens/ were taken this way), else to the test's tmp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.intake_web.conftest import visible
from tests.intake_web.test_browser import SHOTS, chromium  # noqa: F401 - the browser fixture
from tests.support import NatsServer, System, start_system, wait_for

PLACES = [
    # (title, category, region, lat, lon)
    ("Jalan berlubang di Jalan El Tari", "infrastruktur", "537104", -10.1652, 123.5911),
    ("Puskesmas kekurangan obat", "kesehatan", "5371", -10.1790, 123.6070),
    ("Lampu jalan mati", "infrastruktur", "537101", -10.1600, 123.5600),
    ("Jembatan desa putus", "infrastruktur", "5303", -9.4600, 124.4800),
    ("Sekolah kekurangan guru", "pendidikan", "5305", -8.2200, 124.5200),
    ("Jalan di depan Pasar Turi", "infrastruktur", "357801", -7.2450, 112.7350),
    ("Drainase tersumbat", "infrastruktur", "3578", -7.2900, 112.7400),
    ("KRL terlambat setiap pagi", "kereta-api", "3171", -6.1766, 106.8306),
    ("Sampah menumpuk di pinggir kali", "lingkungan-hidup", "3174", -6.2600, 106.8100),
    ("Antrean BPJS terlalu panjang", "jaminan-kesehatan", "1271", 3.5952, 98.6722),
    ("Air PDAM keruh", "air-bersih-dan-energi", "7371", -5.1477, 119.4327),
    ("Listrik padam berjam-jam", "listrik", "9171", -2.5337, 140.7181),
]


@pytest.fixture(scope="module")
def mapped(tmp_path_factory: pytest.TempPathFactory, own_nats: NatsServer) -> Iterator[System]:
    """Intake, the desk and routing, with forwarded (public) reports all over Indonesia."""
    system = start_system(
        tmp_path_factory.mktemp("map"),
        own_nats.url,
        services=("intake", "verification", "routing"),
    )
    try:
        admin = {"Authorization": f"Bearer {system.token('admin')}"}
        with (
            httpx.Client(base_url=system.url("intake"), timeout=10) as intake,
            httpx.Client(base_url=system.url("verification"), timeout=10) as desk,
        ):
            for title, category, region, lat, lon in PLACES:
                created = intake.post(
                    "/api/v1/reports",
                    json={
                        "title": title,
                        "body": f"{title}. Mohon segera ditindaklanjuti.",
                        "category": category,
                        "location": {"region_code": region, "lat": lat, "lon": lon},
                    },
                )
                assert created.status_code == 201, created.text
                tracking_id = created.json()["tracking_id"]

                def verified(tid: str = tracking_id) -> bool:
                    return (
                        desk.post(
                            f"/api/v1/reports/{tid}/verify", json={}, headers=admin
                        ).status_code
                        == 200
                    )

                wait_for(verified, what=f"{tracking_id} on the desk")

                def forwarded(tid: str = tracking_id) -> bool:
                    return visible(intake, tid)["status"] == "forwarded"

                wait_for(forwarded, what=f"{tracking_id} forwarded")
        yield system
    finally:
        system.stop_all()


@pytest.mark.parametrize(
    ("size", "width", "height"), [("mobile", 390, 844), ("desktop", 1280, 800)]
)
def test_the_map_works_without_internet(
    chromium: object,  # noqa: F811
    mapped: System,
    tmp_path: Path,
    size: str,
    width: int,
    height: int,
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(chromium, Browser)
    shots = SHOTS if SHOTS.is_dir() else tmp_path
    base = mapped.url("intake")
    context = chromium.new_context(viewport={"width": width, "height": height}, locale="id-ID")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(f"{base}/peta")
    # Leaflet runs, from LAPOR's own files
    expect(page.locator("#report-map.leaflet-container")).to_be_visible()
    scripts = [u for u in requests if u.endswith(".js") or ".js?" in u]
    assert scripts and all(u.startswith(base) for u in scripts), scripts
    # the tiles cannot load here: the outline of Indonesia is drawn instead, and said so
    expect(page.locator("#report-map .leaflet-outline-pane path").first).to_be_attached()
    expect(page.locator("#report-map-offline")).to_be_visible()
    # every public report is on the map, clustered at national zoom
    expect(page.locator("#report-map-count")).to_have_text(str(len(PLACES)))
    expect(page.locator("#report-map .marker-cluster").first).to_be_visible()
    page.screenshot(path=str(shots / f"map-{size}.png"), full_page=True)

    # a filter changes the pins without reloading the page
    page.select_option("#category", "kereta-api")
    expect(page.locator("#report-map-count")).to_have_text("1")
    assert page.url.endswith("/peta?category=kereta-api")
    page.select_option("#category", "")
    expect(page.locator("#report-map-count")).to_have_text(str(len(PLACES)))
    context.close()
    assert errors == []


def test_the_map_filters_work_without_javascript(mapped: System) -> None:
    with httpx.Client(base_url=mapped.url("intake"), timeout=10) as http:
        page = http.get("/peta", params={"agency": "KAI"})
        assert page.status_code == 200
        assert "KRL terlambat setiap pagi" in page.text
        assert "Listrik padam" not in page.text
        policy = page.headers["content-security-policy"]
        assert "img-src 'self' data: https://tile.openstreetmap.org;" in policy
        assert "script-src 'self';" in policy
        leaflet = http.get("/static/vendor/leaflet/leaflet.js", headers={"Accept-Encoding": "gzip"})
        assert leaflet.status_code == 200 and leaflet.headers["content-encoding"] == "gzip"
        assert int(leaflet.headers["content-length"]) < 50_000  # 148 kB as 43 kB on the wire
        home = http.get("/")
        assert "leaflet" not in home.text  # the map script only on map pages
        form = http.get("/lapor")
        assert "vendor/leaflet/leaflet.js" not in form.text.split("<body>")[0]
