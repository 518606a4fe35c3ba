"""Uploaded files are attachable only by who uploaded them (issue 18, #8).

A file is stored by its sha256, and a report's file list shows sha256s to its reporter and the
officers. Knowing a sha256 once let anyone attach another reporter's photo to a report of their
own (and then download it as that report's reporter), and "no uploaded file <sha>" told whether
a file existed. Now an attachment names the `upload_token` of its upload's answer as well, and a
wrong token reads exactly like a file that does not exist.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from tests.driver import driving
from tests.harness import in_process

REPORT = {
    "title": "Foto pungutan liar",
    "body": "Foto kuitansi pungutan liar di loket kelurahan terlampir.",
    "location": {"region_code": "5371"},
}


def _png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (7, 7), colour).save(out, "PNG")
    return out.getvalue()


async def test_a_file_is_attached_only_with_its_upload_token(tmp_path: Path) -> None:
    async with in_process(tmp_path / "lapor") as lapor, driving(lapor) as drive:
        intake = drive.client("intake")
        upload = await intake.post(
            "/api/v1/attachments", files={"file": ("k.png", _png((1, 2, 3)))}
        )
        assert upload.status_code == 201
        victims = upload.json()
        assert len(victims["upload_token"]) == 64
        victim = await drive.submit(**REPORT, attachments=[_ref(victims)])
        listed = await drive.report(victim.tracking_id, victim.access_code)
        assert [f["sha256"] for f in listed.json()["attachments"]] == [victims["sha256"]]
        assert "upload_token" not in listed.text  # shown only to the uploader, once

        # Another client knows the sha256 (a reporter's or an officer's list shows it).
        attacker = await drive.submit(**REPORT)
        stolen = {"sha256": victims["sha256"], "name": "milik-saya.png"}
        nowhere = {"sha256": "ab" * 32, "name": "tidak-ada.png"}
        refusals: list[Any] = []
        for ref in (stolen, nowhere):
            missing = await intake.post("/api/v1/reports", json=REPORT | {"attachments": [ref]})
            assert missing.status_code == 422 and "upload_token" in missing.text
            guessed = ref | {"upload_token": "0" * 64}
            for response in (
                await intake.post("/api/v1/reports", json=REPORT | {"attachments": [guessed]}),
                await intake.post(
                    f"/api/v1/reports/{attacker.tracking_id}/amendments",
                    json={"text": "Foto tambahan", "attachments": [guessed]},
                    headers={"X-Access-Code": attacker.access_code},
                ),
            ):
                assert response.status_code == 400, response.text
                refusals.append(response.json())
        # A taken file and a file that does not exist are refused in the same words.
        assert refusals[0] == refusals[2] and refusals[1] == refusals[3]
        assert victims["sha256"] not in str(refusals)

        # The attacker's report holds no file, so the victim's photo is not theirs to download.
        own = await drive.report(attacker.tracking_id, attacker.access_code)
        assert own.json()["attachments"] == []
        download = await intake.get(
            f"/api/v1/reports/{attacker.tracking_id}/attachments/{victims['sha256']}",
            headers={"X-Access-Code": attacker.access_code},
        )
        assert download.status_code == 404

        # A poll's document as well (an institution attaching a file it did not upload).
        agency = drive.client("intake", drive.token("agency", agency="PEMKOT-KUPANG"))
        poll = await agency.post("/api/v1/polls", json=_poll(stolen | {"upload_token": "0" * 64}))
        assert poll.status_code == 400 and victims["sha256"] not in poll.text

        # Whoever holds the bytes may upload them and attach them: that reveals nothing new.
        again = (
            await intake.post("/api/v1/attachments", files={"file": ("x.png", _png((1, 2, 3)))})
        ).json()
        assert again["sha256"] == victims["sha256"]
        assert (await drive.submit(**REPORT, attachments=[_ref(again)])).tracking_id


def _ref(upload: dict[str, Any]) -> dict[str, str]:
    return {"sha256": upload["sha256"], "upload_token": upload["upload_token"]}


def _poll(attachment: dict[str, str]) -> dict[str, Any]:
    return {
        "title": "Rancangan jam layanan",
        "policy_text": "Rancangan jam layanan kelurahan.",
        "closes_at": "2099-01-01T00:00:00+07:00",
        "questions": [{"text": "Setuju?", "choices": ["Ya", "Tidak"]}],
        "attachment": attachment,
    }


async def test_the_upload_answer_documents_the_token(tmp_path: Path) -> None:
    async with in_process(tmp_path / "lapor", ("intake",)) as lapor:
        async with lapor.client("intake") as intake:
            spec = (await intake.get("/openapi.json")).json()
        schemas = spec["components"]["schemas"]
        assert "upload_token" in schemas["UploadOut"]["required"]
        assert "upload_token" in schemas["AttachmentRef"]["required"]
        assert "upload_token" not in schemas["FileOut"]["properties"]
