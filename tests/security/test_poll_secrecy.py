"""Poll answers stay sealed until the poll closes; results by region hide small groups
(issue 18, #13).

Answers were stored and published in the clear: anyone with stream or NATS access could count a
running poll, and results by region showed a lone voter's answers. Now every answer is sealed
with the poll's own key (AES-256-GCM), the key is released in `PollClosed` and the tallies are
computed from the opened answers then, so after closing everyone can check them; and no group of
fewer than 5 voters is shown by region.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.polls.ballots import decode_key, open_sealed
from shared.polls.events import OTHER_REGIONS, RegionResult
from shared.polls.lifecycle import ClosePoll, PollError, decide, fold, suppress_small_groups
from tests.harness import InProcessSystem, in_process
from tests.support import SMS_WEBHOOK_TOKEN

AGENCY = "PEMKOT-KUPANG"
CHOICES = ["Setuju", "Tidak setuju", "Ragu-ragu"]
PICKED = ["A", "A", "B", "C", "A", "B", "A"]


async def _sms(lapor: InProcessSystem, phone: str, text: str, n: int) -> str:
    async with lapor.client("intake") as intake:
        got = await intake.get(
            "/channels/sms",
            params={"from": phone, "text": text, "id": f"poll-{n}", "token": SMS_WEBHOOK_TOKEN},
        )
    assert got.status_code == 200, got.text
    return got.text


async def test_answers_are_sealed_until_closing_and_checkable_after(tmp_path: Path) -> None:
    async with in_process(tmp_path / "lapor", ("intake",)) as lapor:
        agency = lapor.client("intake", lapor.token("agency", agency=AGENCY))
        opened = await agency.post(
            "/api/v1/polls",
            json={
                "code": "TARIF",
                "title": "Tarif parkir",
                "policy_text": "Rancangan tarif parkir Kota Kupang.",
                "closes_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
                "questions": [{"text": "Setuju?", "choices": CHOICES}],
            },
        )
        assert opened.status_code == 201, opened.text
        for n, choice in enumerate(PICKED):
            answer = await _sms(lapor, f"+62812345009{n:02d}", f"POLL TARIF {choice}", n)
            assert "tercatat" in answer

        # While it runs, the store (and so JetStream and every subscriber) holds ciphertext only.
        events = await lapor.store.read("poll-TARIF")
        ballots = [e for e in events if e.event_type.startswith("Opinion")]
        assert len(ballots) == len(PICKED)
        for ballot in ballots:
            assert ballot.data["answers"] == {} and ballot.data["sealed"]
            assert ballot.agency_code is None  # not on the institution's subject either
        raw = json.dumps([e.data for e in ballots])
        assert '"A"' not in raw and '"B"' not in raw and '"C"' not in raw
        sealed_results = await lapor.client("intake").get("/api/v1/polls/TARIF/results")
        assert sealed_results.status_code == 409

        closed = await agency.post("/api/v1/polls/TARIF/close")
        assert closed.status_code == 200, closed.text
        events = await lapor.store.read("poll-TARIF")
        closing = next(e for e in events if e.event_type == "PollClosed")
        key = decode_key(closing.data["ballot_key"])
        # The key was nowhere before it was released.
        assert closing.data["ballot_key"] not in json.dumps(
            [e.data for e in events if e.position < closing.position]
        )

        # Anyone with the stream can now open every answer and check the published tallies.
        counted = {"A": 0, "B": 0, "C": 0}
        for ballot in (e for e in events if e.event_type.startswith("Opinion")):
            content = open_sealed(key, "TARIF", ballot.data["voter_hash"], ballot.data["sealed"])
            for choice in content["answers"]["1"]:
                counted[choice] += 1
        results = (await lapor.client("intake").get("/api/v1/polls/TARIF/results")).json()
        assert results["tallies"]["1"] == counted == {"A": 4, "B": 2, "C": 1}
        assert results["total_voters"] == len(PICKED)
        # Seven voters of no known region: one group, large enough to be shown; the page says
        # why smaller groups are not.
        assert results["by_region"]["unknown"]["voters"] == len(PICKED)
        page = (await lapor.client("intake").get("/jajak-pendapat/TARIF")).text
        assert 'id="poll-regions"' in page and "kurang dari 5 responden" in page

        # A sealed answer does not open with another poll's or another voter's binding.
        first = next(e for e in events if e.event_type == "OpinionSubmitted")
        with pytest.raises(ValueError):
            open_sealed(key, "OTHER", first.data["voter_hash"], first.data["sealed"])

        # Without the right key nothing can be counted (nor closed) by the domain either.
        running = fold(e.payload() for e in events if e.event_type.startswith(("Poll", "Opin")))
        assert running is not None
        running.closed = running.results = None
        with pytest.raises(PollError, match="ballot_key"):
            decide(running, ClosePoll(now=datetime.now(UTC)))
        with pytest.raises(PollError, match="ballot_key"):
            decide(running, ClosePoll(now=datetime.now(UTC), ballot_key=b"k" * 32))


def _groups(**voters: int) -> dict[str, RegionResult]:
    return {
        region: RegionResult(voters=n, tallies={"1": {"A": n, "B": 0}})
        for region, n in voters.items()
    }


def test_results_by_region_show_no_group_of_fewer_than_five() -> None:
    # A lone voter of another region would be told apart by the total minus the big region:
    # the big region joins them, and only the whole shows.
    assert suppress_small_groups(_groups(r5371=6, r5303=1)).keys() == {OTHER_REGIONS}
    shown = suppress_small_groups(_groups(r5371=10, r5303=3, r5305=3))
    assert shown.keys() == {"r5371", OTHER_REGIONS}
    assert shown[OTHER_REGIONS].voters == 6
    assert shown[OTHER_REGIONS].tallies == {"1": {"A": 6, "B": 0}}
    # The smallest region shown joins the rest until the rest is a group of five.
    shown = suppress_small_groups(_groups(r5371=9, r5303=5, r5305=2))
    assert shown.keys() == {"r5371", OTHER_REGIONS} and shown[OTHER_REGIONS].voters == 7
    assert suppress_small_groups(_groups(r5371=2, r5303=2)) == {}
    assert suppress_small_groups(_groups(r5371=5, r5303=5)).keys() == {"r5371", "r5303"}
    # Applied again (to what was stored), it changes nothing.
    once = suppress_small_groups(_groups(r5371=10, r5303=3, r5305=3))
    assert suppress_small_groups(once) == once
