"""Intake's JSON API against real processes (nats-server, relay, intake): contracts of DESIGN §5,
privacy (§6) and bad input (4xx naming the field, never 500)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from shared.reports.commands import CloseReport, ForwardReport, PostFollowUp, VerifyReport
from shared.reports.events import CloseReason
from tests.intake_web.conftest import submit, visible
from tests.intake_web.officers import act
from tests.support import System, wait_for


def test_categories_and_regions_for_the_forms(api: httpx.Client) -> None:
    categories = api.get("/api/v1/categories").json()
    assert {"code", "name"} <= set(categories[0])
    assert "kesehatan" in {c["code"] for c in categories}
    provinces = api.get("/api/v1/regions").json()
    assert {"code": "53", "level": "province"}.items() <= next(
        p for p in provinces if p["code"] == "53"
    ).items()
    cities = api.get("/api/v1/regions", params={"parent": "53"}).json()
    assert "5371" in {c["code"] for c in cities}
    assert api.get("/api/v1/regions", params={"parent": "x"}).status_code == 422


def test_a_report_is_submitted_read_and_listed(api: httpx.Client) -> None:
    created = submit(
        api,
        title="Puskesmas tutup di jam kerja",
        body="Puskesmas Oepoi tutup pada hari Senin pukul 10 pagi tanpa pemberitahuan.",
        category="kesehatan",
        classification="complaint",
        location={"region_code": "537103", "lat": -10.16, "lon": 123.61, "address": "Jl. Oepoi"},
        event_date="2026-03-02",
    )
    assert created["status"] == "submitted"
    assert len(created["tracking_id"]) == 10 and len(created["access_code"]) == 8
    report = visible(api, created["tracking_id"])
    for key in (
        "tracking_id",
        "status",
        "classification",
        "title",
        "body",
        "category",
        "location",
        "channel",
        "anonymous",
        "confidential",
        "agency_code",
        "submitted_at",
    ):
        assert key in report
    assert report["location"] == {
        "lat": -10.16,
        "lon": 123.61,
        "region_code": "537103",
        "address": "Jl. Oepoi",
    }
    assert report["channel"] == "web" and report["event_date"] == "2026-03-02"
    timeline = api.get(f"/api/v1/reports/{created['tracking_id']}/timeline").json()
    assert [(e["event_type"], "occurred_at" in e) for e in timeline] == [("ReportSubmitted", True)]
    listed = api.get("/api/v1/reports", params={"region": "53", "category": "kesehatan"}).json()
    assert created["tracking_id"] in {r["tracking_id"] for r in listed}
    found = api.get("/api/v1/reports", params={"q": "oepoi puskesmas"}).json()
    assert created["tracking_id"] in {r["tracking_id"] for r in found}
    assert api.get("/api/v1/reports", params={"q": "oepoi", "status": "closed"}).json() == []


def test_lists_page_with_a_cursor(api: httpx.Client) -> None:
    marker = uuid.uuid4().hex[:8]
    made = [
        submit(api, title=f"Laporan halaman {n}", body=f"Kata kunci unik {marker} nomor {n}.")
        for n in range(5)
    ]
    for m in made:
        visible(api, m["tracking_id"])
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"q": marker, "limit": "2", **({"cursor": cursor} if cursor else {})}
        response = api.get("/api/v1/reports", params=params)
        seen += [r["tracking_id"] for r in response.json()]
        cursor = response.headers.get("X-Next-Cursor")
        if not cursor:
            break
    assert seen == [m["tracking_id"] for m in reversed(made)]


@pytest.mark.parametrize(
    "q",
    [
        '"',
        'jalan"',
        "NEAR(jalan rusak, 2)",
        "title:jalan",
        "{title}:x",
        "*",
        "jal*",
        "^a",
        "a OR b",
        "(",
        ")",
        "'; DROP TABLE reports; --",
        "\\",
        "%",
        "_",
        "ü",
        "🚧",
        "x" * 200,
    ],
)
def test_search_input_is_never_a_server_error(api: httpx.Client, q: str) -> None:
    response = api.get("/api/v1/reports", params={"q": q})
    assert response.status_code == 200, response.text
    assert isinstance(response.json(), list)


def test_confidential_reports_stay_out_of_every_public_view(
    api: httpx.Client, system: System
) -> None:
    marker = "rahasia" + uuid.uuid4().hex[:6]
    secret = submit(
        api,
        title=f"Pungutan liar {marker}",
        body=f"Petugas meminta uang pelicin {marker} untuk mengurus akta kelahiran.",
        category="administrasi-kependudukan",
        location={"region_code": "3572", "lat": -8.1, "lon": 112.16},
        confidential=True,
        reporter={"name": "Budi Santoso", "phone": "+6281200000001"},
    )
    tid, code = secret["tracking_id"], secret["access_code"]
    before = api.get("/api/v1/stats").json()
    visible(api, tid, code)
    # Not for the public, but for its reporter and the officers who handle it.
    assert api.get(f"/api/v1/reports/{tid}").status_code == 404
    assert api.get(f"/api/v1/reports/{tid}/timeline").status_code == 404
    assert (
        api.get(f"/api/v1/reports/{tid}", headers={"X-Access-Code": "WRONGCODE"}).status_code == 404
    )
    assert api.get(f"/api/v1/reports/{tid}", headers={"X-Access-Code": code}).json()["confidential"]
    admin = {"Authorization": f"Bearer {system.token('admin')}"}
    assert api.get(f"/api/v1/reports/{tid}", headers=admin).status_code == 200
    other_agency = {
        "Authorization": f"Bearer {system.token('agency', agency='DINKES-KOTA-KUPANG')}"
    }
    assert api.get(f"/api/v1/reports/{tid}", headers=other_agency).status_code == 404
    assert api.get("/api/v1/reports", params={"q": marker}).json() == []
    assert tid not in {
        r["tracking_id"] for r in api.get("/api/v1/reports", params={"limit": 200}).json()
    }
    assert tid not in api.get("/api/v1/map.geojson").text
    assert tid not in api.get("/api/v1/map.geojson", params={"bbox": "112,-9,113,-8"}).text
    page = api.get("/laporan", params={"q": marker}).text
    assert tid not in page and 'id="no-results"' in page
    assert api.get(f"/laporan/{tid}").status_code == 404
    after = wait_for(
        lambda: (
            (s := api.get("/api/v1/stats").json())["confidential"] > before["confidential"] and s
        ),
        what="confidential counted",
    )
    assert after["total"] == before["total"] + 1
    assert after["public"] == before["public"]
    assert after["by_category"].get("administrasi-kependudukan", 0) == before["by_category"].get(
        "administrasi-kependudukan", 0
    )
    assert after["by_province"].get("35", 0) == before["by_province"].get("35", 0)


def test_an_anonymous_reporter_is_never_shown(api: httpx.Client, system: System) -> None:
    created = submit(
        api,
        title="Guru sering tidak masuk",
        body="Guru kelas 5 jarang hadir, murid dibiarkan belajar sendiri.",
        location={"region_code": "3572", "lat": -8.09, "lon": 112.17},
        anonymous=True,
        reporter={"name": "Siti Aminah", "phone": "+6281234567890", "email": "siti@contoh.id"},
    )
    tid = created["tracking_id"]
    report = visible(api, tid)
    assert report["anonymous"] is True
    shown = "".join(
        [
            api.get(f"/api/v1/reports/{tid}").text,
            api.get(
                f"/api/v1/reports/{tid}", headers={"X-Access-Code": created["access_code"]}
            ).text,
            api.get(f"/api/v1/reports/{tid}/timeline").text,
            api.get("/api/v1/reports", params={"q": "guru"}).text,
            api.get("/api/v1/map.geojson").text,
            api.get(f"/laporan/{tid}").text,
            api.get("/api/v1/stats").text,
        ]
    )
    for personal in ("Siti", "Aminah", "6281234567890", "siti@contoh.id"):
        assert personal not in shown
        assert personal not in system.log("intake")
    # Even the stored event keeps the contact only encrypted.
    assert b"Siti" not in (system.data_dir / "events.db").read_bytes()


def test_an_idempotency_key_makes_a_retry_return_the_same_report(api: httpx.Client) -> None:
    key = str(uuid.uuid4())
    body = {"title": "Banjir di jalan utama", "body": "Genangan setinggi lutut setiap hujan turun."}
    first = api.post("/api/v1/reports", json=body, headers={"Idempotency-Key": key})
    again = api.post("/api/v1/reports", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    visible(api, first.json()["tracking_id"])
    timeline = api.get(f"/api/v1/reports/{first.json()['tracking_id']}/timeline").json()
    assert len(timeline) == 1
    other = api.post("/api/v1/reports", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert other.json()["tracking_id"] != first.json()["tracking_id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "ab", "body": "cukup panjang isinya"}, "title"),
        ({"title": "Judul", "body": "pendek"}, "body"),
        (
            {"title": "Judul", "body": "cukup panjang isinya", "classification": "x"},
            "classification",
        ),
        (
            {"title": "Judul", "body": "cukup panjang isinya", "location": {"lat": 91}},
            "location.lat",
        ),
        (
            {"title": "Judul", "body": "cukup panjang isinya", "location": {"region_code": "5x"}},
            "location.region_code",
        ),
        (
            {"title": "Judul", "body": "cukup panjang isinya", "reporter": {"email": "bukan"}},
            "reporter.email",
        ),
        ({"title": "Judul", "body": "cukup panjang isinya", "event_date": "kemarin"}, "event_date"),
        ({"title": "Judul", "body": "cukup panjang isinya", "surprise": 1}, "surprise"),
        ({"title": "Judul", "body": "cukup panjang isinya", "category": "tidak-ada"}, "category"),
        (
            {
                "title": "Judul",
                "body": "cukup panjang isinya",
                "attachments": [{"sha256": "0" * 64}],
            },
            "attachments",
        ),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(
    api: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = api.post("/api/v1/reports", json=body)
    assert response.status_code in (400, 422), response.text
    detail = response.json()["detail"]
    assert any(d.get("field") == field for d in detail), detail


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("post", "/api/v1/reports", {"content": b"{not json"}),
        (
            "post",
            "/api/v1/reports",
            {"content": b"", "headers": {"content-type": "application/json"}},
        ),
        ("post", "/api/v1/reports", {"content": "\udcff".encode("utf-8", "surrogatepass")}),
        ("post", "/api/v1/reports", {"json": []}),
        ("post", "/api/v1/reports", {"json": {"title": None, "body": 5}}),
        (
            "post",
            "/api/v1/reports",
            {"json": {"title": "Judul", "body": "cukup panjang", "location": {"lat": "NaN"}}},
        ),
        ("get", "/api/v1/reports/0OIL1", {}),
        ("get", "/api/v1/reports/ZZZZZZZZZZ", {}),
        ("get", "/api/v1/reports/" + "A" * 500, {}),
        ("get", "/api/v1/reports", {"params": {"limit": "-1"}}),
        ("get", "/api/v1/reports", {"params": {"status": "unknown"}}),
        ("get", "/api/v1/reports", {"params": {"cursor": "abc"}}),
        ("get", "/api/v1/map.geojson", {"params": {"bbox": "1,2,3"}}),
        ("get", "/api/v1/map.geojson", {"params": {"bbox": "nan,0,1,1"}}),
        ("get", "/api/v1/map.geojson", {"params": {"bbox": "10,0,1,1"}}),
        ("post", "/api/v1/reports/ZZZZZZZZZZ/amendments", {"json": {"text": "x"}}),
        ("post", "/api/v1/attachments", {"files": {"nothing": ("a", b"a")}}),
        ("get", "/laporan/%00%01", {}),
        ("get", "/lacak", {"params": {"id": "<script>"}}),
        ("post", "/lapor", {"data": {"title": "x"}}),
    ],
)
def test_garbage_never_gets_a_500(
    api: httpx.Client, method: str, url: str, kwargs: dict[str, Any]
) -> None:
    response = getattr(api, method)(url, **kwargs)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])


def test_oversized_bodies_get_413(api: httpx.Client) -> None:
    huge = {"title": "Judul", "body": "x" * 1_100_000}
    assert api.post("/api/v1/reports", json=huge).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams
        for _ in range(12):
            yield b"x" * 100_000

    streamed = api.post(
        "/api/v1/reports", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert "body" in streamed.json()["detail"]
    big_upload = api.post(
        "/api/v1/attachments", files={"file": ("besar.jpg", b"\xff\xd8\xff" + b"0" * 11_000_000)}
    )
    assert big_upload.status_code == 413


def test_the_reporter_acts_with_the_access_code(api: httpx.Client, system: System) -> None:
    created = submit(api, title="Lampu jalan padam", body="Lampu jalan di gang 5 padam sebulan.")
    tid, code = created["tracking_id"], created["access_code"]
    visible(api, tid)
    url = f"/api/v1/reports/{tid}"
    assert api.post(f"{url}/amendments", json={"text": "Gang 5 RT 02"}).status_code == 401
    wrong = api.post(f"{url}/amendments", json={"text": "x"}, headers={"X-Access-Code": "AAAAAAAA"})
    assert wrong.status_code == 403 and "X-Access-Code" in wrong.json()["detail"]
    ok = api.post(
        f"{url}/amendments",
        json={"text": "Tepatnya di gang 5 RT 02."},
        headers={"X-Access-Code": code.lower()},
    )
    assert ok.status_code == 201 and ok.json()["events"] == ["ReportAmended"]
    # Not followed up yet: a reply is not possible, and says why.
    early = api.post(f"{url}/replies", json={"text": "Halo"}, headers={"X-Access-Code": code})
    assert early.status_code == 409
    act(system.data_dir, tid, VerifyReport())
    act(
        system.data_dir,
        tid,
        ForwardReport(
            agency_code="DPUPR-KOTA-KUPANG",
            agency_name="Dinas PUPR Kota Kupang",
            follow_up_due=date.today() + timedelta(days=7),
        ),
    )
    act(
        system.data_dir, tid, PostFollowUp(agency_code="DPUPR-KOTA-KUPANG", text="Kapan?"), "agency"
    )
    wait_for(lambda: api.get(url).json()["status"] == "followed_up", what="followed up")
    headers = {"X-Access-Code": code, "Idempotency-Key": "reply-1"}
    replied = api.post(f"{url}/replies", json={"text": "Setiap malam."}, headers=headers)
    repeated = api.post(f"{url}/replies", json={"text": "Setiap malam."}, headers=headers)
    assert replied.status_code == repeated.status_code == 201
    closed = api.post(
        f"{url}/close", json={"note": "Sudah menyala."}, headers={"X-Access-Code": code}
    )
    assert closed.json()["events"] == ["ReportClosed"]
    wait_for(lambda: api.get(url).json()["status"] == "closed", what="closed")
    bad_rating = api.post(f"{url}/rating", json={"rating": 6}, headers={"X-Access-Code": code})
    assert bad_rating.status_code == 422
    rated = api.post(
        f"{url}/rating", json={"rating": 5, "comment": "Cepat"}, headers={"X-Access-Code": code}
    )
    assert rated.json()["events"] == ["ReportRated"]
    wait_for(lambda: api.get(url).json()["rating"] == 5, what="rated")
    events = [e["event_type"] for e in api.get(f"{url}/timeline").json()]
    assert events.count("ReporterReplied") == 1
    assert events[-2:] == ["ReportClosed", "ReportRated"]


def test_a_low_rating_soon_after_closing_reopens(api: httpx.Client, system: System) -> None:
    created = submit(api, title="Sampah tidak diangkut", body="Sampah di TPS pasar tidak diangkut.")
    tid, code = created["tracking_id"], created["access_code"]
    visible(api, tid)
    act(system.data_dir, tid, VerifyReport())
    act(
        system.data_dir,
        tid,
        ForwardReport(
            agency_code="PEMKOT-KUPANG", agency_name="Pemkot", follow_up_due=date.today()
        ),
    )
    act(system.data_dir, tid, CloseReport(reason=CloseReason.BY_ADMIN))
    url = f"/api/v1/reports/{tid}"
    wait_for(lambda: api.get(url).json()["status"] == "closed", what="closed")
    rated = api.post(f"{url}/rating", json={"rating": 1}, headers={"X-Access-Code": code})
    assert rated.json()["events"] == ["ReportRated", "ReportReopened"]
    wait_for(lambda: api.get(url).json()["status"] == "forwarded", what="reopened")


def test_map_and_statistics(api: httpx.Client, system: System) -> None:
    created = submit(
        api,
        title="Jembatan putus",
        body="Jembatan gantung di desa putus diterjang banjir.",
        category="infrastruktur",
        location={"region_code": "1703", "lat": -3.33, "lon": 101.98},
    )
    tid = created["tracking_id"]
    visible(api, tid)
    collection = api.get("/api/v1/map.geojson", params={"bbox": "101,-4,103,-3"})
    assert collection.headers["content-type"].startswith("application/geo+json")
    features = collection.json()["features"]
    mine = next(f for f in features if f["properties"]["tracking_id"] == tid)
    assert mine["geometry"] == {"type": "Point", "coordinates": [101.98, -3.33]}
    assert set(mine["properties"]) >= {"tracking_id", "status", "category", "title"}
    assert "reporter" not in collection.text and "access_code" not in collection.text
    act(system.data_dir, tid, VerifyReport())
    act(
        system.data_dir,
        tid,
        ForwardReport(
            agency_code="PEMKAB-BENGKULU-UTARA",
            agency_name="Pemkab",
            follow_up_due=date.today() + timedelta(days=5),
        ),
    )
    act(
        system.data_dir, tid, PostFollowUp(agency_code="PEMKAB-BENGKULU-UTARA", text="OK"), "agency"
    )
    stats = wait_for(
        lambda: (
            (s := api.get("/api/v1/stats").json())["by_agency"].get("PEMKAB-BENGKULU-UTARA") and s
        ),
        what="stats by agency",
    )
    assert stats["by_province"]["17"] >= 1
    assert stats["by_category"]["infrastruktur"] >= 1
    assert stats["follow_up"]["on_time"] >= 1
    assert 0 < stats["follow_up"]["share_on_time"] <= 1
    assert sum(stats["by_status"].values()) == stats["public"]
