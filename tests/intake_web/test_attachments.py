"""Attachments: content-addressed, only safe types, photos without their location, never a path
from the client, and only the reporter (or an officer) downloads them. In process."""

from __future__ import annotations

import hashlib
import io

import httpx
from PIL import Image

from tests.driver import Driver
from tests.harness import InProcessSystem
from tests.intake_web.conftest import jpeg_with_gps, seen
from tests.intake_web.officers import publish


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
    pdf_bytes = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
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
    strange = await web.post("/api/v1/attachments", files={"file": ("x.pdf", pdf_bytes + b" ")})
    other = f"/api/v1/reports/{tid}/attachments/{strange.json()['sha256']}"
    assert (await web.get(other, headers={"X-Access-Code": code})).status_code == 404
    traversal = f"/api/v1/reports/{tid}/attachments/..%2F..%2Fevents.db"
    assert (await web.get(traversal, headers={"X-Access-Code": code})).status_code in (404, 422)


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
