"""A confidential report is read by its reporter, its institution and the administrators - and
every officer's read is written down for the reporter to see. Guessing tracking IDs or access
codes meets a wall (404, then 429) and finds nothing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.access.events import ConfidentialReportRead, access_stream
from shared.reports.tracking import new_tracking_id
from shared.store.sqlite import SqliteEventStore
from tests.security.support import (
    AGENCY_A,
    SMS_WEBHOOK_TOKEN,
    Lapor,
    csrf_of,
    new_address,
)
from tests.support import System, wait_for

SECRET_WORD = "Rahasiaxq7"  # only in the confidential report
PUBLIC_WORD = "Terbukaxq7"  # only in its public twin
# Small, so a burst of guesses runs out long before the bucket refills (one token in 15 s).
FAILED_LOOKUPS_PER_MINUTE = 4
SYSTEM_ENV = {
    "LAPOR_INTAKE_FAILED_ACCESS_CODES_PER_MINUTE": str(FAILED_LOOKUPS_PER_MINUTE),
    "LAPOR_FAILED_ACCESS_CODES_PER_MINUTE": str(FAILED_LOOKUPS_PER_MINUTE),
    "LAPOR_VIEW_RETENTION_DAYS": "2",
    "LAPOR_VIEW_RETENTION_CHECK_SECONDS": "0.2",
}


@pytest.fixture(scope="module")
def reports(lapor: Lapor) -> dict[str, str]:
    """A confidential report forwarded to agency A, and a public one beside it."""
    secret, code = lapor.submit(
        title=f"Pungutan liar {SECRET_WORD}",
        body=f"Petugas meminta uang tambahan untuk surat rujukan {SECRET_WORD}.",
        confidential=True,
    )
    public, public_code = lapor.submit(
        title=f"Antrean panjang {PUBLIC_WORD}",
        body=f"Antrean pendaftaran sangat panjang setiap pagi {PUBLIC_WORD}.",
    )
    for tid in (secret, public):
        lapor.seen(tid, code if tid == secret else None)
        lapor.forward(tid)
    return {"secret": secret, "code": code, "public": public, "public_code": public_code}


def _officer_reads(lapor: Lapor, tid: str, code: str) -> list[dict[str, Any]]:
    got = lapor.intake.get(
        f"/api/v1/reports/{tid}", headers={"X-Access-Code": code, "X-Forwarded-For": new_address()}
    )
    assert got.status_code == 200, got.text
    reads: list[dict[str, Any]] = got.json()["officer_reads"]
    return reads


def _stored_reads(system: System, tid: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        store = SqliteEventStore(system.data_dir / "events.db")
        try:
            return [
                e.data | {"actor": e.actor.model_dump()}
                for e in await store.read(access_stream(tid))
                if e.event_type == ConfidentialReportRead.event_type
            ]
        finally:
            await store.close()

    return asyncio.run(read())


def test_confidential_report_is_absent_from_every_public_view(
    lapor: Lapor, reports: dict[str, str]
) -> None:
    secret, public = reports["secret"], reports["public"]
    intake = lapor.intake
    views: dict[str, httpx.Response] = {
        "list": intake.get("/api/v1/reports", params={"limit": 200}),
        "search": intake.get("/api/v1/reports", params={"q": SECRET_WORD}),
        "search agency": intake.get("/api/v1/reports", params={"agency": AGENCY_A}),
        "map": intake.get("/api/v1/map.geojson"),
        "map bbox": intake.get("/api/v1/map.geojson", params={"bbox": "123,-11,124,-10"}),
        "stats": intake.get("/api/v1/stats"),
        "open311 list": intake.get("/open311/v2/requests.json"),
        "open311 by id": intake.get(
            "/open311/v2/requests.json", params={"service_request_id": f"{secret},{public}"}
        ),
        "browse": intake.get("/laporan", params={"q": SECRET_WORD}),
        "browse all": intake.get("/laporan"),
        "map page": intake.get("/peta"),
        "stats page": intake.get("/statistik"),
    }
    for name, response in views.items():
        assert response.status_code == 200, (name, response.text)
        # (A search page echoes the query itself: look for the report's other words.)
        for marker in (secret, "Pungutan liar", "surat rujukan"):
            assert marker not in response.text, (name, marker)
    # The public twin is there (the views were not simply empty).
    assert public in views["list"].text and public in views["map"].text
    assert public in views["open311 by id"].text
    assert (
        intake.get("/api/v1/reports", params={"q": PUBLIC_WORD}).json()[0]["tracking_id"] == public
    )
    # Counted only in the totals.
    stats = views["stats"].json()
    assert stats["confidential"] >= 1 and stats["total"] == stats["public"] + stats["confidential"]
    for one in (
        f"/open311/v2/requests/{secret}.json",
        f"/open311/v2/requests/{secret}.xml",
        f"/open311/v2/tokens/{secret}.json",
    ):
        assert intake.get(one).status_code == 404, one
    assert (
        intake.get(f"/laporan/{secret}", headers={"X-Forwarded-For": new_address()}).status_code
        == 404
    )
    # SMS CEK from a phone that is not the reporter's: "not found", nothing about it.
    answer = intake.get(
        "/channels/sms",
        params={
            "from": "+6281200000077",
            "text": f"CEK {secret}",
            "id": "cek-1",
            "token": SMS_WEBHOOK_TOKEN,
        },
    )
    assert "tidak ditemukan" in answer.text and SECRET_WORD not in answer.text


def test_confidential_report_is_read_only_by_its_agency_admins_and_reporter(
    lapor: Lapor, reports: dict[str, str]
) -> None:
    secret, code = reports["secret"], reports["code"]

    def intake_as(headers: dict[str, str]) -> tuple[int, int]:
        headers = headers | {"X-Forwarded-For": new_address()}
        return (
            lapor.intake.get(f"/api/v1/reports/{secret}", headers=headers).status_code,
            lapor.intake.get(f"/api/v1/reports/{secret}/timeline", headers=headers).status_code,
        )

    assert intake_as({}) == (404, 404)
    assert intake_as(lapor.auth("agency_b")) == (404, 404)
    assert intake_as(lapor.auth("client")) == (404, 404)
    assert intake_as(lapor.auth("regional_admin")) == (404, 404)
    assert intake_as({"X-Access-Code": "WRONGCOD"}) == (404, 404)
    assert intake_as(lapor.auth("forged")) == (401, 401)
    assert intake_as(lapor.auth("expired")) == (401, 401)
    assert intake_as(lapor.auth("alg_none")) == (401, 401)
    assert intake_as(lapor.auth("agency_a")) == (200, 200)
    assert intake_as(lapor.auth("admin")) == (200, 200)
    assert intake_as({"X-Access-Code": code}) == (200, 200)
    # The desks: admins at verification (not a regional admin elsewhere), agency A at routing.
    desk = f"/api/v1/reports/{secret}"
    assert lapor.verification.get(desk, headers=lapor.auth("admin")).status_code == 200
    assert lapor.verification.get(desk, headers=lapor.auth("regional_admin")).status_code == 403
    assert lapor.verification.get(desk, headers=lapor.auth("agency_a")).status_code == 403
    inbox = f"/api/v1/inbox/{secret}"
    assert lapor.routing.get(inbox, headers=lapor.auth("agency_a")).status_code == 200
    assert lapor.routing.get(inbox, headers=lapor.auth("agency_b")).status_code == 404
    assert lapor.routing.get(inbox, headers=lapor.auth("admin")).status_code == 403
    listed = lapor.routing.get("/api/v1/inbox", headers=lapor.auth("agency_b")).json()
    assert secret not in {r["tracking_id"] for r in listed}
    # The evidence pack and the delivery log.
    evidence = f"/api/v1/reports/{secret}/evidence.json"
    assert lapor.sla.get(evidence, headers=lapor.auth("agency_b")).status_code == 404
    assert lapor.sla.get(evidence, headers=lapor.auth("client")).status_code in (403, 404)
    assert lapor.sla.get(evidence, headers=lapor.auth("agency_a")).status_code == 200
    assert lapor.sla.get(evidence, headers={"X-Access-Code": code}).status_code == 200
    deadlines = lapor.sla.get(
        "/api/v1/deadlines", params={"tracking_id": secret}, headers=lapor.auth("agency_b")
    )
    assert deadlines.status_code == 200 and deadlines.json() == []
    notices = {"tracking_id": secret}
    assert (
        lapor.notify.get(
            "/api/v1/notifications", params=notices, headers=lapor.auth("agency_b")
        ).status_code
        == 403
    )
    assert lapor.notify.get("/api/v1/notifications", params=notices).status_code == 401


def test_every_officer_read_is_recorded_and_shown_to_the_reporter(
    lapor: Lapor, system: System, reports: dict[str, str]
) -> None:
    secret, code, public = reports["secret"], reports["code"], reports["public"]
    before = len(_stored_reads(system, secret))
    reads = [
        ("admin", lapor.intake, f"/api/v1/reports/{secret}", "intake", "report"),
        ("agency_a", lapor.intake, f"/api/v1/reports/{secret}/timeline", "intake", "timeline"),
        ("admin", lapor.verification, f"/api/v1/reports/{secret}", "verification", "desk_detail"),
        ("agency_a", lapor.routing, f"/api/v1/inbox/{secret}", "routing", "inbox_detail"),
        ("ombudsman", lapor.sla, f"/api/v1/reports/{secret}/evidence.json", "sla", "report"),
    ]
    for who, client, path, _service, _what in reads:
        got = client.get(path, headers=lapor.auth(who) | {"X-Forwarded-For": new_address()})
        assert got.status_code == 200, (who, path, got.text)
    # Refused attempts read nothing, the reporter's own reads are theirs, public reports are
    # public: none of these is recorded.
    lapor.intake.get(f"/api/v1/reports/{secret}", headers=lapor.auth("agency_b"))
    lapor.routing.get(f"/api/v1/inbox/{secret}", headers=lapor.auth("agency_b"))
    lapor.intake.get(f"/api/v1/reports/{public}", headers=lapor.auth("admin"))
    lapor.routing.get(f"/api/v1/inbox/{public}", headers=lapor.auth("agency_a"))
    stored = _stored_reads(system, secret)[before:]
    assert [(r["reader_subject"], r["service"], r["what"]) for r in stored] == [
        ("admin-nasional", "intake", "report"),
        ("officer-a", "intake", "timeline"),
        ("admin-nasional", "verification", "desk_detail"),
        ("officer-a", "routing", "inbox_detail"),
        ("ombudsman-ri", "sla", "report"),
    ]
    assert stored[1]["reader_agency"] == AGENCY_A and stored[1]["actor"]["kind"] == "agency"
    assert _stored_reads(system, public) == []
    # Who read it and when - never what it says - is all the access event carries.
    for read in stored:
        assert SECRET_WORD not in str(read)
    # The reporter sees the same list (with the access code), newest last.
    shown = _officer_reads(lapor, secret, code)[-len(reads) :]
    assert [(r["reader_role"], r["service"], r["what"]) for r in shown] == [
        ("admin", "intake", "report"),
        ("agency", "intake", "timeline"),
        ("admin", "verification", "desk_detail"),
        ("agency", "routing", "inbox_detail"),
        ("ombudsman", "sla", "report"),
    ]
    assert shown[1]["reader_agency"] == AGENCY_A
    # ... and on the report page, once signed in with the access code.
    with httpx.Client(base_url=system.url("intake"), timeout=20) as browser:
        address = {"X-Forwarded-For": new_address()}
        page = browser.get("/lacak", headers=address)
        signed = browser.post(
            f"/laporan/{secret}/masuk",
            headers=address,
            data={"csrf_token": csrf_of(page.text), "access_code": code},
            follow_redirects=True,
        )
        assert signed.status_code == 200, signed.text[-1500:]
        section = signed.text.split('id="officer-reads"', 1)[-1]
        assert 'id="officer-reads"' in signed.text
        assert section.count("<li>") >= len(reads)
        assert "membuka laporan di kotak masuk instansi" in section  # inbox_detail, in words
    # The access streams are hash-chained like every other stream.
    audit = lapor.cli("audit", "verify")
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_guessing_tracking_ids_finds_nothing_and_is_rate_limited(
    lapor: Lapor, reports: dict[str, str]
) -> None:
    guesser = {"X-Forwarded-For": new_address()}
    statuses = [
        lapor.intake.get(f"/api/v1/reports/{new_tracking_id()}", headers=guesser).status_code
        for _ in range(FAILED_LOOKUPS_PER_MINUTE + 3)
    ]
    assert 200 not in statuses
    assert statuses[:FAILED_LOOKUPS_PER_MINUTE] == [404] * FAILED_LOOKUPS_PER_MINUTE
    assert statuses[FAILED_LOOKUPS_PER_MINUTE:] == [429] * 3
    # Once limited, a hit looks like a miss (429), so the limit is no oracle either.
    limited = lapor.intake.get(f"/api/v1/reports/{reports['public']}", headers=guesser)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert lapor.intake.get(f"/laporan/{reports['public']}", headers=guesser).status_code == 429
    # A mistyped ID (wrong check character) is refused as such, never looked up.
    tid = reports["public"]
    typo = tid[:-1] + ("2" if tid[-1] != "2" else "3")
    assert (
        lapor.intake.get(
            f"/api/v1/reports/{typo}", headers={"X-Forwarded-For": new_address()}
        ).status_code
        == 422
    )
    # Hidden is the same as unknown: probing a confidential report costs the same.
    prober = {"X-Forwarded-For": new_address()}
    hidden = [
        lapor.intake.get(f"/api/v1/reports/{reports['secret']}", headers=prober).status_code
        for _ in range(FAILED_LOOKUPS_PER_MINUTE + 1)
    ]
    assert hidden == [404] * FAILED_LOOKUPS_PER_MINUTE + [429]
    # Everyone else is not affected.
    assert (
        lapor.intake.get(
            f"/api/v1/reports/{tid}", headers={"X-Forwarded-For": new_address()}
        ).status_code
        == 200
    )


def test_guessing_access_codes_gets_403_then_429(lapor: Lapor, reports: dict[str, str]) -> None:
    tid, code = reports["public"], reports["public_code"]
    guesser = {"X-Forwarded-For": new_address()}
    url = f"/api/v1/reports/{tid}/replies"
    statuses = [
        lapor.intake.post(
            url, json={"text": "x"}, headers=guesser | {"X-Access-Code": f"GUESS{n:03d}"}
        ).status_code
        for n in range(FAILED_LOOKUPS_PER_MINUTE + 2)
    ]
    assert statuses == [403] * FAILED_LOOKUPS_PER_MINUTE + [429, 429]
    # Even the right code is refused from there now; the reporter elsewhere is not locked out.
    assert (
        lapor.intake.post(
            url, json={"text": "x"}, headers=guesser | {"X-Access-Code": code}
        ).status_code
        == 429
    )
    assert (
        lapor.intake.get(
            f"/api/v1/reports/{tid}",
            headers={"X-Access-Code": code, "X-Forwarded-For": new_address()},
        ).status_code
        == 200
    )
    # The web form's sign-in counts the same way.
    with httpx.Client(base_url=lapor.system.url("intake"), timeout=20) as browser:
        web = {"X-Forwarded-For": new_address()}
        token = csrf_of(browser.get("/lacak", headers=web).text)
        tries = [
            browser.post(
                "/lacak",
                headers=web,
                data={"csrf_token": token, "id": tid, "access_code": f"WEB{n:05d}"},
            ).status_code
            for n in range(FAILED_LOOKUPS_PER_MINUTE + 1)
        ]
        assert tries == [403] * FAILED_LOOKUPS_PER_MINUTE + [429]


def test_access_codes_cannot_be_guessed_through_sla(lapor: Lapor, reports: dict[str, str]) -> None:
    tid = reports["public"]
    statuses = [
        lapor.sla.get(
            f"/api/v1/reports/{tid}/evidence.json", headers={"X-Access-Code": f"SLA{n:05d}"}
        ).status_code
        for n in range(FAILED_LOOKUPS_PER_MINUTE + 2)
    ]
    assert 429 in statuses


def test_access_codes_cannot_be_guessed_through_notify(
    lapor: Lapor, reports: dict[str, str]
) -> None:
    tid = reports["public"]
    statuses = [
        lapor.notify.get(
            "/api/v1/notifications",
            params={"tracking_id": tid},
            headers={"X-Access-Code": f"NTF{n:05d}"},
        ).status_code
        for n in range(FAILED_LOOKUPS_PER_MINUTE + 2)
    ]
    assert 429 in statuses


def test_the_access_code_is_never_in_a_url(lapor: Lapor, reports: dict[str, str]) -> None:
    """The reporter's session is a cookie bound to one report's pages; the code stays in forms."""
    with httpx.Client(base_url=lapor.system.url("intake"), timeout=20) as browser:
        web = {"X-Forwarded-For": new_address()}
        token = csrf_of(browser.get("/lacak", headers=web).text)
        signed = browser.post(
            "/lacak",
            headers=web,
            data={
                "csrf_token": token,
                "id": reports["public"],
                "access_code": reports["public_code"],
            },
        )
        assert signed.status_code == 303
        assert reports["public_code"] not in signed.headers["location"]
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and re.search(r"(?i)samesite=strict", cookie)
        assert f"Path=/laporan/{reports['public']}" in cookie


@pytest.fixture
def later(system: System) -> Iterator[System]:
    """For the test that moves time: the wall clock again afterwards."""
    try:
        yield system
    finally:
        system.set_clock("")


def test_finished_reports_text_leaves_the_views_after_the_retention_period(
    lapor: Lapor, later: System
) -> None:
    word = "Retensixq7"
    tid, code = lapor.submit(
        title="Lampu jalan padam",
        body=f"Lampu jalan padam sebulan di depan rumah Bapak {word}.",
    )
    reporter = {"X-Access-Code": code, "X-Forwarded-For": new_address()}
    lapor.seen(tid)
    lapor.forward(tid)
    lapor.follow_up(tid, f"Sudah diperbaiki untuk Bapak {word}.", "final")
    closed = lapor.intake.post(
        f"/api/v1/reports/{tid}/close", json={"note": f"Terima kasih {word}"}, headers=reporter
    )
    assert closed.status_code == 200, closed.text
    wait_for(lambda: lapor.seen(tid)["status"] == "closed", 30, what="closed in intake's view")
    assert (
        lapor.seen(tid)["body"] and lapor.intake.get("/api/v1/reports", params={"q": word}).json()
    )
    # One day on: still within the period (LAPOR_VIEW_RETENTION_DAYS=2).
    later.set_clock((datetime.now(UTC) + timedelta(days=1)).isoformat())
    assert word in lapor.seen(tid)["body"]
    # Three days on: the body, the address and the free text of the history are gone.
    later.set_clock((datetime.now(UTC) + timedelta(days=3)).isoformat())

    def blanked() -> dict[str, Any] | None:
        view = lapor.seen(tid)
        return view if view["body"] == "" else None

    view = wait_for(blanked, 30, what="a retention pass")
    assert view["location"]["address"] is None and view["status"] == "closed"
    timeline = lapor.intake.get(f"/api/v1/reports/{tid}/timeline", headers=reporter).text
    assert word not in timeline and "ReportClosed" in timeline
    assert lapor.intake.get("/api/v1/reports", params={"q": word}).json() == []
    assert word not in lapor.intake.get(f"/laporan/{tid}").text
    # The store keeps every event (the audit trail), so the chains still verify.
    assert lapor.cli("audit", "verify", tid).returncode == 0
