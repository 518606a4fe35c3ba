"""Intake's JSON API, in process (tests/harness.py): contracts of DESIGN §5, privacy (§6) and bad
input (4xx naming the field, never 500)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from shared.reports.commands import CloseReport, ForwardReport, PostFollowUp, VerifyReport
from shared.reports.events import CloseReason
from tests.driver import Driver
from tests.harness import InProcessSystem
from tests.intake_web.conftest import seen
from tests.intake_web.officers import act, publish

PLAIN = {"category": None}  # the driver's report without its category


async def test_categories_and_regions_for_the_forms(web: httpx.AsyncClient) -> None:
    categories = (await web.get("/api/v1/categories")).json()
    assert {"code", "name"} <= set(categories[0])
    assert "kesehatan" in {c["code"] for c in categories}
    provinces = (await web.get("/api/v1/regions")).json()
    assert {"code": "53", "level": "province"}.items() <= next(
        p for p in provinces if p["code"] == "53"
    ).items()
    cities = (await web.get("/api/v1/regions", params={"parent": "53"})).json()
    assert "5371" in {c["code"] for c in cities}
    assert (await web.get("/api/v1/regions", params={"parent": "x"})).status_code == 422


async def test_a_report_is_submitted_read_and_listed(
    web: httpx.AsyncClient, lapor: InProcessSystem
) -> None:
    response = await web.post(
        "/api/v1/reports",
        json={
            "title": "Puskesmas tutup di jam kerja",
            "body": "Puskesmas Oepoi tutup pada hari Senin pukul 10 pagi tanpa pemberitahuan.",
            "category": "kesehatan",
            "classification": "complaint",
            "location": {
                "region_code": "537103",
                "lat": -10.16,
                "lon": 123.61,
                "address": "Jl. Oepoi",
            },
            "event_date": "2026-03-02",
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "submitted"
    assert len(created["tracking_id"]) == 10 and len(created["access_code"]) == 8
    tid = created["tracking_id"]
    # Not published yet: anyone with the ID sees its status and dates, nothing it says.
    assert await seen(web, tid) == {
        "tracking_id": tid,
        "status": "submitted",
        "published": False,
        "submitted_at": (await seen(web, tid))["submitted_at"],
        "updated_at": (await seen(web, tid))["updated_at"],
        "reporter_identity_erased": False,
    }
    listed = (await web.get("/api/v1/reports", params={"q": "oepoi puskesmas"})).json()
    assert tid not in {r["tracking_id"] for r in listed}
    report = await seen(web, tid, created["access_code"])
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
    timeline = (await web.get(f"/api/v1/reports/{created['tracking_id']}/timeline")).json()
    assert [(e["event_type"], "occurred_at" in e) for e in timeline] == [("ReportSubmitted", True)]
    await publish(lapor, tid)
    assert (await seen(web, tid))["title"] == "Puskesmas tutup di jam kerja"
    listed = (
        await web.get("/api/v1/reports", params={"region": "53", "category": "kesehatan"})
    ).json()
    assert created["tracking_id"] in {r["tracking_id"] for r in listed}
    found = (await web.get("/api/v1/reports", params={"q": "oepoi puskesmas"})).json()
    assert created["tracking_id"] in {r["tracking_id"] for r in found}
    closed = await web.get("/api/v1/reports", params={"q": "oepoi", "status": "closed"})
    assert closed.json() == []


async def test_lists_page_with_a_cursor(
    drive: Driver, web: httpx.AsyncClient, lapor: InProcessSystem
) -> None:
    marker = uuid.uuid4().hex[:8]
    made = [
        await drive.submit(
            **PLAIN, title=f"Laporan halaman {n}", body=f"Kata kunci unik {marker} nomor {n}."
        )
        for n in range(5)
    ]
    for report in made:
        await publish(lapor, report.tracking_id)
    seen_ids: list[str] = []
    cursor: str | None = None
    while True:
        params = {"q": marker, "limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await web.get("/api/v1/reports", params=params)
        seen_ids += [r["tracking_id"] for r in response.json()]
        cursor = response.headers.get("X-Next-Cursor")
        if not cursor:
            break
    assert seen_ids == [m.tracking_id for m in reversed(made)]


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
async def test_search_input_is_never_a_server_error(
    drive: Driver, web: httpx.AsyncClient, q: str
) -> None:
    await drive.submit(**PLAIN)
    response = await web.get("/api/v1/reports", params={"q": q})
    assert response.status_code == 200, response.text
    assert isinstance(response.json(), list)


async def test_confidential_reports_stay_out_of_every_public_view(
    drive: Driver, web: httpx.AsyncClient, lapor: InProcessSystem
) -> None:
    public = await drive.submit(**PLAIN)  # something public to count beside it
    await publish(lapor, public.tracking_id)
    marker = "rahasia" + uuid.uuid4().hex[:6]
    before = (await web.get("/api/v1/stats")).json()
    secret = await drive.submit(
        title=f"Pungutan liar {marker}",
        body=f"Petugas meminta uang pelicin {marker} untuk mengurus akta kelahiran.",
        category="administrasi-kependudukan",
        location={"region_code": "3572", "lat": -8.1, "lon": 112.16},
        confidential=True,
        reporter={"name": "Budi Santoso", "phone": "+6281200000001"},
    )
    tid, code = secret.tracking_id, secret.access_code
    await publish(lapor, tid, agency="PEMKOT-BLITAR")
    # Not for the public, but for its reporter and the officers who handle it.
    assert (await web.get(f"/api/v1/reports/{tid}")).status_code == 404
    assert (await web.get(f"/api/v1/reports/{tid}/timeline")).status_code == 404
    wrong = await web.get(f"/api/v1/reports/{tid}", headers={"X-Access-Code": "WRONGCODE"})
    assert wrong.status_code == 404
    assert (await seen(web, tid, code))["confidential"]
    admin = {"Authorization": f"Bearer {drive.token('admin')}"}
    assert (await web.get(f"/api/v1/reports/{tid}", headers=admin)).status_code == 200
    other_agency = {"Authorization": f"Bearer {drive.token('agency', agency='DINKES-KOTA-KUPANG')}"}
    holder = {"Authorization": f"Bearer {drive.token('agency', agency='PEMKOT-BLITAR')}"}
    assert (await web.get(f"/api/v1/reports/{tid}", headers=holder)).status_code == 200
    assert (await web.get(f"/api/v1/reports/{tid}", headers=other_agency)).status_code == 404
    assert (await web.get("/api/v1/reports", params={"q": marker})).json() == []
    listed = (await web.get("/api/v1/reports", params={"limit": 200})).json()
    assert listed and tid not in {r["tracking_id"] for r in listed}
    assert tid not in (await web.get("/api/v1/map.geojson")).text
    boxed = await web.get("/api/v1/map.geojson", params={"bbox": "112,-9,113,-8"})
    assert tid not in boxed.text
    page = (await web.get("/laporan", params={"q": marker})).text
    assert tid not in page and 'id="no-results"' in page
    assert (await web.get(f"/laporan/{tid}")).status_code == 404
    after = (await web.get("/api/v1/stats")).json()
    assert after["confidential"] == before["confidential"] + 1
    assert after["total"] == before["total"] + 1
    assert after["public"] == before["public"]
    assert after["by_category"].get("administrasi-kependudukan", 0) == before["by_category"].get(
        "administrasi-kependudukan", 0
    )
    assert after["by_province"].get("35", 0) == before["by_province"].get("35", 0)


async def test_an_idempotency_key_makes_a_retry_return_the_same_report(
    web: httpx.AsyncClient,
) -> None:
    key = str(uuid.uuid4())
    body = {"title": "Banjir di jalan utama", "body": "Genangan setinggi lutut setiap hujan turun."}
    first = await web.post("/api/v1/reports", json=body, headers={"Idempotency-Key": key})
    again = await web.post("/api/v1/reports", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    timeline = (await web.get(f"/api/v1/reports/{first.json()['tracking_id']}/timeline")).json()
    assert len(timeline) == 1
    other = await web.post(
        "/api/v1/reports", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    assert other.json()["tracking_id"] != first.json()["tracking_id"]


async def test_an_idempotency_key_sent_again_with_other_content_is_refused_naming_it(
    web: httpx.AsyncClient,
) -> None:
    """An integrator whose client reuses a key for another report hears so, instead of getting
    the first report's answer (the second report silently dropped) or a second report under a
    key that then names two."""
    key = str(uuid.uuid4())
    body = {"title": "Banjir di jalan utama", "body": "Genangan setinggi lutut setiap hujan turun."}
    first = await web.post("/api/v1/reports", json=body, headers={"Idempotency-Key": key})
    other = {**body, "body": "Lampu jalan di depan pasar mati sejak sepekan."}
    refused = await web.post("/api/v1/reports", json=other, headers={"Idempotency-Key": key})

    assert refused.status_code == 422, refused.text
    (error,) = refused.json()["detail"]
    assert error["field"] == "Idempotency-Key"
    assert error["loc"] == ["header", "Idempotency-Key"]
    assert error["msg"].startswith("sudah dipakai") and "/ already used" in error["msg"]
    assert "access_code" not in refused.text and first.json()["access_code"] not in refused.text
    tracking_id = first.json()["tracking_id"]
    report = (
        await web.get(
            f"/api/v1/reports/{tracking_id}",
            headers={"X-Access-Code": first.json()["access_code"]},
        )
    ).json()
    assert report["body"] == body["body"]  # the first report is as it was sent
    assert len((await web.get(f"/api/v1/reports/{tracking_id}/timeline")).json()) == 1
    again = await web.post("/api/v1/reports", json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 201 and again.json() == first.json()  # a true retry still works


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
        # a day that has not come yet, or a typo of centuries: it was accepted and shown
        (
            {
                "title": "Judul",
                "body": "cukup panjang isinya",
                "event_date": (date.today() + timedelta(days=3)).isoformat(),
            },
            "event_date",
        ),
        (
            {"title": "Judul", "body": "cukup panjang isinya", "event_date": "9999-12-31"},
            "event_date",
        ),
        (
            {"title": "Judul", "body": "cukup panjang isinya", "event_date": "0001-01-01"},
            "event_date",
        ),
        ({"title": "Judul", "body": "cukup panjang isinya", "surprise": 1}, "surprise"),
        ({"title": "Judul", "body": "cukup panjang isinya", "category": "tidak-ada"}, "category"),
        (
            {
                "title": "Judul",
                "body": "cukup panjang isinya",
                "attachments": [{"sha256": "0" * 64, "upload_token": "1" * 64}],
            },
            "attachments",
        ),
    ],
)
async def test_bad_input_is_a_4xx_naming_the_field(
    web: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await web.post("/api/v1/reports", json=body)
    assert response.status_code in (400, 422), response.text
    detail = response.json()["detail"]
    assert any(d.get("field") == field for d in detail), detail
    # Said in Bahasa Indonesia, then English (pydantic's and the rules' words were English only).
    for problem in detail:
        said_id, _, said_en = problem["msg"].partition(" / ")
        assert said_id and said_en, problem
        assert not said_id.startswith(("Field", "String", "Input", "Value", "Extra")), problem


async def test_a_bound_or_a_malformed_query_is_said_in_indonesian_with_its_limit(
    web: httpx.AsyncClient,
) -> None:
    """A list asked with limit=100000 or a map with a broken bbox was refused in English only;
    the Indonesian half named no limit ('isian tidak valid')."""
    too_many = await web.get("/api/v1/reports", params={"limit": "100000"})
    (problem,) = too_many.json()["detail"]
    assert (too_many.status_code, problem["field"]) == (422, "limit")
    assert problem["msg"] == "paling besar 200 / Input should be less than or equal to 200"
    broken = await web.get("/api/v1/map.geojson", params={"bbox": "nan,0,1,1"})
    (problem,) = broken.json()["detail"]
    assert (broken.status_code, problem["field"]) == (422, "bbox")
    assert problem["msg"].startswith("bbox harus berupa min_lon,min_lat,max_lon,max_lat")


async def test_a_body_nested_too_deeply_is_named_as_the_body_in_the_callers_language(
    web: httpx.AsyncClient,
) -> None:
    """A JSON body of arrays nested 100,000 deep was answered 400 "There was an error parsing
    the body": FastAPI's English sentence, naming no field. It now names the body, in
    Indonesian unless the caller asks for English (Accept-Language or ?lang=)."""
    deep = b'{"title": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    json_body = {"content-type": "application/json"}
    said = {}
    for language in ("id", "en"):
        response = await web.post(
            "/api/v1/reports", content=deep, headers=json_body | {"accept-language": language}
        )
        assert response.status_code == 400, response.text
        (detail,) = response.json()["detail"]
        assert detail["field"] == "body" and detail["loc"] == ["body"]
        said[language] = detail["msg"]
    assert "Isi permintaan" in said["id"] and "request body" in said["en"]
    assert "There was an error" not in said["id"]


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b'{"title": "Jalan"'])
async def test_a_body_that_is_no_json_is_named_as_the_body(
    web: httpx.AsyncClient, content: bytes
) -> None:
    """It was named as field "0" (the position where parsing stopped), which names nothing."""
    response = await web.post(
        "/api/v1/reports", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["detail"]] == ["body"]


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
async def test_garbage_never_gets_a_500(
    web: httpx.AsyncClient, method: str, url: str, kwargs: dict[str, Any]
) -> None:
    response = await getattr(web, method)(url, **kwargs)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])


async def test_oversized_bodies_get_413(web: httpx.AsyncClient) -> None:
    huge = {"title": "Judul", "body": "x" * 1_100_000}
    assert (await web.post("/api/v1/reports", json=huge)).status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while it streams
        for _ in range(12):
            yield b"x" * 100_000

    streamed = await web.post(
        "/api/v1/reports", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert "body" in streamed.json()["detail"]
    # The multipart limit holds the 5 files of 5 MB the form promises, and not much more.
    big_upload = await web.post(
        "/api/v1/attachments", files={"file": ("besar.jpg", b"\xff\xd8\xff" + b"0" * 28_000_000)}
    )
    assert big_upload.status_code == 413


async def test_the_reporter_acts_with_the_access_code(
    drive: Driver, web: httpx.AsyncClient, lapor: InProcessSystem
) -> None:
    created = await drive.submit(
        **PLAIN, title="Lampu jalan padam", body="Lampu jalan di gang 5 padam sebulan."
    )
    tid, code = created.tracking_id, created.access_code
    url = f"/api/v1/reports/{tid}"
    # Refused in Bahasa Indonesia, then English (they were English only), naming the header.
    none = await web.post(f"{url}/amendments", json={"text": "Gang 5 RT 02"})
    assert none.status_code == 401
    assert none.json()["detail"] == (
        "X-Access-Code: kode akses laporan wajib dikirim / the report's access code is required"
    )
    wrong = await web.post(
        f"{url}/amendments", json={"text": "x"}, headers={"X-Access-Code": "AAAAAAAA"}
    )
    assert wrong.status_code == 403
    assert wrong.json()["detail"] == (
        "X-Access-Code: kode akses salah untuk laporan ini / wrong access code for this report"
    )
    ok = await web.post(
        f"{url}/amendments",
        json={"text": "Tepatnya di gang 5 RT 02."},
        headers={"X-Access-Code": code.lower()},
    )
    assert ok.status_code == 201 and ok.json()["events"] == ["ReportAmended"]
    # Not followed up yet: a reply is not possible, and says why.
    early = await web.post(f"{url}/replies", json={"text": "Halo"}, headers={"X-Access-Code": code})
    assert early.status_code == 409
    await act(lapor, tid, VerifyReport())
    await act(
        lapor,
        tid,
        ForwardReport(
            agency_code="DPUPR-KOTA-KUPANG",
            agency_name="Dinas PUPR Kota Kupang",
            follow_up_due=date.today() + timedelta(days=7),
        ),
    )
    await act(lapor, tid, PostFollowUp(agency_code="DPUPR-KOTA-KUPANG", text="Kapan?"), "agency")
    assert (await seen(web, tid))["status"] == "followed_up"
    headers = {"X-Access-Code": code, "Idempotency-Key": "reply-1"}
    replied = await web.post(f"{url}/replies", json={"text": "Setiap malam."}, headers=headers)
    repeated = await web.post(f"{url}/replies", json={"text": "Setiap malam."}, headers=headers)
    assert replied.status_code == repeated.status_code == 201
    # The key sent again with another text is another request: refused by name, not answered
    # with the first reply's events while the second reply is dropped unseen.
    reused = await web.post(f"{url}/replies", json={"text": "Juga pagi."}, headers=headers)
    assert reused.status_code == 422, reused.text
    assert reused.json()["detail"][0]["field"] == "Idempotency-Key"
    closed = await web.post(
        f"{url}/close", json={"note": "Sudah menyala."}, headers={"X-Access-Code": code}
    )
    assert closed.json()["events"] == ["ReportClosed"]
    assert (await seen(web, tid))["status"] == "closed"
    bad_rating = await web.post(
        f"{url}/rating", json={"rating": 6}, headers={"X-Access-Code": code}
    )
    assert bad_rating.status_code == 422
    rated = await web.post(
        f"{url}/rating", json={"rating": 5, "comment": "Cepat"}, headers={"X-Access-Code": code}
    )
    assert rated.json()["events"] == ["ReportRated"]
    assert (await seen(web, tid))["rating"] == 5
    events = [e["event_type"] for e in (await web.get(f"{url}/timeline")).json()]
    assert events.count("ReporterReplied") == 1
    assert events[-2:] == ["ReportClosed", "ReportRated"]


async def test_a_low_rating_soon_after_closing_reopens(
    drive: Driver, web: httpx.AsyncClient, lapor: InProcessSystem
) -> None:
    created = await drive.submit(
        **PLAIN, title="Sampah tidak diangkut", body="Sampah di TPS pasar tidak diangkut."
    )
    tid, code = created.tracking_id, created.access_code
    await act(lapor, tid, VerifyReport())
    await act(
        lapor,
        tid,
        ForwardReport(
            agency_code="PEMKOT-KUPANG", agency_name="Pemkot", follow_up_due=date.today()
        ),
    )
    await act(lapor, tid, CloseReport(reason=CloseReason.BY_ADMIN))
    url = f"/api/v1/reports/{tid}"
    assert (await seen(web, tid))["status"] == "closed"
    rated = await web.post(f"{url}/rating", json={"rating": 1}, headers={"X-Access-Code": code})
    assert rated.json()["events"] == ["ReportRated", "ReportReopened"]
    assert (await seen(web, tid))["status"] == "forwarded"


async def test_map_and_statistics(
    drive: Driver, web: httpx.AsyncClient, lapor: InProcessSystem
) -> None:
    created = await drive.submit(
        title="Jembatan putus",
        body="Jembatan gantung di desa putus diterjang banjir.",
        category="infrastruktur",
        location={"region_code": "1703", "lat": -3.33, "lon": 101.98},
    )
    tid = created.tracking_id
    bbox = {"bbox": "101,-4,103,-3"}
    unpublished = (await web.get("/api/v1/map.geojson", params=bbox)).json()["features"]
    assert tid not in {f["properties"]["tracking_id"] for f in unpublished}
    await publish(lapor, tid, agency="PEMKAB-BENGKULU-UTARA")
    collection = await web.get("/api/v1/map.geojson", params=bbox)
    assert collection.headers["content-type"].startswith("application/geo+json")
    features = collection.json()["features"]
    mine = next(f for f in features if f["properties"]["tracking_id"] == tid)
    assert mine["geometry"] == {"type": "Point", "coordinates": [101.98, -3.33]}
    assert set(mine["properties"]) >= {"tracking_id", "status", "category", "title"}
    assert "reporter" not in collection.text and "access_code" not in collection.text
    await act(lapor, tid, PostFollowUp(agency_code="PEMKAB-BENGKULU-UTARA", text="OK"), "agency")
    stats = (await web.get("/api/v1/stats")).json()
    assert stats["by_agency"].get("PEMKAB-BENGKULU-UTARA")
    assert stats["by_province"]["17"] >= 1
    assert stats["by_category"]["infrastruktur"] >= 1
    assert stats["follow_up"]["on_time"] >= 1
    assert 0 < stats["follow_up"]["share_on_time"] <= 1
    assert sum(stats["by_status"].values()) == stats["public"]


async def test_control_and_direction_override_characters_are_not_kept_in_a_report(
    web: httpx.AsyncClient,
) -> None:
    """A title with a right-to-left override read backwards on every page that showed it, and NUL
    or other control characters went into the store as sent: what a reporter cannot see they
    typed is left out, and a title of nothing else is refused naming `title`."""
    response = await web.post(
        "/api/v1/reports",
        json={
            "title": "Jalan \u202erusak\u202c di depan\x00 pasar",
            "body": "Lubang besar\x07 di tengah jalan,\nsudah dua motor jatuh\u2066 minggu ini."
            "\x7f",
            "location": {"region_code": "5371", "address": "Jl.\x1b Soeharto"},
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    report = await seen(web, created["tracking_id"], created["access_code"])
    assert report["title"] == "Jalan rusak di depan pasar"
    assert report["body"] == "Lubang besar di tengah jalan,\nsudah dua motor jatuh minggu ini."
    assert report["location"]["address"] == "Jl. Soeharto"

    invisible = await web.post(
        "/api/v1/reports",
        json={"title": "\u202e\x00\x01\u202c", "body": "Lubang besar di tengah jalan raya."},
    )
    assert invisible.status_code == 422
    assert [d["field"] for d in invisible.json()["detail"]] == ["title"]
