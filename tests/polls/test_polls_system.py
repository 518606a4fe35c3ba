"""The whole round of a policy consultation against running processes: an institution opens a
poll, citizens verify themselves (a code by e-mail through SMTP, by SMS through the real Kannel)
and answer on the web and by SMS to 1708, answers change, double and late answers change nothing,
nobody reads results before closing, the poll closes (by the institution, and on schedule), the
results come out with the breakdown by region, and the institution responds."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx

from shared.sms.gsm7 import is_gsm7, septet_length
from tests.polls.conftest import PollSystem
from tests.support import wait_for

OWNER = "PEMKOT-KUPANG"
OTHER = "PEMKAB-KUPANG"
CLOSES_AIR = "2026-05-11T08:00:00+07:00"
CLOSES_BBM = "2026-05-06T08:00:00+07:00"
PHONE = "+6281234500011"
SMS_VOTERS = ("+6281234500021", "+6281234500022")


def one_sms(text: str) -> str:
    assert is_gsm7(text) and septet_length(text) <= 160, text
    return text


def ballots(polls: PollSystem, code: str) -> list[str]:
    return [t for t in polls.event_types(code) if t.startswith("Opinion")]


def every_role(polls: PollSystem) -> dict[str, dict[str, str]]:
    return {
        "citizen": {},
        "admin": polls.auth("admin"),
        "owner agency": polls.auth("agency", OWNER),
        "other agency": polls.auth("agency", OTHER),
        "ombudsman": polls.auth("ombudsman"),
        "client": polls.auth("client"),
    }


def assert_sealed(polls: PollSystem, code: str) -> None:
    for role, headers in every_role(polls).items():
        answer = httpx.get(f"{polls.url}/api/v1/polls/{code}/results", headers=headers, timeout=10)
        assert answer.status_code == 409, (role, answer.text)
        assert answer.json()["detail"]["status"] == "sealed", role
        assert "tallies" not in answer.text


def answer(polls: PollSystem, code: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{polls.url}/api/v1/polls/{code}/answers", json=body, timeout=20)


def verify(polls: PollSystem, code: str, **identity: str) -> httpx.Response:
    return httpx.post(f"{polls.url}/api/v1/polls/{code}/verification", json=identity, timeout=30)


def test_a_consultation_on_the_web_from_opening_to_the_institutions_response(
    polls: PollSystem,
) -> None:
    url = polls.url
    draft = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
    uploaded = httpx.post(
        f"{url}/api/v1/attachments",
        files={"file": ("rancangan-perwali.pdf", draft, "application/pdf")},
    )
    assert uploaded.status_code == 201, uploaded.text
    poll = {
        "code": "air26",
        "attachment": {"sha256": uploaded.json()["sha256"], "name": "rancangan-perwali.pdf"},
        "title": "Penyesuaian tarif air minum 2026",
        "policy_text": "Rancangan Peraturan Wali Kota tentang tarif air minum PDAM Kota Kupang.",
        "region_code": "5371",
        "closes_at": CLOSES_AIR,
        "questions": [
            {"text": "Setuju tarif naik 10%?", "choices": ["Setuju", "Tidak setuju", "Ragu"]},
            {
                "text": "Apa yang harus diperbaiki dulu?",
                "kind": "multiple",
                "choices": ["Tekanan air", "Kualitas air", "Tagihan"],
            },
        ],
    }
    # Only institutions open polls; an agency opens for itself.
    assert httpx.post(f"{url}/api/v1/polls", json=poll).status_code == 401
    ombudsman = httpx.post(f"{url}/api/v1/polls", json=poll, headers=polls.auth("ombudsman"))
    assert ombudsman.status_code == 403
    opened = httpx.post(f"{url}/api/v1/polls", json=poll, headers=polls.auth("agency", OWNER))
    assert opened.status_code == 201, opened.text
    assert opened.json()["code"] == "AIR26"
    assert opened.json()["status"] == "open"
    assert opened.json()["sms"] == "POLL AIR26 A A"
    assert opened.json()["attachment_url"] == "/jajak-pendapat/AIR26/dokumen"
    document = httpx.get(url + opened.json()["attachment_url"])
    assert document.status_code == 200 and document.content == draft
    listed = wait_for(
        lambda: [p for p in httpx.get(f"{url}/api/v1/polls").json() if p["code"] == "AIR26"],
        what="AIR26 in the list",
    )
    assert listed[0]["agency_code"] == OWNER

    # Siti verifies her e-mail address and answers.
    sent = verify(polls, "AIR26", email="Siti.Rahma@Example.id")
    assert sent.status_code == 202, sent.text
    assert sent.json()["sent_to"] == "s***@e***.id"
    siti_code = polls.mailed_code("siti.rahma@example.id", 1)
    siti = {
        "identity": "siti.rahma@example.id",
        "answers": {"1": "A", "2": ["A", "B"]},
        "comment": "Tekanan air di Oebobo lemah setiap sore.",
        "region_code": "537103",
    }
    wrong = "000000" if siti_code != "000000" else "111111"
    assert answer(polls, "AIR26", {**siti, "code": wrong}).status_code == 403
    bad = answer(polls, "AIR26", {**siti, "code": siti_code, "answers": {"1": "Z", "2": "A"}})
    assert bad.status_code == 400 and bad.json()["detail"][0]["field"] == "answers.1"
    first = answer(polls, "AIR26", {**siti, "code": siti_code})
    assert first.status_code == 201, first.text
    assert first.json()["outcome"] == "submitted"
    # The code was used up; with a new one the same answer again changes nothing.
    assert answer(polls, "AIR26", {**siti, "code": siti_code}).status_code == 403
    verify(polls, "AIR26", identity="siti.rahma@example.id")
    again = answer(polls, "AIR26", {**siti, "code": polls.mailed_code("siti.rahma@example.id", 2)})
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged"
    assert ballots(polls, "AIR26") == ["OpinionSubmitted"]

    # Budi verifies his phone: the code comes by SMS through Kannel.
    with polls.sms().handset() as handset:
        assert verify(polls, "AIR26", phone="0812-3450-0011").status_code == 202
        sms = handset.wait_for(lambda m: m.to.endswith("81234500011"))
    budi_code = re.search(r"\b(\d{6})\b", one_sms(sms.text))
    assert budi_code is not None and "AIR26" in sms.text
    budi = {"identity": PHONE, "code": budi_code.group(1), "answers": {"1": "B", "2": "C"}}
    assert answer(polls, "AIR26", {**budi, "region_code": "537101"}).status_code == 201

    # Siti changes her mind before closing: her new answer replaces the first.
    verify(polls, "AIR26", email="siti.rahma@example.id")
    third_code = polls.mailed_code("siti.rahma@example.id", 3)
    changed = answer(polls, "AIR26", {**siti, "code": third_code, "answers": {"1": "C", "2": "B"}})
    assert changed.status_code == 200 and changed.json()["outcome"] == "changed"

    # Ani answers through the web page (forms, CSRF cookie, code by e-mail).
    with httpx.Client(base_url=url, timeout=30, follow_redirects=True) as browser:
        page = browser.get("/jajak-pendapat/air26")
        assert page.status_code == 200 and "Penyesuaian tarif air minum" in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        assert (
            browser.post(
                "/jajak-pendapat/AIR26/kode", data={"identity": "ani@example.id"}
            ).status_code
            == 403
        )  # no CSRF token
        form = browser.post(
            "/jajak-pendapat/AIR26/kode",
            data={"identity": "ani@example.id", "csrf_token": token.group(1)},
        )
        assert form.status_code == 200 and "Kode dikirim ke a***@e***.id" in form.text
        done = browser.post(
            "/jajak-pendapat/AIR26/jawab",
            data={
                "csrf_token": token.group(1),
                "identity": "ani@example.id",
                "otp": polls.mailed_code("ani@example.id", 1),
                "q1": "A",
                "q2": ["A", "C"],
                "region_code": "537103",
            },
        )
        assert done.status_code == 200, done.text
        assert "sudah tercatat" in done.text
    assert ballots(polls, "AIR26") == [
        "OpinionSubmitted",
        "OpinionSubmitted",
        "OpinionChanged",
        "OpinionSubmitted",
    ]

    # Sealed: no role reads results before closing; another agency cannot close it.
    assert_sealed(polls, "AIR26")
    not_yours = httpx.post(f"{url}/api/v1/polls/AIR26/close", headers=polls.auth("agency", OTHER))
    assert not_yours.status_code == 403
    too_early = httpx.post(
        f"{url}/api/v1/polls/AIR26/response",
        json={"text": "Terima kasih."},
        headers=polls.auth("agency", OWNER),
    )
    assert too_early.status_code == 409
    closed = httpx.post(f"{url}/api/v1/polls/AIR26/close", headers=polls.auth("agency", OWNER))
    assert closed.status_code == 200, closed.text
    assert closed.json()["close_reason"] == "early"

    # Late: a verification or an answer after closing changes nothing.
    assert verify(polls, "AIR26", email="joko@example.id").status_code == 409
    late = answer(polls, "AIR26", {**budi, "answers": {"1": "A", "2": "A"}})
    assert late.status_code == 409 and late.json()["detail"]["status"] == "closed"
    assert len(ballots(polls, "AIR26")) == 4

    # Published: tallies of each voter's latest answer, by region; comments for the owner.
    results = httpx.get(f"{url}/api/v1/polls/AIR26/results")
    assert results.status_code == 200, results.text
    body = results.json()
    assert body["total_voters"] == 3
    assert body["tallies"] == {"1": {"A": 1, "B": 1, "C": 1}, "2": {"A": 1, "B": 1, "C": 2}}
    assert body["by_region"]["537103"]["voters"] == 2
    assert body["by_region"]["537103"]["name"] == "Oebobo"
    assert body["by_region"]["537101"]["tallies"]["1"] == {"A": 0, "B": 1, "C": 0}
    assert body["by_channel"] == {"web": 3}
    assert "comments" not in body and body["comment_count"] == 1
    owner = httpx.get(f"{url}/api/v1/polls/AIR26/results", headers=polls.auth("agency", OWNER))
    assert owner.json()["comments"][0]["text"].startswith("Tekanan air")
    assert polls.event_types("AIR26")[-2:] == ["PollClosed", "PollResultsPublished"]

    response = httpx.post(
        f"{url}/api/v1/polls/AIR26/response",
        json={"text": "Kenaikan tarif ditunda; tekanan air diperbaiki lebih dulu."},
        headers=polls.auth("agency", OWNER),
    )
    assert response.status_code == 201, response.text
    shown = polls.poll("AIR26", status="closed", results_published=True)
    wait_for(lambda: polls.poll("AIR26")["response"], what="response in the view")
    assert shown["closed_at"] is not None
    page = httpx.get(f"{url}/jajak-pendapat/AIR26")
    assert "Hasil (3 responden)" in page.text and "Kenaikan tarif ditunda" in page.text

    # Privacy: the identities are nowhere in the store or the log.
    stored = (polls.data_dir / "events.db").read_bytes()
    for secret in (b"siti.rahma", b"81234500011", b"ani@example"):
        assert secret not in stored
    assert "81234500011" not in polls.system.log("intake")
    assert "siti.rahma" not in polls.system.log("intake")


def test_citizens_answer_by_sms_and_the_poll_closes_on_schedule(polls: PollSystem) -> None:
    kannel = polls.sms()
    url = polls.url
    opened = httpx.post(
        f"{url}/api/v1/polls",
        json={
            "code": "BBM26",
            "title": "Pembatasan BBM bersubsidi untuk kendaraan dinas",
            "policy_text": "Rancangan kebijakan pembatasan BBM bersubsidi.",
            "closes_at": CLOSES_BBM,
            "agency_code": OWNER,
            "allow_comment": False,
            "questions": [{"text": "Setuju?", "choices": ["Setuju", "Tidak setuju", "Ragu-ragu"]}],
        },
        headers=polls.auth("admin"),
    )
    assert opened.status_code == 201, opened.text
    first, second = SMS_VOTERS

    reply = one_sms(kannel.send(first, "POLL BBM26 A"))
    assert "tercatat: A" in reply
    assert "sudah tercatat" in one_sms(kannel.send(first, "poll bbm26 a"))  # double vote
    assert "diubah menjadi B" in one_sms(kannel.send(first, "POLL BBM26 tidak setuju"))
    assert "Pilih A/B/C" in one_sms(kannel.send(first, "POLL BBM26 Z"))  # malformed choice
    assert "tidak ditemukan" in one_sms(kannel.send(first, "POLL NOPE9 A"))  # unknown poll
    assert "POLL KODE PILIHAN" in one_sms(kannel.send(first, "POLL"))
    assert "tercatat: C" in one_sms(kannel.send(second, "POLL BBM26 C"))
    # AIR26 was closed by its institution: an SMS answer to it is refused.
    assert "sudah ditutup" in one_sms(kannel.send(PHONE, "POLL AIR26 A B"))
    assert ballots(polls, "BBM26") == ["OpinionSubmitted", "OpinionChanged", "OpinionSubmitted"]
    assert_sealed(polls, "BBM26")

    # closes_at passes: intake's ticker closes the poll and publishes the results.
    polls.set_clock("2026-05-06T08:00:30+07:00")
    polls.poll("BBM26", status="closed", results_published=True)
    assert "sudah ditutup" in one_sms(kannel.send(second, "POLL BBM26 A"))  # a late vote
    assert ballots(polls, "BBM26") == ["OpinionSubmitted", "OpinionChanged", "OpinionSubmitted"]
    closed = polls.events("BBM26")[-2]
    assert closed.event_type == "PollClosed"
    assert closed.data["reason"] == "schedule"
    assert datetime.fromisoformat(closed.data["closed_at"]) == datetime.fromisoformat(CLOSES_BBM)
    assert closed.actor.kind == "system"

    results = httpx.get(f"{url}/api/v1/polls/BBM26/results", headers=polls.auth("admin"))
    assert results.status_code == 200, results.text
    body = results.json()
    assert body["total_voters"] == 2
    assert body["tallies"] == {"1": {"A": 0, "B": 1, "C": 1}}
    assert body["by_channel"] == {"sms": 2}
    assert body["by_region"] == {"unknown": {"name": None, "voters": 2, "tallies": body["tallies"]}}
    assert [c["votes"] for c in body["questions"][0]["choices"]] == [0, 1, 1]
    assert b"81234500021" not in (polls.data_dir / "events.db").read_bytes()
