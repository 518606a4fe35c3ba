"""Issue 17 on the citizen's pages, in process: errors in the reader's language naming the field
as the form labels it and keeping what was typed; HTML error pages on HTML routes; Indonesian ways
of writing numbers; photos as the form promises; the report page's times in its own zone."""

from __future__ import annotations

import io
import json
import re
from datetime import date, timedelta
from pathlib import Path

import httpx
from PIL import Image

from shared.calendar import WorkingDayCalendar
from shared.i18n import catalog
from shared.reports.commands import ForwardReport, VerifyReport
from shared.reports.tracking import new_tracking_id
from tests.harness import InProcessSystem, in_process
from tests.intake_web.officers import act
from tests.intake_web.test_web_forms import hidden, token

KEYS = set(catalog("id"))


def no_raw_keys(page: str) -> None:
    """Every text on a page came out of the catalogs: no key shows as itself."""
    visible = re.sub(r"<[^>]+>", " ", page)
    leaked = {word for word in re.findall(r"[a-z_]+(?:\.[a-zA-Z_]+)+", visible) if word in KEYS}
    assert not leaked, leaked


async def form_post(web: httpx.AsyncClient, fields: dict[str, str], **kw: object) -> httpx.Response:
    form = await web.get("/lapor", params=kw)  # type: ignore[arg-type]
    data = {"csrf_token": token(form), "submission_key": hidden(form, "submission_key")}
    return await web.post("/lapor", data=data | fields, params=kw)  # type: ignore[arg-type]


async def test_a_form_error_is_indonesian_names_the_field_and_keeps_what_was_typed(
    web: httpx.AsyncClient,
) -> None:
    typed = {
        "title": "Jalan rusak di depan sekolah",
        "body": "pendek",
        "lat": "lintang",
        "phone": "nomor saya",
        "email": "bukan-email",
    }
    page = await form_post(web, typed)
    assert page.status_code == 422
    assert "Isi laporan terlalu pendek: paling sedikit 10 huruf." in page.text
    assert "Lintang harus berupa angka" in page.text
    assert "Nomor telepon/HP tidak valid" in page.text
    assert "E-mail tidak valid" in page.text
    for framework_words in ("String should", "Input should", "please write", "value is not"):
        assert framework_words not in page.text
    assert 'value="Jalan rusak di depan sekolah"' in page.text and ">pendek</textarea>" in page.text
    assert 'value="nomor saya"' in page.text and 'value="bukan-email"' in page.text
    no_raw_keys(page.text)

    english = await form_post(web, typed, lang="en")
    assert "What happened is too short: at least 10 characters." in english.text
    assert "Latitude must be a number" in english.text


async def test_decimal_commas_and_dotted_phone_numbers_are_taken(
    web: httpx.AsyncClient, lapor: InProcessSystem
) -> None:
    page = await form_post(
        web,
        {
            "title": "Lampu jalan mati",
            "body": "Lampu jalan di Jalan Timor Raya mati sejak seminggu.",
            "province": "53",
            "regency": "5371",
            "lat": "-10,1636",
            "lon": "123,6070",
            "phone": "0812.3456.7890",
        },
    )
    assert page.status_code == 200, page.text
    tracking_id = re.search(r'id="tracking-id">([^<]+)<', page.text)[1]  # type: ignore[index]
    [submitted] = [e for e in await lapor.store.read(f"report-{tracking_id}")]
    location = submitted.data["location"]
    assert (location["lat"], location["lon"]) == (-10.1636, 123.607)


