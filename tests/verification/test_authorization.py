"""Who may use the desk: every endpoint refuses a missing or bad token (401), the wrong role (403)
and a regional admin outside their region (403) — and refusing changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.auth import Role, create_token
from tests.driver import Driver, driving
from tests.harness import InProcessSystem, in_process
from tests.verification.conftest import SERVICES, days_from_now, fresh_region, queue_ids, stored

REGION = "3578"  # Kota Surabaya
INSIDE = f"{REGION}01"
OUTSIDE = "5371"  # Kota Kupang


@pytest.fixture(scope="module")
async def lapor(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InProcessSystem]:
    """One system for the module: the matrix below is 90 requests that must change nothing."""
    async with in_process(tmp_path_factory.mktemp("authorization"), SERVICES) as system:
        yield system


@pytest.fixture(scope="module")
async def drive(lapor: InProcessSystem) -> AsyncIterator[Driver]:
    async with driving(lapor) as driver:
        yield driver


@pytest.fixture(scope="module")
async def report(drive: Driver) -> str:
    """A report in Surabaya that no refused request may change."""
    tid = (await drive.submit(location={"region_code": INSIDE})).tracking_id
    await drive.desk_report(tid)
    return tid


@pytest.fixture(scope="module")
async def original(drive: Driver) -> str:
    tid = (await drive.submit(location={"region_code": INSIDE})).tracking_id
    await drive.desk_report(tid)
    return tid


def endpoints(tid: str, original: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", "/api/v1/queue", None),
        ("GET", f"/api/v1/reports/{tid}", None),
        ("GET", f"/api/v1/reports/{tid}/duplicates", None),
        ("POST", f"/api/v1/reports/{tid}/verify", {}),
        ("POST", f"/api/v1/reports/{tid}/request-completion", {"note": "foto?"}),
        (
            "POST",
            f"/api/v1/reports/{tid}/reject",
            {"reason": "duplicate", "duplicate_of": original},
        ),
        ("POST", f"/api/v1/reports/{tid}/postpone", {"until": days_from_now(5)}),
        ("POST", f"/api/v1/reports/{tid}/not-our-authority", {"to_region": "3171"}),
        ("POST", f"/api/v1/reports/{tid}/protection", {"anonymous": True}),
        ("POST", "/api/v1/bulk-verify", {"tracking_ids": [tid]}),
    ]


ENDPOINT_NAMES = [
    "queue",
    "report",
    "duplicates",
    "verify",
    "request-completion",
    "reject",
    "postpone",
    "not-our-authority",
    "protection",
    "bulk-verify",
]

SECRET = b"test-secret-for-lapor"  # tests.harness.SECRET
Credentials = Callable[[], dict[str, str]]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


CALLERS: dict[str, tuple[Credentials, int]] = {
    "no token": (dict, 401),
    "not a bearer": (lambda: {"Authorization": "Basic YWRtaW46YWRtaW4="}, 401),
    "garbage": (lambda: bearer("not.a.token"), 401),
    "forged (other secret)": (lambda: bearer(create_token(b"someone-else", Role.ADMIN)), 401),
    "expired": (
        lambda: bearer(
            create_token(
                SECRET,
                Role.ADMIN,
                now=datetime.now(UTC) - timedelta(days=2),
                ttl=timedelta(days=1),
            )
        ),
        401,
    ),
    "agency": (lambda: bearer(create_token(SECRET, Role.AGENCY, agency="DINKES-KOTA-SBY")), 403),
    "client": (lambda: bearer(create_token(SECRET, Role.CLIENT)), 403),
    "ombudsman": (lambda: bearer(create_token(SECRET, Role.OMBUDSMAN)), 403),
    "admin of another region": (
        lambda: bearer(create_token(SECRET, Role.ADMIN, region=OUTSIDE)),
        403,
    ),
}


@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize("endpoint", range(len(ENDPOINT_NAMES)), ids=ENDPOINT_NAMES)
async def test_every_endpoint_refuses(
    lapor: InProcessSystem,
    drive: Driver,
    report: str,
    original: str,
    caller: str,
    endpoint: int,
) -> None:
    assert lapor.secret.encode() == SECRET
    method, path, body = endpoints(report, original)[endpoint]
    headers, expected = CALLERS[caller]
    desk = drive.client("verification")
    if caller == "admin of another region" and path == "/api/v1/queue":
        # The queue is filtered to their region rather than refused; asking for another is not.
        answer = await desk.get(path, params={"region": REGION}, headers=headers())
    else:
        answer = await desk.request(method, path, json=body, headers=headers())
    assert answer.status_code == expected, answer.text
    assert isinstance(answer.json()["detail"], str) and answer.json()["detail"]
    if expected == 401:
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


async def test_refusals_changed_nothing(lapor: InProcessSystem, report: str) -> None:
    # Runs after the matrix in this module (pytest keeps file order).
    assert await stored(lapor, report) == ["ReportSubmitted"]


async def test_a_regional_admin_sees_and_acts_in_their_region_only(
    lapor: InProcessSystem, drive: Driver
) -> None:
    province = "74"  # Sulawesi Tenggara
    mine = fresh_region(province)
    theirs = fresh_region("75")
    words = {"title": "Pasar Wuawua becek", "body": "Los ikan pasar Wuawua becek dan bau."}
    here = (await drive.submit(location={"region_code": mine}, **words)).tracking_id
    there = (await drive.submit(location={"region_code": theirs})).tracking_id
    await drive.desk_report(here)
    await drive.desk_report(there)
    regional = drive.token("admin", region=province)
    queue = await queue_ids(drive, regional)
    assert here in queue and there not in queue
    assert await queue_ids(drive, regional, region=mine) == [here]
    desk = drive.client("verification", regional)
    denied = await desk.get("/api/v1/queue", params={"region": theirs})
    assert denied.status_code == 403 and "region" in denied.json()["detail"]
    assert (await desk.get(f"/api/v1/reports/{there}")).status_code == 403
    # Not into another region either, and a bulk verify is refused as a whole.
    into = await drive.desk(here, "verify", {"region_code": theirs}, regional)
    assert into.status_code == 403 and "region_code" in into.json()["detail"]
    bulk = await desk.post("/api/v1/bulk-verify", json={"tracking_ids": [here, there]})
    assert bulk.status_code == 403 and there in bulk.json()["detail"]
    assert await stored(lapor, here) == ["ReportSubmitted"]
    assert (await drive.desk(here, "verify", token=regional)).status_code == 200
    # A suggestion from another region is not shown to them.
    twin = (await drive.submit(location={"region_code": theirs}, **words)).tracking_id
    await drive.desk_report(twin)
    suggestions = await desk.get(f"/api/v1/reports/{here}/duplicates")
    assert suggestions.status_code == 200
    assert twin not in [s["tracking_id"] for s in suggestions.json()]
    national = await drive.client("verification", drive.admin()).get(
        f"/api/v1/reports/{here}/duplicates"
    )
    assert twin in [s["tracking_id"] for s in national.json()]


async def test_the_openapi_document_lists_the_desk(drive: Driver) -> None:
    spec = (await drive.client("verification").get("/openapi.json")).json()
    for path in ("/api/v1/queue", "/api/v1/reports/{tracking_id}/verify", "/api/v1/bulk-verify"):
        assert path in spec["paths"]
    assert not any(p.startswith("/console") for p in spec["paths"])
