"""Guessing budgets that hold under concurrency (issue 18, #7).

An address may try 20 wrong access codes (or unknown tracking IDs) a minute on every service that
takes `X-Access-Code`. Once a budget is spent every try gets 429, so what matters is how many
tries were actually checked: 300 wrong codes sent at once must not get more checks than the
budget (they got 66 on intake and 108 on notify when the try was counted after the await).
sla's tracking-ID lookups cost from the same budget, so sla is no enumeration oracle either.
"""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import httpx

from shared.reports.tracking import new_tracking_id
from tests.driver import driving
from tests.harness import InProcessSystem, in_process

BUDGET = 20
PARALLEL = 300
WRONG = "ZZZZ2222"


def _checked(answers: list[httpx.Response]) -> int:
    """How many tries were looked at (anything but 429), asserting no 5xx and that every
    refusal says when to come back."""
    assert all(a.status_code < 500 for a in answers), [a.text for a in answers][:3]
    refused = [a for a in answers if a.status_code == 429]
    assert all("Retry-After" in a.headers for a in refused)
    return len(answers) - len(refused)


def allowed(seconds: float) -> int:
    """The budget, plus what it refills (BUDGET a minute) while the tries were on their way."""
    return BUDGET + math.ceil(seconds * BUDGET / 60)


async def _at_once(
    lapor: InProcessSystem, service: str, method: str, url: str, **kw: object
) -> tuple[int, int]:
    """(tries checked, tries the budget allowed in the time they took)."""
    started = time.monotonic()
    async with lapor.client(service) as client:
        answers = await asyncio.gather(
            *(client.request(method, url, **kw) for _ in range(PARALLEL))  # type: ignore[arg-type]
        )
    return _checked(list(answers)), allowed(time.monotonic() - started)


async def test_parallel_wrong_codes_get_no_more_checks_than_the_budget(tmp_path: Path) -> None:
    async with in_process(tmp_path / "lapor") as lapor, driving(lapor) as drive:
        report = await drive.submit(confidential=True)
        tid = report.tracking_id
        wrong = {"X-Access-Code": WRONG}
        checked = {
            "intake report": await _at_once(
                lapor, "intake", "GET", f"/api/v1/reports/{tid}", headers=wrong
            ),
            "intake reply": await _at_once(
                lapor,
                "intake",
                "POST",
                f"/api/v1/reports/{tid}/replies",
                json={"text": "x"},
                headers=wrong | {"X-Forwarded-For": "ignored: no proxy is trusted"},
            ),
            "notify": await _at_once(
                lapor,
                "notify",
                "GET",
                "/api/v1/notifications",
                params={"tracking_id": tid},
                headers=wrong,
            ),
            "sla": await _at_once(
                lapor, "sla", "POST", f"/api/v1/reports/{tid}/escalate", headers=wrong
            ),
        }
        assert all(n <= most for n, most in checked.values()), checked
        # The reply burst came from the address intake's reads had spent already.
        assert checked["intake reply"][0] <= checked["intake reply"][1] - BUDGET


async def test_the_reporters_own_reads_cost_nothing(tmp_path: Path) -> None:
    """A try is reserved and given back when the code is right: far more reads than the budget
    (one after another; at most the budget's worth may be on their way at once)."""
    async with in_process(tmp_path / "lapor") as lapor, driving(lapor) as drive:
        report = await drive.submit()
        own = {"X-Access-Code": report.access_code}
        for service, url in (
            ("intake", f"/api/v1/reports/{report.tracking_id}"),
            ("sla", f"/api/v1/reports/{report.tracking_id}/evidence.json"),
            ("notify", f"/api/v1/notifications?tracking_id={report.tracking_id}"),
        ):
            async with lapor.client(service) as client:
                answers = [await client.get(url, headers=own) for _ in range(3 * BUDGET)]
            assert {a.status_code for a in answers} == {200}, service


async def test_tracking_ids_cannot_be_enumerated_through_sla(tmp_path: Path) -> None:
    async with in_process(tmp_path / "lapor", ("intake", "sla")) as lapor, driving(lapor) as drive:
        report = await drive.submit()
        async with lapor.client("sla") as sla:
            started = time.monotonic()
            tries = [
                await sla.get(
                    f"/api/v1/reports/{new_tracking_id()}/evidence.json",
                    headers={"X-Access-Code": WRONG},
                )
                for _ in range(2 * BUDGET)
            ]
            most = allowed(time.monotonic() - started)
            assert [t.status_code for t in tries[:BUDGET]] == [404] * BUDGET
            assert _checked(tries) <= most
            assert {t.status_code for t in tries[BUDGET:]} <= {404, 429}
            assert any(t.status_code == 429 for t in tries[BUDGET:])
            # …and an existing report answers the same from there: nothing is told apart.
            known = await sla.post(
                f"/api/v1/reports/{report.tracking_id}/escalate", headers={"X-Access-Code": WRONG}
            )
            assert known.status_code == 429 or (known.status_code == 403 and most > BUDGET)