async def test_html_routes_answer_errors_with_a_page_in_the_sites_style(
    web: httpx.AsyncClient,
) -> None:
    missing = await web.get("/halaman-yang-tidak-ada", headers={"accept": "text/html"})
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    assert "Halaman tidak ditemukan" in missing.text and '<html lang="id">' in missing.text
    assert "Page not found" in (await web.get("/tidak-ada?lang=en")).text
    bad_query = await web.get("/laporan", params={"cursor": "minus-satu"})
    assert bad_query.status_code == 422 and "text/html" in bad_query.headers["content-type"]
    assert '{"detail"' not in bad_query.text
    # A body over the limit: the page says what the limit is, in Indonesian.
    form = await web.get("/lapor")
    huge = b"x" * 28_000_000
    too_big = await web.post(
        "/lapor",
        data={"csrf_token": token(form), "title": "Foto besar"},
        files={"attachments": ("besar.jpg", huge, "image/jpeg")},
        headers={"accept": "text/html"},
    )
    assert too_big.status_code == 413 and "text/html" in too_big.headers["content-type"]
    assert "Kiriman terlalu besar" in too_big.text and "27 MB" in too_big.text
    # The API keeps its JSON.
    api = await web.get("/api/v1/reports/ABCDEFGHJK")
    assert api.headers["content-type"].startswith("application/json")


def photo(width: int, height: int, quality: int) -> bytes:
    out = io.BytesIO()
    noise = Image.effect_noise((width, height), 80).convert("RGB")
    noise.save(out, "JPEG", quality=quality)
    return out.getvalue()


async def test_three_phone_photos_and_a_bigger_one_are_taken_and_scaled(
    web: httpx.AsyncClient, lapor: InProcessSystem
) -> None:
    """Issue 17: three 3.8 MB photos gave a raw English JSON page; a 6 MB photo was refused."""
    phone_photos = [photo(2600, 1950, 90), photo(2600, 1950, 89), photo(2600, 1950, 88)]
    big = photo(3264, 2448, 90)
    assert all(len(p) > 3_500_000 for p in phone_photos) and len(big) > 6_000_000
    form = await web.get("/lapor")
    assert "Paling banyak 5 berkas" in form.text and "diperkecil otomatis" in form.text
    files = [
        ("attachments", (f"foto-{i}.jpg", data, "image/jpeg"))
        for i, data in enumerate([*phone_photos, big])
    ]
    page = await web.post(
        "/lapor",
        data={
            "csrf_token": token(form),
            "submission_key": hidden(form, "submission_key"),
            "title": "Banjir di jalan",
            "body": "Air setinggi lutut di Jalan Sudirman sejak pagi, empat foto terlampir.",
        },
        files=files,
    )
    assert page.status_code == 200, page.text[:2000]
    tracking_id = re.search(r'id="tracking-id">([^<]+)<', page.text)[1]  # type: ignore[index]
    [submitted] = await lapor.store.read(f"report-{tracking_id}")
    stored = submitted.data["attachments"]
    assert len(stored) == 4
    for file in stored:
        sha = file["sha256"]
        kept = (lapor.data_dir / "attachments" / sha[:2] / sha).read_bytes()
        assert max(Image.open(io.BytesIO(kept)).size) == 2048 and len(kept) <= 5_000_000


async def test_a_kupang_report_page_says_its_times_in_wita(
    web: httpx.AsyncClient, lapor: InProcessSystem
) -> None:
    created = await web.post(
        "/api/v1/reports",
        json={
            "title": "Air PDAM keruh",
            "body": "Air PDAM di Kelurahan Oebobo keruh dan berbau sejak tiga hari.",
            "location": {"region_code": "5371"},
            "event_date": "2026-03-01",
        },
    )
    tracking_id = created.json()["tracking_id"]
    await act(lapor, tracking_id, VerifyReport())
    forward = ForwardReport(
        agency_code="DINKES-KOTA-KUPANG",
        agency_name="Dinas Kesehatan Kota Kupang",
        follow_up_due=date(2026, 3, 9),
    )
    await act(lapor, tracking_id, forward)
    page = (await web.get(f"/laporan/{tracking_id}")).text
    assert "WITA" in page and " UTC" not in page
    assert "1 Maret 2026" in page
    assert re.search(r'datetime="[0-9T:.\-]+\+08:00"', page)
    no_raw_keys(page)
    english = (await web.get(f"/laporan/{tracking_id}", params={"lang": "en"})).text
    assert "1 March 2026" in english and "WITA" in english


