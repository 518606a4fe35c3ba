"""A real browser (Debian's headless Chromium driven by Playwright) submits a report through the
web form, then finds it by its tracking ID on the tracking page.

Without /usr/bin/chromium the test is skipped on a developer's machine but FAILS under CI
(CI=true): CI must install Debian's `chromium` (never `playwright install`)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.intake_web.conftest import jpeg_with_gps, visible
from tests.support import System

CHROMIUM = Path("/usr/bin/chromium")
# Screenshots for a person to look at (LAPOR_SCREENSHOTS=dir), else into the test's tmp dir.
SHOTS = Path(os.environ.get("LAPOR_SCREENSHOTS", "") or "/nonexistent")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # The browser's own words (a native control, a prompt) in Indonesian where its build has
    # them (Debian's chromium-l10n); the pages draw their own file picker either way.
    "--lang=id-ID",
]
# A date field's order and placeholder follow the process's locale, not --lang: as a browser on
# an Indonesian phone shows it (dd/mm/tttt).
BROWSER_ENV = {**os.environ, "LANG": "id_ID.UTF-8", "LANGUAGE": "id"}


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        message = "Debian chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=LAUNCH_ARGS, env=BROWSER_ENV
        )
        try:
            yield browser
        finally:
            browser.close()


def test_submit_through_the_web_form_then_track_it(
    chromium: object, system: System, tmp_path: Path
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(chromium, Browser)
    shots = SHOTS if SHOTS.is_dir() else tmp_path
    photo = tmp_path / "lubang.jpg"
    photo.write_bytes(jpeg_with_gps())
    context = chromium.new_context(viewport={"width": 390, "height": 844}, locale="id-ID")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    base = system.url("intake")

    page.goto(f"{base}/lapor")
    page.get_by_label("Aspirasi").check()
    page.fill("#title", "Trotoar rusak di Jalan El Tari")
    page.fill("#body", "Trotoar di depan kantor gubernur berlubang dan membahayakan pejalan kaki.")
    page.select_option("#category", "infrastruktur")
    # With JavaScript the next picker level fills without reloading the page.
    page.select_option("#province", "53")
    expect(page.locator("#regency option[value='5371']")).to_have_count(1)
    page.select_option("#regency", "5371")
    expect(page.locator("#district option[value='537104']")).to_have_count(1)
    page.select_option("#district", "537104")  # Oebobo (Kemendagri 53.71.04)
    expect(page.locator("#village option[value='5371041001']")).to_have_count(1)
    page.select_option("#village", "5371041001")
    # The map pin: the map (Leaflet, served by LAPOR) opens on request; a tap fills the fields.
    page.click("#open-map")
    expect(page.locator("#pin-map.leaflet-container")).to_be_visible()
    page.locator("#pin-map").click(position={"x": 180, "y": 170})
    expect(page.locator("#lat")).not_to_have_value("")
    expect(page.locator("#pin-map .leaflet-outline-pane path").first).to_be_attached()
    page.fill("#lat", "-10.1652")
    page.fill("#lon", "123.5911")
    page.set_input_files("#attachments", str(photo))
    page.check("#anonymous")
    page.screenshot(path=str(shots / "form.png"), full_page=True)
    page.click("#submit")

    expect(page.locator("#tracking-id")).to_be_visible()
    tracking_id = page.inner_text("#tracking-id").strip()
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{10}", tracking_id)
    assert page.inner_text("#access-code").strip()
    assert "access" not in page.url and page.inner_text("#access-code") not in page.url

    # A new visitor (no cookies) finds it on the tracking page by its tracking ID, once the
    # view has it (views follow the store within moments).
    with httpx.Client(base_url=base, timeout=10) as api:
        visible(api, tracking_id)
    visitor = chromium.new_context()
    track = visitor.new_page()
    track.goto(f"{base}/lacak")
    track.fill("#track-id", tracking_id.lower())
    track.click("#track-form button[type=submit]")
    # Not forwarded yet, so not published: a visitor sees its status and dates, not its words.
    expect(track.locator("#report-title")).to_have_text("Laporan belum diterbitkan")
    expect(track.locator("#unpublished")).to_be_visible()
    assert "Trotoar" not in track.content()
    assert track.url.endswith(f"/laporan/{tracking_id}")
    expect(track.locator("#report-status")).to_have_text("Terkirim")
    expect(track.locator("#timeline li")).to_have_count(1)
    assert "reporter-actions" not in track.content()

    # The English switch.
    track.click("a.lang")
    expect(track.locator("#report-status")).to_have_text("Submitted")
    expect(track.locator("#report-title")).to_have_text("Report not published yet")
    track.screenshot(path=str(shots / "report.png"), full_page=True)
    visitor.close()
    context.close()
    assert errors == []
