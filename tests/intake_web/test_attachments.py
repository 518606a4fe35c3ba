"""Attachments: content-addressed, only safe types, photos without their location, never a path
from the client, and only the reporter (or an officer) downloads them. In process."""

from __future__ import annotations

import hashlib
import io

import httpx
from PIL import Image

from shared.reports.commands import RequestCompletion
from tests.driver import Driver
from tests.harness import InProcessSystem
from tests.intake_web.conftest import jpeg_with_gps, pdf_document, seen
from tests.intake_web.officers import act, publish


async def test_a_photo_loses_its_gps_position_and_is_stored_by_its_hash(
    web: httpx.AsyncClient, lapor: InProcessSystem
) -> None:
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # it has a GPS position
    response = await web.post(
        "/api/v1/attachments",
        files={"file": ("../../../etc/passwd", original, "text/html")},
    )
    assert response.status_code == 201, response.text
    stored = response.json()
    assert stored["media_type"] == "image/jpeg"  # by its bytes, not the client's word
    assert stored["name"] == "passwd"  # a display name only, never a path
    path = lapor.data_dir / "attachments" / stored["sha256"][:2] / stored["sha256"]
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == stored["sha256"] and len(data) == stored["size"]
    cleaned = Image.open(io.BytesIO(data))
    assert not cleaned.getexif().get_ifd(0x8825)
    assert len(cleaned.getexif()) == 0 and b"Exif" not in data and b"Kamera" not in data
    assert cleaned.size == (64, 48)
    assert not (lapor.data_dir / "etc").exists()
    assert not any(p.name == "passwd" for p in lapor.data_dir.rglob("*"))


async def test_a_report_names_its_files_and_only_the_reporter_downloads_them(
    drive: Driver, web: httpx.AsyncClient, lapor: InProcessSystem
) -> None:
    upload = await web.post("/api/v1/attachments", files={"file": ("lubang.jpg", jpeg_with_gps())})
    photo = upload.json()
    pdf_bytes = pdf_document()
    pdf = (await web.post("/api/v1/attachments", files={"file": ("surat.pdf", pdf_bytes)})).json()
    created = await drive.submit(
        category=None,
        title="Jalan berlubang dengan foto",
        body="Foto lubang di jalan terlampir, juga surat dari RT.",
        attachments=[
            {
                "sha256": photo["sha256"],
                "name": "lubang KTP Budi.jpg",
                "upload_token": photo["upload_token"],
            },
            {"sha256": pdf["sha256"], "upload_token": pdf["upload_token"]},
        ],
    )
    tid, code = created.tracking_id, created.access_code
    assert "attachment_count" not in await seen(web, tid)  # unpublished: status and dates only
    await publish(lapor, tid)
    public = await seen(web, tid)
    assert public["attachment_count"] == 2 and "attachments" not in public
    assert "Budi" not in (await web.get(f"/api/v1/reports/{tid}/timeline")).text
    mine = await seen(web, tid, code)
    # The name is what the report says (a file stored by content has no name of its own).
    assert {a["name"] for a in mine["attachments"]} == {"lubang KTP Budi.jpg", "lampiran.pdf"}
    url = f"/api/v1/reports/{tid}/attachments/{photo['sha256']}"
    assert (await web.get(url)).status_code == 403
    got = await web.get(url, headers={"X-Access-Code": code})
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert hashlib.sha256(got.content).hexdigest() == photo["sha256"]
    doc = await web.get(
        f"/api/v1/reports/{tid}/attachments/{pdf['sha256']}", headers={"X-Access-Code": code}
    )
    assert doc.headers["content-disposition"].startswith("attachment")
    # A file of another report, or a made-up hash, is not served through this report.
    strange = await web.post(
        "/api/v1/attachments", files={"file": ("x.pdf", pdf_document("Surat lain"))}
    )
    other = f"/api/v1/reports/{tid}/attachments/{strange.json()['sha256']}"
    assert (await web.get(other, headers={"X-Access-Code": code})).status_code == 404
    traversal = f"/api/v1/reports/{tid}/attachments/..%2F..%2Fevents.db"
    assert (await web.get(traversal, headers={"X-Access-Code": code})).status_code in (404, 422)


async def test_a_pdf_loses_the_metadata_that_names_who_wrote_it(
    drive: Driver, web: httpx.AsyncClient, lapor: InProcessSystem
) -> None:
    """A letter scanned or typed at the reporter's office carries their name as its author (and
    their office as its creator), in an earlier revision of the file too. Photos lost their EXIF
    already; PDFs were stored as sent, so an anonymous report's letter named its reporter to
    every officer who opened it. The stored file carries none of it, and is still a PDF."""
    letter = pdf_document("Jalan rusak di RT 05", author="Budi Santoso")
    assert letter.count(b"Budi Santoso") >= 3
    upload = await web.post("/api/v1/attachments", files={"file": ("surat.pdf", letter)})
    assert upload.status_code == 201, upload.text
    stored = upload.json()
    again = await web.post("/api/v1/attachments", files={"file": ("surat.pdf", letter)})
    assert again.json()["sha256"] == stored["sha256"]  # the same upload, the same file
    created = await drive.submit(
        category=None,
        title="Surat warga tentang jalan rusak",
        body="Surat dari warga RT 05 tentang jalan rusak terlampir.",
        anonymous=True,
        attachments=[{"sha256": stored["sha256"], "upload_token": stored["upload_token"]}],
    )
    got = await web.get(
        f"/api/v1/reports/{created.tracking_id}/attachments/{stored['sha256']}",
        headers={"X-Access-Code": created.access_code},
    )
    assert got.status_code == 200 and got.content.startswith(b"%PDF-")
    assert b"Budi" not in got.content and b"Kantor" not in got.content
    assert b"Jalan rusak di RT 05" in got.content  # the page itself is as sent
    import pikepdf

    with pikepdf.open(io.BytesIO(got.content)) as pdf:
        assert len(pdf.pages) == 1 and "/Author" not in pdf.docinfo
        assert "/Metadata" not in pdf.Root


