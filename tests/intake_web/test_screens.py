"""Screenshots a person looks at (issue 17), taken by Debian's headless Chromium on a real intake:
the form with a validation error, and a Kupang report's page in Bahasa Indonesia and English,
each on a phone and on a desktop. `LAPOR_SCREENSHOTS=docs/screens` keeps them in the repository
(`docs/screens/*.png`); otherwise they go to the test's temporary directory.

The test also checks what the screenshots must show: the error in Indonesian next to the field,
what was typed still there, the times in WITA with Indonesian month names."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from shared.clock import FixedClock
from shared.events.base import Actor
from shared.reports.commands import Command, ForwardReport, PostFollowUp, VerifyReport
from shared.reports.events import FollowUpKind
from shared.runtime.repository import Meta, ReportRepository
from shared.store.sqlite import SqliteEventStore
from tests.intake_web.test_browser import SHOTS, chromium  # noqa: F401 - the fixture
from tests.support import System, wait_for

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

SIZES: dict[str, ViewportSize] = {
    "mobile": {"width": 390, "height": 844},
    "desktop": {"width": 1280, "height": 900},
}


def as_officer(system: System, tracking_id: str, command: Command, kind: str) -> None:
    """What the other services would append (only intake runs here)."""

    async def run() -> None:
        store = SqliteEventStore(system.data_dir / "events.db")
        try:
            repo = ReportRepository(store, FixedClock(datetime.now(UTC)))
            actor = Actor.model_validate({"kind": kind, "id": f"{kind}-screens"})
            await repo.execute(tracking_id, command, Meta(actor=actor, correlation_id="screens"))
        finally:
            await store.close()

    # Playwright's sync API owns this thread's event loop: run the append in a thread of its own.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


def test_screens_of_the_form_with_an_error_and_of_a_kupang_report(
    chromium: object,  # noqa: F811
    system: System,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(chromium, Browser)
    shots = SHOTS if SHOTS.is_dir() else tmp_path
    base = system.url("intake")
    errors: list[str] = []

    # The form with a validation error: what the server refuses, said next to the field.
    for size, viewport in SIZES.items():
        context = chromium.new_context(viewport=viewport, locale="id-ID")
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base}/lapor")
        # The file picker speaks the page's language, not the browser's ("Choose Files").
        expect(page.locator("label.file-button[for=attachments]")).to_have_text("Pilih berkas")
        expect(page.locator("#attachments-chosen")).to_have_text("Belum ada berkas dipilih")
        page.fill("#title", "Jalan berlubang di depan SD Inpres Oebobo")
        page.fill("#body", "Lubang besar di tengah jalan, sudah dua motor jatuh minggu ini.")
        page.select_option("#province", "53")
        page.fill("#lat", "di depan sekolah")
        page.fill("#phone", "nomor saya")
        page.click("#submit")
        expect(page.locator("#form-errors")).to_be_visible()
        expect(page.locator("#lat-error")).to_contain_text("Lintang harus berupa angka")
        expect(page.locator("#phone-error")).to_contain_text("Nomor telepon/HP tidak valid")
        expect(page.locator("#title")).to_have_value("Jalan berlubang di depan SD Inpres Oebobo")
        page.screenshot(path=str(shots / f"form-error-{size}.png"), full_page=True)
        context.close()

    # A Kupang report with a history, seen by its reporter (signed in after sending it).
    context = chromium.new_context(viewport=SIZES["mobile"], locale="id-ID")
    page = context.new_page()
    page.goto(f"{base}/lapor")
    page.fill("#title", "Obat hipertensi kosong di Puskesmas Oepoi")
    page.fill("#body", "Sudah dua minggu obat hipertensi kosong, pasien disuruh membeli sendiri.")
    page.select_option("#province", "53")
    expect(page.locator("#regency option[value='5371']")).to_have_count(1)
    page.select_option("#regency", "5371")
    page.fill("#event_date", "2026-02-27")
    page.click("#submit")
    tracking_id = page.locator("#tracking-id").inner_text().strip()
    as_officer(system, tracking_id, VerifyReport(), "admin")
    forward = ForwardReport(
        agency_code="DINKES-KOTA-KUPANG",
        agency_name="Dinas Kesehatan Kota Kupang",
        follow_up_due=date(2026, 12, 18),
    )
    as_officer(system, tracking_id, forward, "admin")
    question = PostFollowUp(
        agency_code="DINKES-KOTA-KUPANG",
        text="Apakah obat lain juga kosong, atau hanya obat hipertensi?",
        kind=FollowUpKind.QUESTION,
    )
    as_officer(system, tracking_id, question, "agency")
    wait_for(
        lambda: "FollowUpPosted" in httpx.get(f"{base}/api/v1/reports/{tracking_id}/timeline").text,
        what="the question on intake's timeline",
    )
    for size, viewport in SIZES.items():
        page.set_viewport_size(viewport)
        for lang in ("id", "en"):
            page.goto(f"{base}/laporan/{tracking_id}?lang={lang}")
            expect(page.locator("#submitted-at")).to_contain_text("WITA")
            month = "Februari" if lang == "id" else "February"
            expect(page.locator("#event-date")).to_contain_text(f"27 {month} 2026")
            page.screenshot(path=str(shots / f"report-{lang}-{size}.png"), full_page=True)
    context.close()
    assert errors == []
