"""One-time codes for verifying a citizen: hashed at rest, short-lived, a few tries, a few sends."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.intake.polls.codes import Identity, VerificationCodes, voter_hash
from services.intake.polls.config import PollSettings

SECRET = b"test-secret-for-lapor"
SITI = Identity("email", "siti@example.id")
BUDI = Identity("phone", "+6281234500011")
T0 = 1_780_000_000.0


@pytest.fixture
def codes(tmp_path: Path) -> VerificationCodes:
    settings = PollSettings(poll_code_ttl_seconds=600, poll_code_attempts=3, poll_code_sends=2)
    return VerificationCodes(tmp_path / "codes.db", SECRET, settings)


def issue(codes: VerificationCodes, who: Identity = SITI, at: float = T0) -> str:
    otp = codes.issue("AIR26", who, at)
    assert isinstance(otp, str) and len(otp) == 6 and otp.isdigit()
    return otp


def test_a_code_works_once_for_its_poll_and_identity(
    codes: VerificationCodes, tmp_path: Path
) -> None:
    otp = issue(codes)

    assert codes.check("BBM26", SITI, otp, T0) == "expired"  # another poll: no code there
    assert codes.check("AIR26", BUDI, otp, T0) == "expired"  # another person
    assert codes.check("AIR26", SITI, f" {otp} ", T0 + 10) == "ok"
    codes.consume("AIR26", SITI)
    assert codes.check("AIR26", SITI, otp, T0 + 20) == "expired"
    assert otp.encode() not in (tmp_path / "codes.db").read_bytes()
    assert b"siti@example.id" not in (tmp_path / "codes.db").read_bytes()


def test_a_code_expires(codes: VerificationCodes) -> None:
    otp = issue(codes)
    assert codes.check("AIR26", SITI, otp, T0 + 600) == "expired"


def test_wrong_tries_lock_the_code_even_for_the_right_one_afterwards(
    codes: VerificationCodes,
) -> None:
    otp = issue(codes)
    wrong = "000000" if otp != "000000" else "111111"
    assert [codes.check("AIR26", SITI, wrong, T0) for _ in range(3)] == ["wrong"] * 3
    assert codes.check("AIR26", SITI, otp, T0) == "locked"
    assert codes.check("AIR26", SITI, issue(codes), T0) == "ok"  # a new code starts afresh


def test_only_a_few_codes_are_sent_per_identity_and_poll_within_a_codes_life(
    codes: VerificationCodes,
) -> None:
    issue(codes)
    issue(codes, at=T0 + 1)
    wait = codes.issue("AIR26", SITI, T0 + 60)
    assert isinstance(wait, float) and 530 <= wait <= 540
    issue(codes, BUDI, T0 + 60)  # others are not held back
    codes.forget("AIR26", SITI)  # a send that failed does not count
    issue(codes, at=T0 + 61)
    issue(codes, at=T0 + 600)  # a new window


def test_a_voter_is_a_different_hash_in_every_poll() -> None:
    here, there = voter_hash(SECRET, "AIR26", BUDI.value), voter_hash(SECRET, "BBM26", BUDI.value)
    assert here != there and len(here) == 64 and "81234500011" not in here
    assert voter_hash(SECRET, "AIR26", BUDI.value) == here
    assert "81234500011" not in repr(BUDI)
