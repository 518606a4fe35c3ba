"""Abuse limits per client address: submissions and wrong access codes get 429 with Retry-After.
In process, with an intake of small limits (and the test client a trusted proxy, so one test can
speak for several addresses)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.harness import in_process

REPORT = {"title": "Jalan rusak", "body": "Jalan rusak parah di depan pasar."}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    env = {
        "LAPOR_INTAKE_SUBMISSIONS_PER_MINUTE": "3",
        "LAPOR_INTAKE_FAILED_ACCESS_CODES_PER_MINUTE": "2",
        "LAPOR_TRUSTED_PROXIES": "127.0.0.1",  # the test client: a proxy speaking for many
    }
    async with (
        in_process(tmp_path / "lapor", ("intake",), env=env) as limited,
        limited.client("intake") as client,
    ):
        yield client


def from_(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def test_too_many_submissions_from_one_address_get_429(api: httpx.AsyncClient) -> None:
    statuses = [
        (await api.post("/api/v1/reports", json=REPORT, headers=from_("192.0.2.1"))).status_code
        for _ in range(3)
    ]
    assert statuses == [201, 201, 201]
    refused = await api.post("/api/v1/reports", json=REPORT, headers=from_("192.0.2.1"))
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert "reports" in refused.json()["detail"]
    # Uploads and the web form draw from the same bucket; another address is not affected.
    upload = await api.post(
        "/api/v1/attachments",
        files={"file": ("a.pdf", b"%PDF-1\n%%EOF")},
        headers=from_("192.0.2.1"),
    )
    assert upload.status_code == 429
    page = await api.get("/lapor")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    form = await api.post(
        "/lapor",
        data={"csrf_token": token.group(1), "title": "Judul laporan", "body": "Isi yang panjang."},
        headers=from_("192.0.2.1"),
    )
    assert form.status_code == 429 and "Retry-After" in form.headers
    other = await api.post("/api/v1/reports", json=REPORT, headers=from_("192.0.2.2"))
    assert other.status_code == 201


async def test_guessing_access_codes_gets_429(api: httpx.AsyncClient) -> None:
    created = (await api.post("/api/v1/reports", json=REPORT, headers=from_("198.51.100.1"))).json()
    tid, code = created["tracking_id"], created["access_code"]
    url = f"/api/v1/reports/{tid}/amendments"
    guesses = [
        await api.post(
            url, json={"text": "x"}, headers={"X-Access-Code": f"WRONG{n}", **from_("198.51.100.9")}
        )
        for n in range(2)
    ]
    assert [g.status_code for g in guesses] == [403, 403]
    blocked = await api.post(
        url, json={"text": "x"}, headers={"X-Access-Code": code, **from_("198.51.100.9")}
    )
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    # Reading with a wrong code counts too; the rightful reporter elsewhere is not locked out.
    read = await api.get(
        f"/api/v1/reports/{tid}", headers={"X-Access-Code": "NOPE", **from_("198.51.100.9")}
    )
    assert read.status_code == 429
    mine = await api.post(
        url, json={"text": "Tambahan."}, headers={"X-Access-Code": code, **from_("198.51.100.1")}
    )
    assert mine.status_code == 201
