"""Routing against running services (intake, verification, routing, relay, nats-server, SQLite):
every verified report reaches the right institution, which sees and answers only its own."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from services.routing.directory_import import run_import
from shared.calendar import WorkingDayCalendar
from shared.directory.model import DirectoryError, default_directory
from shared.settings import Settings
from tests.routing.conftest import Lapor
from tests.support import System, async_wait_for, wait_for

CALENDAR = WorkingDayCalendar.default()
DINKES = "DINKES-KOTA-KUPANG"
DPUPR = "DPUPR-KOTA-KUPANG"


def event_types(timeline: list[dict[str, Any]]) -> list[str]:
    return [e["event_type"] for e in timeline]


def test_rules_pick_the_institution_with_fallbacks_and_the_admins_override(lapor: Lapor) -> None:
    cases = [
        # (region, category, verify fields, expected agency, routed_by)
        ("5371", "kesehatan", {}, DINKES, "rule"),  # a region + category rule
        ("5371", "pendidikan", {}, "PEMKOT-KUPANG", "region"),  # no rule: the city
        ("5310", "kesehatan", {}, "PEMPROV-NTT", "region"),  # no regency entry: the province
        (None, "sosial", {}, "KEMENPANRB", "national"),  # nowhere: the national desk
        ("5371", "kesehatan", {"agency_code": "PUSKESMAS-OEPOI"}, "PUSKESMAS-OEPOI", "admin"),
    ]
    submitted = [
        (lapor.submit(f"Rute {i}", region=region, category=category), fields, agency, how)
        for i, (region, category, fields, agency, how) in enumerate(cases)
    ]
    for tracking_id, fields, _, _ in submitted:
        lapor.verify(tracking_id, **fields)
    for tracking_id, _, agency, routed_by in submitted:
        report = lapor.wait_status(tracking_id, "forwarded")
        assert report["agency_code"] == agency, (tracking_id, report)
        timeline = lapor.timeline(tracking_id)
        assert event_types(timeline) == ["ReportSubmitted", "ReportVerified", "ForwardedToOPD"]
        verified, forwarded = timeline[1], timeline[2]
        assert forwarded["agency_code"] == agency
        assert forwarded["actor"] == "system"
        # Five working days (the policy's follow-up limit) from the local day of verification.
        expected_due = CALENDAR.due_date(
            datetime.fromisoformat(verified["occurred_at"]), 5, report["location"]["region_code"]
        )
        assert forwarded["follow_up_due"] == expected_due.isoformat()
        item = lapor.wait_in_inbox(agency, tracking_id)
        assert item["routed_by"] == routed_by
        assert item["agency_name"] == forwarded["agency_name"]


def test_an_agency_sees_and_acts_only_on_reports_forwarded_to_it(lapor: Lapor) -> None:
    secret = lapor.submit(
        "Obat habis di puskesmas",
        region="5371",
        category="kesehatan",
        confidential=True,
        anonymous=True,
        reporter={"name": "Maria Kolo", "phone": "+6281298765432"},
    )
    lapor.verify(secret)
    lapor.wait_status(secret, "forwarded", DINKES)

    # The institution it was forwarded to sees it, confidential as it is, but never who reported.
    item = lapor.wait_in_inbox(DINKES, secret)
    assert item["confidential"] is True and item["anonymous"] is True
    assert item["time_left"]["working_days"] >= 1 and item["time_left"]["overdue"] is False
    assert secret not in [r["tracking_id"] for r in lapor.inbox(DINKES, overdue="true")]
    assert secret in [r["tracking_id"] for r in lapor.inbox(DINKES, overdue="false")]
    detail = httpx.get(
        lapor.url("routing", f"/api/v1/inbox/{secret}"), headers=lapor.agency(DINKES)
    )
    assert detail.status_code == 200
    assert [h["event_type"] for h in detail.json()["history"]][-1] == "ForwardedToOPD"
    for text in (json.dumps(lapor.inbox(DINKES)), detail.text):
        assert "Maria" not in text and "6281298765432" not in text and "reporter" not in text

    # Another institution cannot see it, nor act on it.
    other = lapor.agency(DPUPR)
    assert secret not in [r["tracking_id"] for r in lapor.inbox(DPUPR)]
    hidden = httpx.get(lapor.url("routing", f"/api/v1/inbox/{secret}"), headers=other)
    assert hidden.status_code == 404
    for path, body in (
        ("follow-ups", {"text": "Sudah kami tangani"}),
        ("return", {"reason": "not_our_authority"}),
        ("transfer", {"agency_code": "BAGORG-KOTA-KUPANG"}),
    ):
        refused = lapor.routing_post(f"/api/v1/reports/{secret}/{path}", body, other)
        assert refused.status_code == 403, (path, refused.text)
        assert "detail" in refused.json()

    # No token: 401; the wrong role: 403; a malformed body: 422 naming the field.
    assert httpx.get(lapor.url("routing", "/api/v1/inbox")).status_code == 401
    anonymous_post = lapor.routing_post(f"/api/v1/reports/{secret}/follow-ups", {"text": "x"}, {})
    assert anonymous_post.status_code == 401
    assert httpx.get(lapor.url("routing", "/api/v1/inbox"), headers=lapor.admin).status_code == 403
    bad = lapor.routing_post(
        f"/api/v1/reports/{secret}/follow-ups", {"text": "x", "kind": "maybe"}, lapor.agency(DINKES)
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "kind"
    unknown = lapor.routing_post(
        "/api/v1/reports/NOSUCHID/follow-ups", {"text": "x"}, lapor.agency(DINKES)
    )
    assert unknown.status_code in (404, 422)

    # The owner answers; a retried request (same Idempotency-Key) stores one follow-up.
    headers = {**lapor.agency(DINKES), "Idempotency-Key": "fu-1"}
    body = {"text": "Stok obat sudah dikirim hari ini.", "kind": "interim"}
    first = lapor.routing_post(f"/api/v1/reports/{secret}/follow-ups", body, headers)
    again = lapor.routing_post(f"/api/v1/reports/{secret}/follow-ups", body, headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["events"] == again.json()["events"] == ["FollowUpPosted"]
    report = lapor.wait_status(secret, "followed_up")
    assert report["agency_code"] == DINKES
    assert event_types(lapor.timeline(secret)).count("FollowUpPosted") == 1
    followed = lapor.inbox(DINKES, status="followed_up")
    assert [r["time_left"] for r in followed if r["tracking_id"] == secret] == [None]


def test_a_return_goes_back_to_the_admins_who_forward_it_again(lapor: Lapor) -> None:
    tracking_id, agency = lapor.forwarded(
        "Pungutan di sekolah", region="5371", category="kesehatan"
    )
    assert agency == DINKES
    lapor.wait_in_inbox(DINKES, tracking_id)

    returned = lapor.routing_post(
        f"/api/v1/reports/{tracking_id}/return",
        {"reason": "not_our_authority", "note": "Ini urusan sekolah, bukan kesehatan."},
        lapor.agency(DINKES),
    )
    assert returned.status_code == 200, returned.text
    # The next candidate after the rule's institution: the city's own government.
    assert returned.json()["suggested_agency"]["code"] == "PEMKOT-KUPANG"
    lapor.wait_status(tracking_id, "returned")
    assert tracking_id not in [r["tracking_id"] for r in lapor.inbox(DINKES)]
    again = lapor.routing_post(
        f"/api/v1/reports/{tracking_id}/follow-ups", {"text": "x"}, lapor.agency(DINKES)
    )
    assert again.status_code == 403

    queue = httpx.get(lapor.url("routing", "/api/v1/returned"), headers=lapor.admin).json()
    mine = next(r for r in queue if r["tracking_id"] == tracking_id)
    assert mine["returned"]["reason"] == "not_our_authority"
    assert mine["returned"]["by"] == DINKES
    assert mine["returned"]["suggested_agency"]["code"] == "PEMKOT-KUPANG"

    # Admins only; a known institution only; then forwarded again.
    path = f"/api/v1/reports/{tracking_id}/forward"
    body = {"agency_code": "DINDIK-KOTA-BLITAR"}
    assert lapor.routing_post(path, body, lapor.agency(DINKES)).status_code == 403
    unknown = lapor.routing_post(path, {"agency_code": "NO-SUCH-OPD"}, lapor.admin)
    assert unknown.status_code == 400 and unknown.json()["detail"][0]["field"] == "agency_code"
    forwarded = lapor.routing_post(path, {"agency_code": "PEMKOT-KUPANG"}, lapor.admin)
    assert forwarded.status_code == 200, forwarded.text
    assert forwarded.json()["routed_by"] == "admin"
    lapor.wait_status(tracking_id, "forwarded", "PEMKOT-KUPANG")
    assert lapor.wait_in_inbox("PEMKOT-KUPANG", tracking_id)["routed_by"] == "admin"

    timeline = lapor.timeline(tracking_id)
    assert event_types(timeline) == [
        "ReportSubmitted",
        "ReportVerified",
        "ForwardedToOPD",
        "ReportReturned",
        "ForwardedToOPD",
    ]
    assert timeline[3]["reason"] == "not_our_authority"
    assert [timeline[2]["agency_code"], timeline[4]["agency_code"]] == [DINKES, "PEMKOT-KUPANG"]
    assert (timeline[3]["actor"], timeline[4]["actor"]) == ("agency", "admin")

    # A report that is not verified yet cannot be forwarded by hand.
    fresh = lapor.submit("Belum diverifikasi", region="5371", category="kesehatan")
    early = lapor.routing_post(f"/api/v1/reports/{fresh}/forward", body, lapor.admin)
    assert early.status_code == 409


def test_a_transfer_to_a_sibling_and_back(lapor: Lapor) -> None:
    tracking_id, agency = lapor.forwarded(
        "Antrean panjang", region="5371", category="kesehatan", agency_code="PUSKESMAS-OEPOI"
    )
    assert agency == "PUSKESMAS-OEPOI"
    oepoi, sikumana = lapor.agency("PUSKESMAS-OEPOI"), lapor.agency("PUSKESMAS-SIKUMANA")
    path = f"/api/v1/reports/{tracking_id}/transfer"

    # Only institutions under the same parent (DINKES-KOTA-KUPANG) may take it over.
    for code in (DPUPR, DINKES, "NO-SUCH-OPD"):
        refused = lapor.routing_post(path, {"agency_code": code}, oepoi)
        assert refused.status_code == 400, (code, refused.text)
        assert refused.json()["detail"][0]["field"] == "agency_code"

    there = lapor.routing_post(
        path, {"agency_code": "PUSKESMAS-SIKUMANA", "note": "Wilayah kerja Sikumana"}, oepoi
    )
    assert there.status_code == 200, there.text
    assert there.json()["agency_code"] == "PUSKESMAS-SIKUMANA"
    lapor.wait_status(tracking_id, "forwarded", "PUSKESMAS-SIKUMANA")
    item = lapor.wait_in_inbox("PUSKESMAS-SIKUMANA", tracking_id)
    assert item["routed_by"] == "transfer" and item["time_left"] is not None
    assert tracking_id not in [r["tracking_id"] for r in lapor.inbox("PUSKESMAS-OEPOI")]
    # The sender no longer holds it: it cannot transfer it again.
    late = lapor.routing_post(path, {"agency_code": "PUSKESMAS-BAKUNASE"}, oepoi)
    assert late.status_code == 403

    back = lapor.routing_post(path, {"agency_code": "PUSKESMAS-OEPOI", "note": "Salah"}, sikumana)
    assert back.status_code == 200, back.text
    lapor.wait_status(tracking_id, "forwarded", "PUSKESMAS-OEPOI")
    lapor.wait_in_inbox("PUSKESMAS-OEPOI", tracking_id)

    timeline = lapor.timeline(tracking_id)
    assert event_types(timeline)[-2:] == ["ReportTransferred", "ReportTransferred"]
    moves = [(e["from_agency"], e["to_agency"]) for e in timeline[-2:]]
    assert moves == [
        ("PUSKESMAS-OEPOI", "PUSKESMAS-SIKUMANA"),
        ("PUSKESMAS-SIKUMANA", "PUSKESMAS-OEPOI"),
    ]
    assert timeline[-2]["note"] == "Wilayah kerja Sikumana"


async def test_an_agency_system_subscribed_to_its_subject_gets_exactly_its_events(
    system: System, lapor: Lapor
) -> None:
    # The worked example of docs/agency-integration.md: a durable pull consumer on its subject.
    nc = await nats.connect(system.nats_url)
    try:
        js = nc.jetstream()
        subscription = await js.pull_subscribe(
            f"lapor.v1.events.*.*.{DINKES}",
            durable="dinkes-kota-kupang-system",
            stream="LAPOR_EVENTS",
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        # Events for two institutions in the same city while the subscriber listens.
        mine = await asyncio.to_thread(
            lapor.forwarded, "Air bersih puskesmas", region="5371", category="kesehatan"
        )
        theirs = await asyncio.to_thread(
            lapor.forwarded, "Jalan berlubang", region="5371", category="infrastruktur"
        )
        assert (mine[1], theirs[1]) == (DINKES, DPUPR)
        followed = await asyncio.to_thread(
            lapor.routing_post,
            f"/api/v1/reports/{mine[0]}/follow-ups",
            {"text": "Tangki air dikirim."},
            lapor.agency(DINKES),
        )
        assert followed.status_code == 201

        def stored() -> dict[str, str]:
            with sqlite3.connect(f"file:{system.data_dir / 'events.db'}?mode=ro", uri=True) as db:
                rows = db.execute("SELECT event_id, agency_code FROM events").fetchall()
            return {event_id: agency for event_id, agency in rows}

        in_store = await asyncio.to_thread(stored)
        expected = {e for e, agency in in_store.items() if agency == DINKES}
        assert any(agency == DPUPR for agency in in_store.values())

        received: dict[str, str] = {}

        async def everything_arrived() -> bool:
            try:
                for msg in await subscription.fetch(100, timeout=0.5):
                    received[msg.headers["Nats-Msg-Id"]] = msg.subject  # type: ignore[index]
                    await msg.ack()
            except nats.errors.TimeoutError:
                pass
            return expected <= received.keys()

        await async_wait_for(everything_arrived, 20, what="DINKES events at the subscriber")
        assert set(received) == expected
        assert all(subject.endswith(f".{DINKES}") for subject in received.values())
        types = {subject.split(".")[3] for subject in received.values()}
        assert {"ForwardedToOPD", "FollowUpPosted"} <= types
        # The other institution's events never reached this subscriber.
        assert not {e for e, agency in in_store.items() if agency == DPUPR} & received.keys()
    finally:
        await nc.close()


def test_the_html_desk_logs_in_with_a_token_cookie_and_posts_a_follow_up(lapor: Lapor) -> None:
    tracking_id, _ = lapor.forwarded("Lampu jalan mati", region="5371", category="infrastruktur")
    lapor.wait_in_inbox(DPUPR, tracking_id)
    base = lapor.system.url("routing")
    with httpx.Client(base_url=base, follow_redirects=False) as browser:
        assert browser.get("/desk").headers["location"] == "/desk/login"
        refused = browser.post("/desk/login", data={"token": "not-a-token"})
        assert refused.status_code == 401 and "token" in refused.text
        token = lapor.system.token("agency", agency=DPUPR)
        logged_in = browser.post("/desk/login", data={"token": token})
        assert logged_in.status_code == 303
        cookie = logged_in.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/desk" in cookie

        inbox = browser.get("/desk")
        assert inbox.status_code == 200 and tracking_id in inbox.text
        page = browser.get(f"/desk/reports/{tracking_id}")
        assert page.status_code == 200 and "Lampu jalan mati" in page.text
        assert 'action="/desk/reports/' in page.text and "PUSKESMAS" not in page.text

        posted = browser.post(
            f"/desk/reports/{tracking_id}/follow-up",
            data={
                "text": "Petugas sudah mengganti lampu.",
                "kind": "final",
                "idempotency_key": "k1",
            },
        )
        assert posted.status_code == 303
        again = browser.post(
            f"/desk/reports/{tracking_id}/follow-up",
            data={
                "text": "Petugas sudah mengganti lampu.",
                "kind": "final",
                "idempotency_key": "k1",
            },
        )
        assert again.status_code == 303
        shown = browser.get(posted.headers["location"])
        assert "Petugas sudah mengganti lampu." in shown.text

        blank = browser.post(f"/desk/reports/{tracking_id}/follow-up", data={"text": " "})
        assert blank.status_code == 422 and "text" in blank.text
        stranger = browser.get(
            f"/desk/reports/{lapor.submit('x' * 5, region='5371', category='kesehatan')}"
        )
        assert stranger.status_code == 404

        browser.post("/desk/logout")
        assert browser.get("/desk").status_code == 303
    timeline = lapor.timeline(tracking_id)
    assert event_types(timeline).count("FollowUpPosted") == 1
    assert timeline[-1]["kind"] == "final"
    wait_for(lambda: lapor.report(tracking_id)["status"] == "followed_up", what="followed up")


def directory_events(system: System) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{system.data_dir / 'events.db'}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT stream, data FROM events WHERE event_type = 'DirectoryChanged'"
            " ORDER BY position"
        ).fetchall()
    return [(stream, json.loads(data)["code"]) for stream, data in rows]


def test_directory_changes_are_audited_events_and_route_at_once(
    system: System, lapor: Lapor, tmp_path: Path
) -> None:
    alak = {
        "code": "PUSKESMAS-ALAK",
        "name": "Puskesmas Alak",
        "level": "unit",
        "region_code": "537101",
        "parent": DINKES,
        "categories": ["kesehatan"],
    }
    headers = {**lapor.admin, "Idempotency-Key": "add-alak"}
    assert lapor.routing_post("/api/v1/agencies", alak, {}).status_code == 401
    assert lapor.routing_post("/api/v1/agencies", alak, lapor.agency(DINKES)).status_code == 403
    added = lapor.routing_post("/api/v1/agencies", alak, headers)
    assert added.status_code == 201, added.text
    assert lapor.routing_post("/api/v1/agencies", alak, headers).status_code == 201  # a retry
    assert directory_events(system) == [("directory", "PUSKESMAS-ALAK")]
    listed = httpx.get(lapor.url("routing", "/api/v1/agencies"), params={"parent": DINKES}).json()
    assert {
        "code": "PUSKESMAS-ALAK",
        "name": "Puskesmas Alak",
        "level": "unit",
        "region_code": "537101",
        "parent": DINKES,
    } in listed

    # Refusals name the field: an unknown parent, a taken code, a malformed code.
    orphan = lapor.routing_post(
        "/api/v1/agencies", {**alak, "code": "PUSKESMAS-X", "parent": "NOWHERE"}, lapor.admin
    )
    assert orphan.status_code == 400 and orphan.json()["detail"][0]["field"] == "parent"
    taken = lapor.routing_post("/api/v1/agencies", {**alak, "name": "Lain"}, lapor.admin)
    assert taken.status_code == 409 and taken.json()["detail"][0]["field"] == "code"
    malformed = lapor.routing_post("/api/v1/agencies", {**alak, "code": "alak"}, lapor.admin)
    assert malformed.status_code == 422 and malformed.json()["detail"][0]["field"] == "code"

    # A more specific rule for the new unit's district wins from now on.
    rule = {"region_prefix": "537101", "category": "kesehatan", "agency_code": "PUSKESMAS-ALAK"}
    assert lapor.routing_post("/api/v1/routing-rules", rule, lapor.admin).status_code == 200
    tracking_id, agency = lapor.forwarded("Bidan tidak ada", region="537101", category="kesehatan")
    assert agency == "PUSKESMAS-ALAK"
    assert lapor.wait_in_inbox("PUSKESMAS-ALAK", tracking_id)["routed_by"] == "rule"

    renamed = httpx.put(
        lapor.url("routing", "/api/v1/agencies/PUSKESMAS-ALAK"),
        json={**alak, "name": "UPTD Puskesmas Alak"},
        headers=lapor.admin,
    )
    assert renamed.status_code == 200, renamed.text
    detail = httpx.get(lapor.url("routing", "/api/v1/agencies/PUSKESMAS-ALAK")).json()
    assert detail["name"] == "UPTD Puskesmas Alak" and detail["categories"] == ["kesehatan"]

    # `lapor directory import FILE`: one event per new or changed institution, then nothing.
    data = default_directory().to_dict()
    data["institutions"].append(
        {
            "code": "DINKES-PROV-NTT",
            "name": "Dinas Kesehatan Provinsi NTT",
            "level": "opd",
            "region_code": "53",
            "parent": "PEMPROV-NTT",
            "categories": ["kesehatan"],
        }
    )
    file = tmp_path / "directory.json"
    file.write_text(json.dumps(data))
    settings = Settings(data_dir=system.data_dir, clock_file=system.data_dir / "clock.txt")
    first = run_import(settings, file)
    assert (first.added, first.updated, first.rules_set) == (["DINKES-PROV-NTT"], [], 0)
    assert run_import(settings, file).events == 0  # the same file again appends nothing
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**data, "routing_rules": [{"agency_code": "NOWHERE"}]}))
    with pytest.raises(DirectoryError):
        run_import(settings, broken)
    codes = [code for _, code in directory_events(system)]
    assert codes == ["PUSKESMAS-ALAK", "PUSKESMAS-ALAK", "PUSKESMAS-ALAK", "DINKES-PROV-NTT"]
    # The running service learns of the import through the event stream.
    wait_for(
        lambda: any(
            a["code"] == "DINKES-PROV-NTT"
            for a in httpx.get(lapor.url("routing", "/api/v1/agencies")).json()
        ),
        what="imported institution served",
    )
