"""Fixtures for intake's web and API tests.

In process (most tests): `lapor` here is intake alone on a real SQLite store (tests/harness.py);
the other services' decisions are appended to the store by `officers.act`. `drive` (the driver of
tests/driver.py) and `web` (an HTTP client with its own cookie jar, like a new visitor) speak to
it. Real processes (nats-server, relay, intake) only where the process matters: the Chromium
browser, and what the process writes to its log."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import InProcessSystem, in_process
from tests.support import (
    NatsServer,
    System,
    load_factor,
    nats_server,
    start_system,
    wait_for,
)


@pytest.fixture(autouse=True)
def browser_waits_scale_with_load() -> None:
    """Playwright's `expect` waits 5 s by default: on two shared cores a page can take longer to
    draw. Its waits stretch with the machine's load, as every other wait in the tests does."""
    try:
        from playwright.sync_api import expect
    except ImportError:  # pragma: no cover - the browser tests say what is missing
        return
    expect.set_options(timeout=15_000 * load_factor())


# --- in process ----------------------------------------------------------------------------------
@pytest.fixture
async def lapor(tmp_path: Path) -> AsyncIterator[InProcessSystem]:
    """Intake alone, in this event loop (the other services' steps: `officers.act`)."""
    async with in_process(tmp_path / "lapor", ("intake",)) as system:
        yield system


@pytest.fixture
async def web(lapor: InProcessSystem) -> AsyncIterator[httpx.AsyncClient]:
    """A client of intake with a fresh cookie jar per test, like a new visitor."""
    async with lapor.client("intake") as client:
        yield client


async def seen(
    client: httpx.AsyncClient, tracking_id: str, code: str | None = None
) -> dict[str, Any]:
    """The report as intake's API shows it (in process it is there as soon as it was written)."""
    headers = {"X-Access-Code": code} if code else {}
    response = await client.get(f"/api/v1/reports/{tracking_id}", headers=headers)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


# --- real processes ------------------------------------------------------------------------------
@pytest.fixture(scope="package")
def module_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A nats-server of this package's own (its systems outlive a test's fresh_nats)."""
    with nats_server(tmp_path_factory.mktemp("nats")) as server:
        yield server


@pytest.fixture(scope="module")
def own_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A nats-server for a module's own whole system: two systems on one server share the one
    event stream, and a relay rightly refuses a stream tail its store did not write (its
    services then learn of events only by their catch-up poll)."""
    with nats_server(tmp_path_factory.mktemp("own-nats")) as server:
        yield server


@pytest.fixture(scope="package")
def system(tmp_path_factory: pytest.TempPathFactory, module_nats: NatsServer) -> Iterator[System]:
    system = start_system(tmp_path_factory.mktemp("data"), module_nats.url, services=("intake",))
    try:
        yield system
    finally:
        system.stop_all()
        log = system.log("intake")
        if "Traceback" in log or os.environ.get("LAPOR_TEST_LOGS"):
            print(log[-5000:])
            if os.environ.get("LAPOR_TEST_LOGS"):
                print("RELAY", system.log("relay")[-3000:])


@pytest.fixture(scope="module")
def api(system: System) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.url("intake"), timeout=10) as client:
        yield client


def submit(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Jalan rusak di depan sekolah",
        "body": "Jalan berlubang besar di depan SD Negeri 3, membahayakan anak-anak.",
        "location": {"region_code": "5371"},
    }
    body.update(fields)
    response = api.post("/api/v1/reports", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def publish_in(system: System, tracking_id: str) -> None:
    """Verify and forward a report of a running system (appended to its store, as the desk and
    routing would): published from then on."""
    import asyncio
    from datetime import date

    from shared.clock import clock_from
    from shared.events.base import Actor
    from shared.reports.commands import ForwardReport, VerifyReport
    from shared.runtime.repository import Meta, ReportRepository
    from shared.store.sqlite import SqliteEventStore

    async def go() -> None:
        store = SqliteEventStore(system.data_dir / "events.db")
        try:
            repo = ReportRepository(store, clock_from(system.data_dir / "clock.txt"))
            meta = Meta(actor=Actor(kind="admin", id="admin-test"), correlation_id="test")
            await repo.execute(tracking_id, VerifyReport(), meta)
            forward = ForwardReport(
                agency_code="DINKES-KOTA-KUPANG",
                agency_name="Dinas Kesehatan Kota Kupang",
                follow_up_due=date(2099, 1, 5),
            )
            await repo.execute(tracking_id, forward, meta)
        finally:
            await store.close()

    asyncio.run(go())


def visible(api: httpx.Client, tracking_id: str, code: str | None = None) -> dict[str, Any]:
    """Wait until the report is in intake's view (over real processes a read may lag)."""
    headers = {"X-Access-Code": code} if code else {}

    def found() -> dict[str, Any] | None:
        response = api.get(f"/api/v1/reports/{tracking_id}", headers=headers)
        return response.json() if response.status_code == 200 else None

    report: dict[str, Any] = wait_for(found, what=f"report {tracking_id} in the view")
    return report


def jpeg_with_gps() -> bytes:
    from PIL import Image

    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "Kamera Contoh"  # Make
    exif[0x8825] = {1: "S", 2: (10.0, 10.0, 0.0), 3: "E", 4: (123.0, 35.0, 0.0)}  # GPS IFD
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def pdf_document(page_text: str = "Surat dari RT 05", author: str | None = None) -> bytes:
    """A one-page PDF as an office's software writes it: `author` in its Info dictionary and
    its XMP metadata, and an earlier revision (an incremental update) that named them too."""
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.pages[0].Contents = pdf.make_stream(f"BT /F1 12 Tf 72 720 Td ({page_text}) Tj ET".encode())
    if author:
        pdf.docinfo["/Author"] = author
        pdf.docinfo["/Creator"] = f"Kantor {author}"
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["dc:creator"] = [author]
    first = io.BytesIO()
    pdf.save(first, deterministic_id=True, compress_streams=False)
    if not author:
        return first.getvalue()
    # A second revision appended to the first, as a signed or edited PDF is: the first one's
    # metadata stays in the file's bytes unless the file is rewritten whole.
    with pikepdf.open(io.BytesIO(first.getvalue())) as edited:
        edited.docinfo["/Title"] = f"Laporan {author}"
        second = io.BytesIO()
        edited.save(second, deterministic_id=True, compress_streams=False)
    return first.getvalue() + second.getvalue()[len("%PDF-1.3") :]
