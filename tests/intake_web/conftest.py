"""Fixtures for intake's web and API tests: one real system (nats-server, relay, intake) shared
by the package's modules (tests never assume an empty system: they use their own markers and
compare counts before and after), plus helpers that wait for the views to catch up."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import NatsServer, System, nats_server, start_system, wait_for


@pytest.fixture(scope="package")
def module_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A nats-server of this package's own (its systems outlive a test's fresh_nats)."""
    with nats_server(tmp_path_factory.mktemp("nats")) as server:
        yield server


def _system(
    tmp_path_factory: pytest.TempPathFactory, nats: NatsServer, env: dict[str, str] | None = None
) -> Iterator[System]:
    system = start_system(
        tmp_path_factory.mktemp("data"), nats.url, services=("intake",), extra_env=env
    )
    try:
        yield system
    finally:
        system.stop_all()
        log = system.log("intake")
        if "Traceback" in log or os.environ.get("LAPOR_TEST_LOGS"):
            print(log[-5000:])
            if os.environ.get("LAPOR_TEST_LOGS"):
                print("RELAY", system.log("relay")[-3000:])


@pytest.fixture(scope="package")
def system(tmp_path_factory: pytest.TempPathFactory, module_nats: NatsServer) -> Iterator[System]:
    yield from _system(tmp_path_factory, module_nats)


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


def visible(api: httpx.Client, tracking_id: str, code: str | None = None) -> dict[str, Any]:
    """Wait until the report is in intake's view."""
    headers = {"X-Access-Code": code} if code else {}

    def seen() -> dict[str, Any] | None:
        response = api.get(f"/api/v1/reports/{tracking_id}", headers=headers)
        return response.json() if response.status_code == 200 else None

    found: dict[str, Any] = wait_for(seen, what=f"report {tracking_id} in the view")
    return found


def jpeg_with_gps() -> bytes:
    from PIL import Image

    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "Kamera Contoh"  # Make
    exif[0x8825] = {1: "S", 2: (10.0, 10.0, 0.0), 3: "E", 4: (123.0, 35.0, 0.0)}  # GPS IFD
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def data_dir(system: System) -> Path:
    return system.data_dir
