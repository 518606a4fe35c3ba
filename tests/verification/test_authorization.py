"""Who may use the desk: every endpoint refuses a missing or bad token (401), the wrong role (403)
and a regional admin outside their region (403) — and refusing changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.auth import Role, create_token
from tests.verification.conftest import Lapor, days_from_now, fresh_region

REGION = "3578"  # Kota Surabaya
INSIDE = f"{REGION}01"
OUTSIDE = "5371"  # Kota Kupang


@pytest.fixture(scope="module")
def report(lapor: Lapor) -> str:
    """A report in Surabaya that no refused request may change."""
    tid, _ = lapor.submit(location={"region_code": INSIDE})
    lapor.seen(tid)
    return tid


@pytest.fixture(scope="module")
def original(lapor: Lapor) -> str:
    tid, _ = lapor.submit(location={"region_code": INSIDE})
    lapor.seen(tid)
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

SECRET = b"test-secret-for-lapor"  # tests.support.System.secret
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
def test_every_endpoint_refuses(
    lapor: Lapor, report: str, original: str, caller: str, endpoint: int
) -> None:
    assert lapor.system.secret.encode() == SECRET
    method, path, body = endpoints(report, original)[endpoint]
    headers, expected = CALLERS[caller]
    if caller == "admin of another region" and path == "/api/v1/queue":
        # The queue is filtered to their region rather than refused; asking for another is not.
        answer = lapor.desk.get(path, params={"region": REGION}, headers=headers())
    else:
        answer = lapor.desk.request(method, path, json=body, headers=headers())
    assert answer.status_code == expected, answer.text
    assert isinstance(answer.json()["detail"], str) and answer.json()["detail"]
    if expected == 401:
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_refusals_changed_nothing(lapor: Lapor, report: str) -> None:
    # Runs after the matrix in this module (pytest keeps file order).
    assert lapor.stored(report) == ["ReportSubmitted"]


def test_a_regional_admin_sees_and_acts_in_their_region_only(lapor: Lapor) -> None:
    province = "74"  # Sulawesi Tenggara
    mine = fresh_region(province)
    theirs = fresh_region("75")
    words = {"title": "Pasar Wuawua becek", "body": "Los ikan pasar Wuawua becek dan bau."}
    here, _ = lapor.submit(location={"region_code": mine}, **words)
    there, _ = lapor.submit(location={"region_code": theirs})
    lapor.seen(here)
    lapor.seen(there)
    regional = lapor.token("admin", region=province)
    queue = lapor.queue_ids(regional)
    assert here in queue and there not in queue
    assert lapor.queue_ids(regional, region=mine) == [here]
    denied = lapor.desk.get(
        "/api/v1/queue", params={"region": theirs}, headers=lapor.auth(regional)
    )
    assert denied.status_code == 403 and "region" in denied.json()["detail"]
    assert (
        lapor.desk.get(f"/api/v1/reports/{there}", headers=lapor.auth(regional)).status_code == 403
    )
    # Not into another region either, and a bulk verify is refused as a whole.
    into = lapor.act(here, "verify", {"region_code": theirs}, regional)
    assert into.status_code == 403 and "region_code" in into.json()["detail"]
    bulk = lapor.desk.post(
        "/api/v1/bulk-verify", json={"tracking_ids": [here, there]}, headers=lapor.auth(regional)
    )
    assert bulk.status_code == 403 and there in bulk.json()["detail"]
    assert lapor.stored(here) == ["ReportSubmitted"]
    assert lapor.act(here, "verify", token=regional).status_code == 200
    # A suggestion from another region is not shown to them.
    twin, _ = lapor.submit(location={"region_code": theirs}, **words)
    lapor.seen(twin)
    suggestions = lapor.desk.get(f"/api/v1/reports/{here}/duplicates", headers=lapor.auth(regional))
    assert suggestions.status_code == 200
    assert twin not in [s["tracking_id"] for s in suggestions.json()]
    national = lapor.desk.get(f"/api/v1/reports/{here}/duplicates", headers=lapor.auth())
    assert twin in [s["tracking_id"] for s in national.json()]


def test_the_openapi_document_lists_the_desk(lapor: Lapor) -> None:
    spec = httpx.get(f"{lapor.system.url('verification')}/openapi.json").json()
    for path in ("/api/v1/queue", "/api/v1/reports/{tracking_id}/verify", "/api/v1/bulk-verify"):
        assert path in spec["paths"]
    assert not any(p.startswith("/console") for p in spec["paths"])
