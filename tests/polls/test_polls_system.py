"""Polls against running processes, where the processes matter: a citizen's one-time code to a
phone goes out through the real Kannel, citizens answer by SMS to 1708 through it (answers change,
double, malformed and late answers change nothing), intake's runtime runs the closing job on
schedule, and no identity reaches the store or intake's log. The web round of a consultation
through the API and pages is in test_consultation.py (in process)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from shared.sms.gsm7 import is_gsm7, septet_length
from tests.driver import Driver, eventually
from tests.polls.conftest import (
    AFTER_BBM,
    BBM26,
    CLOSES_BBM,
    OWNER,
    PollSystem,
    air26,
    answer,
    assert_sealed,
    intake,
    verify,
)

PHONE = "+6281234500011"
SMS_VOTERS = ("+6281234500021", "+6281234500022")
SMS_BALLOTS = ["OpinionSubmitted", "OpinionChanged", "OpinionSubmitted"]


def one_sms(text: str) -> str:
    assert is_gsm7(text) and septet_length(text) <= 160, text
    return text


async def ballots(polls: PollSystem, code: str) -> list[str]:
    return [t for t in await polls.event_types(code) if t.startswith("Opinion")]


async def test_a_phone_gets_its_code_through_kannel_and_no_identity_reaches_the_store_or_log(
    polls: PollSystem, drive_processes: Driver
) -> None:
    drive = drive_processes
    owner = intake(drive, "agency", OWNER)
    opened = await owner.post("/api/v1/polls", json=air26())
    assert opened.status_code == 201, opened.text

    # Budi verifies his phone: the code comes by SMS through Kannel.
    with polls.sms().handset() as handset:
        assert (await verify(drive, "AIR26", phone="0812-3450-0011")).status_code == 202
        sms = handset.wait_for(lambda m: m.to.endswith("81234500011"))
    budi_code = re.search(r"\b(\d{6})\b", one_sms(sms.text))
    assert budi_code is not None and "AIR26" in sms.text
    budi = {"identity": PHONE, "code": budi_code.group(1), "answers": {"1": "B", "2": "C"}}
    assert (await answer(drive, "AIR26", {**budi, "region_code": "537101"})).status_code == 201

    # Siti verifies her e-mail address (the code by SMTP) and answers.
    assert (await verify(drive, "AIR26", email="Siti.Rahma@Example.id")).status_code == 202
    siti = {
        "identity": "siti.rahma@example.id",
        "code": polls.mailed_code("siti.rahma@example.id", 1),
        "answers": {"1": "A", "2": ["A", "B"]},
        "region_code": "537103",
    }
    assert (await answer(drive, "AIR26", siti)).status_code == 201
    assert await ballots(polls, "AIR26") == ["OpinionSubmitted", "OpinionSubmitted"]

    # The institution closes it: an SMS answer from Budi's phone is refused.
    closed = await owner.post("/api/v1/polls/AIR26/close")
    assert closed.status_code == 200, closed.text
    assert "sudah ditutup" in one_sms(polls.sms().send(PHONE, "POLL AIR26 A B"))
    assert len(await ballots(polls, "AIR26")) == 2

    # Privacy: the identities are nowhere in the store or the log.
    stored = (polls.data_dir / "events.db").read_bytes()
    for secret in (b"siti.rahma", b"81234500011"):
        assert secret not in stored
    assert "81234500011" not in polls.system.log("intake")
    assert "siti.rahma" not in polls.system.log("intake")


async def test_citizens_answer_by_sms_and_the_poll_closes_on_schedule(
    polls: PollSystem, drive_processes: Driver
) -> None:
    drive = drive_processes
    kannel = polls.sms()
    opened = await intake(drive, "admin").post("/api/v1/polls", json=BBM26)
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
    assert await ballots(polls, "BBM26") == SMS_BALLOTS
    await assert_sealed(drive, "BBM26")

    # closes_at passes: intake's runtime runs the closing job, which publishes the results.
    polls.set_clock(AFTER_BBM)

    async def published() -> dict[str, Any] | None:
        poll: dict[str, Any] = (await intake(drive).get("/api/v1/polls/BBM26")).json()
        return poll if poll["status"] == "closed" and poll["results_published"] else None

    await eventually(published, timeout=30, what="BBM26 closed with its results")
    assert "sudah ditutup" in one_sms(kannel.send(second, "POLL BBM26 A"))  # a late vote
    assert await ballots(polls, "BBM26") == SMS_BALLOTS
    closed = (await polls.events("BBM26"))[-2]
    assert closed.event_type == "PollClosed"
    assert closed.data["reason"] == "schedule"
    assert datetime.fromisoformat(closed.data["closed_at"]) == datetime.fromisoformat(CLOSES_BBM)
    assert closed.actor.kind == "system"

    results = await intake(drive, "admin").get("/api/v1/polls/BBM26/results")
    assert results.status_code == 200, results.text
    body = results.json()
    assert body["total_voters"] == 2
    assert body["tallies"] == {"1": {"A": 0, "B": 1, "C": 1}}
    assert body["by_channel"] == {"sms": 2}
    assert body["by_region"] == {}  # two voters are no group to show by region
    assert [c["votes"] for c in body["questions"][0]["choices"]] == [0, 1, 1]
    assert b"81234500021" not in (polls.data_dir / "events.db").read_bytes()