async def test_a_pdf_locked_with_a_password_is_refused_naming_the_field(
    web: httpx.AsyncClient,
) -> None:
    """Nobody at the institution could open it: the reporter hears so at once."""
    import pikepdf

    locked = io.BytesIO()
    with pikepdf.open(io.BytesIO(pdf_document())) as pdf:
        pdf.save(locked, encryption=pikepdf.Encryption(owner="o", user="rahasia"))
    refused = await web.post(
        "/api/v1/attachments", files={"file": ("surat.pdf", locked.getvalue())}
    )
    assert refused.status_code == 400
    assert refused.json()["detail"][0]["field"] == "attachments"
    assert "password" in refused.text


async def test_files_we_do_not_take_are_refused_with_the_field_named(
    web: httpx.AsyncClient,
) -> None:
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, "GIF")
    for name, data in (
        ("a.gif", gif.getvalue()),
        ("a.html", b"<html><script>alert(1)</script></html>"),
        ("a.jpg", b"\xff\xd8\xff\xe0 not really a jpeg"),
        ("a.png", b"\x89PNG\r\n\x1a\n broken"),
        ("a.pdf", b"%PDF-1.4 cut off"),
        ("empty.jpg", b""),
    ):
        response = await web.post("/api/v1/attachments", files={"file": (name, data)})
        assert response.status_code == 400, (name, response.text)
        assert response.json()["detail"][0]["field"] == "attachments"
    too_big = await web.post(
        "/api/v1/attachments", files={"file": ("b.pdf", b"%PDF-" + b"0" * 5_100_000)}
    )
    assert too_big.status_code == 413


async def test_amendments_carry_files_too(drive: Driver, web: httpx.AsyncClient) -> None:
    created = await drive.submit(
        category=None, title="Drainase tersumbat", body="Saluran air tersumbat sampah plastik."
    )
    tid, code = created.tracking_id, created.access_code
    png = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 255, 128)).save(png, "PNG")
    uploaded = (
        await web.post("/api/v1/attachments", files={"file": ("saluran.png", png.getvalue())})
    ).json()
    assert uploaded["media_type"] == "image/png"
    amended = await web.post(
        f"/api/v1/reports/{tid}/amendments",
        json={
            "text": "Foto tambahan.",
            "attachments": [
                {"sha256": uploaded["sha256"], "upload_token": uploaded["upload_token"]}
            ],
        },
        headers={"X-Access-Code": code},
    )
    assert amended.status_code == 201
    assert (await seen(web, tid, code))["attachment_count"] == 1


def ref(uploaded: dict[str, str], name: str) -> dict[str, str]:
    """How a client names an uploaded file in a report: its sha256, token and a name."""
    return {"sha256": uploaded["sha256"], "upload_token": uploaded["upload_token"], "name": name}


async def test_an_anonymous_reporters_file_names_do_not_name_them(
    drive: Driver, web: httpx.AsyncClient, lapor: InProcessSystem
) -> None:
    """Phones and offices name files after people ("KTP Budi Santoso.jpg"): an anonymous
    report's files, at submission and with a completion later, are named "lampiran-N" in its
    history, so no officer reads the reporter's name from them; a named report keeps its names
    (test_a_report_names_its_files_and_only_the_reporter_downloads_them)."""
    photo = (
        await web.post(
            "/api/v1/attachments", files={"file": ("KTP Budi Santoso.jpg", jpeg_with_gps())}
        )
    ).json()
    created = await drive.submit(
        category=None,
        title="Pungutan liar di kantor kelurahan",
        body="Petugas meminta uang untuk surat pengantar, bukti foto terlampir.",
        anonymous=True,
        attachments=[ref(photo, "KTP Budi Santoso.jpg")],
    )
    tid, code = created.tracking_id, created.access_code
    await act(lapor, tid, RequestCompletion(note="Lampirkan kuitansi."))
    letter = (
        await web.post("/api/v1/attachments", files={"file": ("kuitansi-budi.pdf", pdf_document())})
    ).json()
    amended = await web.post(
        f"/api/v1/reports/{tid}/amendments",
        json={
            "text": "Kuitansi terlampir.",
            "attachments": [ref(letter, "kuitansi-budi.pdf")],
        },
        headers={"X-Access-Code": code},
    )
    assert amended.status_code == 201, amended.text

    admin = drive.client("intake", drive.admin())
    officer_view = await admin.get(f"/api/v1/reports/{tid}")
    assert officer_view.status_code == 200, officer_view.text
    assert "Budi" not in officer_view.text and "budi" not in officer_view.text
    names = {a["name"] for a in (await seen(web, tid, code))["attachments"]}
    assert names == {"lampiran-1.jpg", "lampiran-1.pdf"}
    for event in await lapor.store.read(f"report-{tid}"):
        assert "Budi" not in str(event.data) and "budi" not in str(event.data)
