"""#18 finding 11: behind a reverse proxy every citizen must not share one rate-limit bucket,
and outside it no one may pick their own address. One setting, LAPOR_TRUSTED_PROXIES, for every
service: X-Forwarded-For counts only when the peer is a trusted proxy. In process (the test's
client connects as 127.0.0.1), against sla's access-code limit (intake's in test_limits.py)."""

from __future__ import annotations

from pathlib import Path

from tests.harness import in_process

REPORT = {"title": "Jalan rusak", "body": "Jalan rusak parah di depan pasar sejak bulan lalu."}


async def _wrong_codes(tmp_path: Path, trusted: str, addresses: list[str]) -> list[int]:
    env = {"LAPOR_TRUSTED_PROXIES": trusted, "LAPOR_FAILED_ACCESS_CODES_PER_MINUTE": "2"}
    async with in_process(tmp_path, ("intake", "sla"), env=env) as lapor:
        intake, sla = lapor.client("intake"), lapor.client("sla")
        submitted = await intake.post("/api/v1/reports", json=REPORT)
        assert submitted.status_code == 201, submitted.text
        tracking_id = submitted.json()["tracking_id"]
        statuses = []
        for address in addresses:
            answer = await sla.post(
                f"/api/v1/reports/{tracking_id}/escalate",
                headers={"X-Access-Code": "WRONG-CODE", "X-Forwarded-For": address},
            )
            statuses.append(answer.status_code)
        await intake.aclose()
        await sla.aclose()
        return statuses


async def test_behind_a_trusted_proxy_each_citizen_has_their_own_budget(tmp_path: Path) -> None:
    addresses = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.1", "203.0.113.1"]
    statuses = await _wrong_codes(tmp_path, "127.0.0.1", addresses)
    assert statuses == [403, 403, 403, 403, 429]


async def test_a_client_that_is_no_trusted_proxy_cannot_pick_its_address(tmp_path: Path) -> None:
    addresses = ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
    statuses = await _wrong_codes(tmp_path, "192.0.2.254", addresses)
    assert statuses == [403, 403, 429]  # one bucket: its own address
