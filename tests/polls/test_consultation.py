"""A policy consultation through intake's API and pages, in process (tests/harness.py): an
institution opens a poll, citizens verify themselves by a code mailed to them and answer on the
web, answers change, double and late answers change nothing, nobody reads results before
closing, the poll closes (by the institution, on schedule by the `close-polls` job, or when the
results are asked for after closing time), the results come out with the breakdown by region,
and the institution responds. Codes to phones and answers by SMS, through the real Kannel, are
in test_polls_system.py."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from pathlib import Path

from tests.driver import Driver, driving
from tests.harness import InProcessSystem, in_process
from tests.intake_channels.fakes import Mailbox
from tests.intake_web.conftest import pdf_document
from tests.polls.conftest import (
    AFTER_BBM,
    BBM26,
    CLOSES_BBM,
    OTHER,
    OWNER,
    START,
    air26,
    answer,
    assert_sealed,
    intake,
    mailed_code,
    verify,
)


async def event_types(lapor: InProcessSystem, code: str) -> list[str]:
    return [e.event_type for e in await lapor.store.read(f"poll-{code}")]


async def ballots(lapor: InProcessSystem, code: str) -> list[str]:
    return [t for t in await event_types(lapor, code) if t.startswith("Opinion")]


async def test_a_consultation_on_the_web_from_opening_to_the_institutions_response(
    lapor: InProcessSystem, drive: Driver, mailbox: Mailbox
) -> None:
    citizen = intake(drive)
    owner_agency = intake(drive, "agency", OWNER)
    draft = pdf_document("Rancangan Peraturan Wali Kota")
    uploaded = await citizen.post(
        "/api/v1/attachments",
        files={"file": ("rancangan-perwali.pdf", draft, "application/pdf")},
    )
    assert uploaded.status_code == 201, uploaded.text
    attachment = {
        "sha256": uploaded.json()["sha256"],
        "name": "rancangan-perwali.pdf",
        "upload_token": uploaded.json()["upload_token"],
    }
    poll = air26(code="air26", attachment=attachment)
    # Only institutions open polls; an agency opens for itself.
    assert (await citizen.post("/api/v1/polls", json=poll)).status_code == 401
    ombudsman = await intake(drive, "ombudsman").post("/api/v1/polls", json=poll)
    assert ombudsman.status_code == 403
    opened = await owner_agency.post("/api/v1/polls", json=poll)
    assert opened.status_code == 201, opened.text
    assert opened.json()["code"] == "AIR26"
    assert opened.json()["status"] == "open"
    assert opened.json()["sms"] == "POLL AIR26 A A"
    assert opened.json()["attachment_url"] == "/jajak-pendapat/AIR26/dokumen"
    document = await citizen.get(opened.json()["attachment_url"])
    # The draft as uploaded, less its document metadata (attachments are cleaned: the stored file).
    assert document.status_code == 200 and document.content.startswith(b"%PDF-")
    assert hashlib.sha256(document.content).hexdigest() == attachment["sha256"]
    assert b"Rancangan Peraturan Wali Kota" in document.content
    listed = [p for p in (await citizen.get("/api/v1/polls")).json() if p["code"] == "AIR26"]
    assert listed[0]["agency_code"] == OWNER

    # Siti verifies her e-mail address and answers.
    sent = await verify(drive, "AIR26", email="Siti.Rahma@Example.id")
    assert sent.status_code == 202, sent.text
    assert sent.json()["sent_to"] == "s***@e***.id"
    siti_code = mailed_code(mailbox, "siti.rahma@example.id", 1)
    # The mail says it in Bahasa Indonesia, then English (it was Indonesian only); an SMS
    # code stays one Indonesian SMS.
    mail = mailbox.to("siti.rahma@example.id")[0].message
    assert mail["Subject"] == "Kode verifikasi jajak pendapat AIR26 / Poll verification code AIR26"
    plain = mail.get_body(("plain",))
    assert plain is not None
    said_id, _title, said_en = plain.get_content().replace("\r\n", "\n").split("\n\n")
    assert said_id.startswith(f"Kode verifikasi LAPOR! untuk jajak pendapat AIR26: {siti_code}.")
    assert said_en.startswith(f"Your LAPOR! verification code for poll AIR26: {siti_code}.")
    siti = {
        "identity": "siti.rahma@example.id",
        "answers": {"1": "A", "2": ["A", "B"]},
        "comment": "Tekanan air di Oebobo lemah setiap sore.",
        "region_code": "537104",
    }
    wrong = "000000" if siti_code != "000000" else "111111"
    refused = await answer(drive, "AIR26", {**siti, "code": wrong})
    # Said in Bahasa Indonesia, then English (the poll API's refusals were English only).
    assert refused.status_code == 403
    assert refused.json()["detail"] == "code: kode verifikasi salah / wrong verification code"
    bad = await answer(drive, "AIR26", {**siti, "code": siti_code, "answers": {"1": "Z", "2": "A"}})
    assert bad.status_code == 400 and bad.json()["detail"][0]["field"] == "answers.1"
    assert bad.json()["detail"][0]["msg"] == (
        "'Z' bukan salah satu pilihan (A, B, C) / 'Z' is not a choice (A, B, C)"
    )
    first = await answer(drive, "AIR26", {**siti, "code": siti_code})
    assert first.status_code == 201, first.text
    assert first.json()["outcome"] == "submitted"
    # The code was used up; with a new one the same answer again changes nothing.
    assert (await answer(drive, "AIR26", {**siti, "code": siti_code})).status_code == 403
    await verify(drive, "AIR26", identity="siti.rahma@example.id")
    again_code = mailed_code(mailbox, "siti.rahma@example.id", 2)
    again = await answer(drive, "AIR26", {**siti, "code": again_code})
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged"
    assert await ballots(lapor, "AIR26") == ["OpinionSubmitted"]

    # No SMS gateway here: a code to a phone cannot be sent, and says which setting is missing.
    no_sms = await verify(drive, "AIR26", phone="0812-3450-0011")
    assert no_sms.status_code == 503 and "LAPOR_SMS_SENDSMS_URL" in no_sms.json()["detail"]

    # Budi verifies his e-mail address too (codes by SMS: test_polls_system.py).
    assert (await verify(drive, "AIR26", email="budi@example.id")).status_code == 202
    budi = {
        "identity": "budi@example.id",
        "code": mailed_code(mailbox, "budi@example.id", 1),
        "answers": {"1": "B", "2": "C"},
    }
    assert (await answer(drive, "AIR26", {**budi, "region_code": "537101"})).status_code == 201

    # Siti changes her mind before closing: her new answer replaces the first.
    await verify(drive, "AIR26", email="siti.rahma@example.id")
    third_code = mailed_code(mailbox, "siti.rahma@example.id", 3)
    changed = await answer(
        drive, "AIR26", {**siti, "code": third_code, "answers": {"1": "C", "2": "B"}}
    )
    assert changed.status_code == 200 and changed.json()["outcome"] == "changed"

    # Ani answers through the web page (forms, CSRF cookie, code by e-mail).
    async with lapor.client("intake") as browser:
        browser.follow_redirects = True
        page = await browser.get("/jajak-pendapat/air26")
        assert page.status_code == 200 and "Penyesuaian tarif air minum" in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        no_token = await browser.post(
            "/jajak-pendapat/AIR26/kode", data={"identity": "ani@example.id"}
        )
        assert no_token.status_code == 403
        form = await browser.post(
            "/jajak-pendapat/AIR26/kode",
            data={"identity": "ani@example.id", "csrf_token": token.group(1)},
        )
        assert form.status_code == 200 and "Kode dikirim ke a***@e***.id" in form.text
        done = await browser.post(
            "/jajak-pendapat/AIR26/jawab",
            data={
                "csrf_token": token.group(1),
                "identity": "ani@example.id",
                "otp": mailed_code(mailbox, "ani@example.id", 1),
                "q1": "A",
                "q2": ["A", "C"],
                "region_code": "537104",
            },
        )
        assert done.status_code == 200, done.text
        assert "sudah tercatat" in done.text
    assert await ballots(lapor, "AIR26") == [
        "OpinionSubmitted",
        "OpinionSubmitted",
        "OpinionChanged",
        "OpinionSubmitted",
    ]

    # Sealed: no role reads results before closing; another agency cannot close it.
    await assert_sealed(drive, "AIR26")
    not_yours = await intake(drive, "agency", OTHER).post("/api/v1/polls/AIR26/close")
    assert not_yours.status_code == 403
    too_early = await owner_agency.post(
        "/api/v1/polls/AIR26/response", json={"text": "Terima kasih."}
    )
    assert too_early.status_code == 409
    closed = await owner_agency.post("/api/v1/polls/AIR26/close")
    assert closed.status_code == 200, closed.text
    assert closed.json()["close_reason"] == "early"

    # Late: a verification or an answer after closing changes nothing.
    assert (await verify(drive, "AIR26", email="joko@example.id")).status_code == 409
    late = await answer(drive, "AIR26", {**budi, "answers": {"1": "A", "2": "A"}})
    assert late.status_code == 409 and late.json()["detail"]["status"] == "closed"
    assert late.json()["detail"]["msg"] == (
        "jajak pendapat AIR26 sudah ditutup; jawaban tidak dicatat"
        " / poll AIR26 is closed; no answer was recorded"
    )
    assert len(await ballots(lapor, "AIR26")) == 4

    # Published: tallies of each voter's latest answer; by region only groups of 5 or more
    # (these three voters are no such group, so none is shown); comments for the owner.
    results = await citizen.get("/api/v1/polls/AIR26/results")
    assert results.status_code == 200, results.text
    body = results.json()
    assert body["total_voters"] == 3
    assert body["tallies"] == {"1": {"A": 1, "B": 1, "C": 1}, "2": {"A": 1, "B": 1, "C": 2}}
    assert body["by_region"] == {}
    assert body["by_channel"] == {"web": 3}
    assert "comments" not in body and body["comment_count"] == 1
    owner = await owner_agency.get("/api/v1/polls/AIR26/results")
    assert owner.json()["comments"][0]["text"].startswith("Tekanan air")
    assert (await event_types(lapor, "AIR26"))[-2:] == ["PollClosed", "PollResultsPublished"]

    response = await owner_agency.post(
        "/api/v1/polls/AIR26/response",
        json={"text": "Kenaikan tarif ditunda; tekanan air diperbaiki lebih dulu."},
    )
    assert response.status_code == 201, response.text
    shown = (await citizen.get("/api/v1/polls/AIR26")).json()
    assert shown["status"] == "closed" and shown["results_published"] is True
    assert shown["response"]["text"].startswith("Kenaikan tarif ditunda")
    assert shown["closed_at"] is not None
    page = await citizen.get("/jajak-pendapat/AIR26")
    assert "Hasil (3 responden)" in page.text and "Kenaikan tarif ditunda" in page.text

    # Privacy: the identities are nowhere in the store.
    stored = (lapor.data_dir / "events.db").read_bytes()
    for secret in (b"siti.rahma", b"budi@example", b"ani@example"):
        assert secret not in stored


async def test_the_closing_job_closes_a_poll_at_its_closing_time(
    lapor: InProcessSystem, drive: Driver, mailbox: Mailbox
) -> None:
    opened = await intake(drive, "admin").post("/api/v1/polls", json=BBM26)
    assert opened.status_code == 201, opened.text
    await verify(drive, "BBM26", email="siti@example.id")
    siti = {"identity": "siti@example.id", "answers": {"1": "B"}}
    first = await answer(
        drive, "BBM26", {**siti, "code": mailed_code(mailbox, "siti@example.id", 1)}
    )
    assert first.status_code == 201, first.text
    assert await lapor.run("intake", "close-polls") == 0  # not yet
    await assert_sealed(drive, "BBM26")

    # closes_at passes: the poll no longer takes answers, and the job closes it.
    lapor.set_clock(AFTER_BBM)
    assert (await verify(drive, "BBM26", email="ani@example.id")).status_code == 409
    assert await lapor.run("intake", "close-polls") == 1
    assert await lapor.run("intake", "close-polls") == 0  # once
    closed = (await lapor.store.read("poll-BBM26"))[-2]
    assert closed.event_type == "PollClosed"
    assert closed.data["reason"] == "schedule"
    assert datetime.fromisoformat(closed.data["closed_at"]) == datetime.fromisoformat(CLOSES_BBM)
    assert closed.actor.kind == "system"
    assert (await event_types(lapor, "BBM26"))[-1] == "PollResultsPublished"

    poll = (await intake(drive).get("/api/v1/polls/BBM26")).json()
    assert poll["status"] == "closed" and poll["results_published"] is True
    assert poll["close_reason"] == "schedule"
    results = await intake(drive, "admin").get("/api/v1/polls/BBM26/results")
    assert results.status_code == 200, results.text
    body = results.json()
    assert body["total_voters"] == 1
    assert body["tallies"] == {"1": {"A": 0, "B": 1, "C": 0}}
    assert body["by_channel"] == {"web": 1}
    assert body["by_region"] == {}  # a lone voter is no group to show by region
    assert [c["votes"] for c in body["questions"][0]["choices"]] == [0, 1, 0]
    assert body["comments"] == [] and body["comment_count"] == 0


async def test_a_poll_closing_in_the_year_9999_is_refused_and_the_poll_pages_stay_up(
    drive: Driver,
) -> None:
    """An institution typed a far-off closing time: it was accepted, and from then on every
    citizen's poll list (and the poll's page) answered 500, the time being beyond any zone."""
    institution = intake(drive, "agency", OWNER)
    for fields in (
        {"closes_at": "9999-12-31T23:59:59+00:00"},
        {"opens_at": "9999-12-31T00:00:00+00:00", "closes_at": "9999-12-31T23:00:00+00:00"},
    ):
        refused = await institution.post("/api/v1/polls", json=air26(**fields))
        assert refused.status_code == 400, refused.text  # as any poll the rules refuse
        assert [e["field"] for e in refused.json()["detail"]] == [next(iter(fields))]
    assert (await institution.post("/api/v1/polls", json=air26())).status_code == 201
    for page in ("/jajak-pendapat", "/jajak-pendapat/AIR26"):
        shown = await intake(drive).get(page)
        assert shown.status_code == 200, (page, shown.text[-500:])
        assert "WITA" in shown.text  # Kupang's closing time, in its own zone


async def test_results_asked_for_after_the_closing_time_close_the_poll_first(
    lapor: InProcessSystem, drive: Driver, mailbox: Mailbox
) -> None:
    assert (await intake(drive, "admin").post("/api/v1/polls", json=BBM26)).status_code == 201
    await verify(drive, "BBM26", email="budi@example.id")
    budi = {"identity": "budi@example.id", "code": mailed_code(mailbox, "budi@example.id", 1)}
    assert (await answer(drive, "BBM26", {**budi, "answers": {"1": "C"}})).status_code == 201
    lapor.set_clock(AFTER_BBM)

    results = await intake(drive).get("/api/v1/polls/BBM26/results")  # before the job runs
    assert results.status_code == 200, results.text
    assert results.json()["tallies"] == {"1": {"A": 0, "B": 0, "C": 1}}
    assert (await event_types(lapor, "BBM26"))[-2:] == ["PollClosed", "PollResultsPublished"]
    assert await lapor.run("intake", "close-polls") == 0  # nothing left to close


async def test_the_poll_page_says_in_indonesian_when_codes_cannot_be_sent(
    tmp_path: Path,
) -> None:
    """Issue 17: without an SMS gateway or an SMTP server nobody can get a code: the page says
    so (and how to answer by SMS) instead of a form that can only fail."""
    async with in_process(tmp_path / "lapor", ("intake",)) as lapor, driving(lapor) as drive:
        lapor.set_clock(START)
        opened = await intake(drive, "agency", OWNER).post("/api/v1/polls", json=air26())
        assert opened.status_code == 201, opened.text
        page = await intake(drive).get("/jajak-pendapat/AIR26")
        assert page.status_code == 200
        assert 'id="poll-codes-off"' in page.text
        assert "tidak dapat dikirim lewat SMS atau e-mail" in page.text
        assert "POLL AIR26" in page.text and 'id="poll-code-form"' not in page.text
        english = await intake(drive).get("/jajak-pendapat/AIR26", params={"lang": "en"})
        assert "cannot be sent by SMS or e-mail" in english.text