async def test_a_confidential_reports_link_leads_to_its_sign_in(web: httpx.AsyncClient) -> None:
    tracking_id = new_tracking_id()  # the same page whether the report exists or not
    page = await web.get(f"/laporan/{tracking_id}/masuk")
    assert page.status_code == 200 and 'id="sign-in-lead"' in page.text
    assert 'name="access_code"' in page.text and f'value="{tracking_id}"' in page.text
    secret = await web.post(
        "/api/v1/reports",
        json={
            "title": "Pungli di kantor camat Zq9",
            "body": "Petugas meminta uang untuk surat pindah, rahasia.",
            "confidential": True,
        },
    )
    sign_in = await web.get(f"/laporan/{secret.json()['tracking_id']}/masuk")
    assert sign_in.status_code == 200 and "Zq9" not in sign_in.text  # nothing of the report


async def test_the_home_page_states_the_limits_the_policy_sets(tmp_path: Path) -> None:
    """The home page said "Admin memeriksa dalam 3 hari kerja" and "Instansi menindaklanjuti
    dalam 5 hari kerja" whatever the national SLA policy; under one that gives the desk 4
    working days and institutions 7 it promised deadlines the system does not keep."""
    policy = tmp_path / "sla-policy.json"
    policy.write_text(json.dumps({"defaults": {"verification": 4, "follow_up": 7}}))
    env = {"LAPOR_SLA_POLICY_FILE": str(policy)}
    async with (
        in_process(tmp_path / "lapor", ("intake",), env=env) as lapor,
        lapor.client("intake") as web,
    ):
        home = (await web.get("/")).text
        english = (await web.get("/?lang=en")).text
    assert "Admin memeriksa dalam 4 hari kerja" in home
    assert "Instansi menindaklanjuti dalam 7 hari kerja" in home
    assert "3 hari kerja" not in home and "5 hari kerja" not in home
    assert "within 4 working days" in english and "within 7 working days" in english


async def test_the_open_escalation_states_no_count_of_days_the_policy_may_not_keep(
    tmp_path: Path,
) -> None:
    """The report page, once escalation was open, said "Sudah 60 hari kerja tanpa tanggapan
    akhir dari instansi (atau 5 hari kerja sejak laporan dibuka kembali)" whatever the SLA
    policy; under one opening escalation after 40 working days it said so on day 41. The page
    now says the institution's time for a final answer has passed, with no count of days."""
    policy = tmp_path / "sla-policy.json"
    policy.write_text(json.dumps({"defaults": {"escalation": 40}}))
    env = {"LAPOR_SLA_POLICY_FILE": str(policy)}
    async with (
        in_process(tmp_path / "lapor", ("intake",), env=env) as lapor,
        lapor.client("intake") as web,
    ):
        lapor.set_clock("2026-03-02T09:00:00+08:00")  # Monday, Kupang (WITA)
        sent = await web.post(
            "/api/v1/reports",
            json={
                "title": "Puskesmas tutup siang hari",
                "body": "Puskesmas Sikumana tutup pukul 12, warga yang datang disuruh pulang.",
                "category": "kesehatan",
                "location": {"region_code": "5371"},
            },
        )
        assert sent.status_code == 201, sent.text
        tid, code = sent.json()["tracking_id"], sent.json()["access_code"]
        opens = WorkingDayCalendar.default().add_working_days(date(2026, 3, 2), 40, "5371")
        lapor.set_clock(f"{(opens + timedelta(days=1)).isoformat()}T08:00:00+08:00")
        page = (await web.get(f"/laporan/{tid}")).text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf
        signed = await web.post(
            f"/laporan/{tid}/masuk", data={"csrf_token": csrf[1], "access_code": code}
        )
        assert signed.status_code == 303, signed.text
        indonesian = (await web.get(f"/laporan/{tid}")).text
        english = (await web.get(f"/laporan/{tid}?lang=en")).text
    assert f'action="/laporan/{tid}/eskalasi"' in indonesian  # open, on day 41
    assert "Batas waktu tanggapan akhir dari instansi sudah lewat" in indonesian
    assert "60 hari kerja" not in indonesian and "5 hari kerja" not in indonesian
    assert "time for a final answer has passed" in english
    assert "60 working days" not in english and "5 working days" not in english
