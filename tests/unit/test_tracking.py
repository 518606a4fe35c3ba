"""Tracking IDs: short, random, unambiguous on SMS and phone, and typo-proof."""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter

import pytest

from shared.reports.tracking import (
    ALPHABET,
    LENGTH,
    InvalidTrackingId,
    is_valid_tracking_id,
    new_access_code,
    new_tracking_id,
    normalize_tracking_id,
    random_symbols,
)

# Fixed samples (seeded, so a failure is reproducible) plus fresh ones from the real generator.
_rng = random.Random(1708)
SAMPLES = [
    *("".join(_rng.choice(ALPHABET) for _ in range(LENGTH - 1)) for _ in range(150)),
    "222222222",
    "ZZZZZZZZZ",
    "2Z2Z2Z2Z2",
    "Z2Z2Z2Z2Z",
]


def with_check(payload: str) -> str:
    """The one valid ID for a payload, found through the public API only."""
    [valid] = [payload + c for c in ALPHABET if is_valid_tracking_id(payload + c)]
    return valid


SAMPLE_IDS = [with_check(p) for p in SAMPLES] + [new_tracking_id() for _ in range(50)]


def test_the_alphabet_has_32_symbols_and_none_that_look_alike() -> None:
    assert len(ALPHABET) == len(set(ALPHABET)) == 32
    assert not set("01OI") & set(ALPHABET)
    assert not any(c.islower() for c in ALPHABET)


def test_a_new_id_is_ten_symbols_from_the_alphabet_and_valid() -> None:
    for _ in range(1000):
        tracking_id = new_tracking_id()
        assert re.fullmatch(f"[{ALPHABET}]{{{LENGTH}}}", tracking_id)
        assert normalize_tracking_id(tracking_id) == tracking_id


def test_every_payload_has_exactly_one_check_symbol() -> None:
    for payload in SAMPLES:
        assert len([c for c in ALPHABET if is_valid_tracking_id(payload + c)]) == 1


@pytest.mark.parametrize("tracking_id", SAMPLE_IDS)
def test_every_single_mistyped_symbol_is_rejected(tracking_id: str) -> None:
    for position in range(LENGTH):
        for symbol in ALPHABET:
            if symbol == tracking_id[position]:
                continue
            typo = tracking_id[:position] + symbol + tracking_id[position + 1 :]
            assert not is_valid_tracking_id(typo), f"{typo} (from {tracking_id}) was accepted"


@pytest.mark.parametrize("tracking_id", SAMPLE_IDS)
def test_every_swap_of_two_neighbours_is_rejected(tracking_id: str) -> None:
    for position in range(LENGTH - 1):  # includes swapping the check symbol itself
        a, b = tracking_id[position], tracking_id[position + 1]
        if a == b:
            continue
        swapped = tracking_id[:position] + b + a + tracking_id[position + 2 :]
        assert not is_valid_tracking_id(swapped), f"{swapped} (from {tracking_id}) was accepted"


def test_the_swap_luhn_mod_32_missed_is_caught() -> None:
    """Luhn mod 32 cannot tell "2Z" from "Z2" (the first and last symbols of the alphabet)."""
    for payload in ("2Z3456789", "3452Z6789", "ABCDEFG2Z"):
        tracking_id = with_check(payload)
        i = tracking_id.index("2Z")
        assert not is_valid_tracking_id(tracking_id[:i] + "Z2" + tracking_id[i + 2 :])
    last_two = with_check("AAAAAAAA2")
    if last_two[-1] == "Z":  # the check symbol swapped with its neighbour
        assert not is_valid_tracking_id(last_two[:-2] + "Z2")


def test_every_swap_of_any_two_symbols_is_rejected_too() -> None:
    for tracking_id in SAMPLE_IDS[:40]:
        for i in range(LENGTH):
            for j in range(i + 2, LENGTH):
                if tracking_id[i] == tracking_id[j]:
                    continue
                chars = list(tracking_id)
                chars[i], chars[j] = chars[j], chars[i]
                assert not is_valid_tracking_id("".join(chars))


@pytest.mark.parametrize(
    "typed",
    [
        "{id}",
        "{lower}",
        "{id_hyphen}",
        "  {lower_spaced}  ",
        "{id_dots}",
        "{id_underscore}",
        "{id_tab}",
    ],
)
def test_ids_are_accepted_as_people_type_them(typed: str) -> None:
    tracking_id = SAMPLE_IDS[0]
    text = typed.format(
        id=tracking_id,
        lower=tracking_id.lower(),
        id_hyphen=f"{tracking_id[:5]}-{tracking_id[5:]}",
        lower_spaced=f"{tracking_id[:3]} {tracking_id[3:6]} {tracking_id[6:]}".lower(),
        id_dots=f"{tracking_id[:5]}.{tracking_id[5:]}",
        id_underscore=f"{tracking_id[:5]}_{tracking_id[5:]}",
        id_tab=f"{tracking_id[:5]}\t{tracking_id[5:]}",
    )
    assert normalize_tracking_id(text) == tracking_id


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "ABC",
        "ABCDEFGHJKL",  # eleven
        "ABCDEFGH0K",  # zero
        "ABCDEFGHOK",  # letter O
        "ABCDEFGH1K",  # one
        "ABCDEFGHIK",  # letter I
        "ABCDE/FGHK",
        "ÄBCDEFGH2K",
    ],
)
def test_malformed_ids_are_rejected_with_a_reason(raw: str) -> None:
    with pytest.raises(InvalidTrackingId, match="tracking ID"):
        normalize_tracking_id(raw)


def test_a_look_alike_in_a_real_id_is_rejected_not_matched_to_another_report() -> None:
    tracking_id = next(t for t in SAMPLE_IDS if any(c in "2Z" for c in t))
    for real, fake in (("2", "Z"), ("Z", "2")):
        if real in tracking_id:
            assert not is_valid_tracking_id(tracking_id.replace(real, fake, 1))


def test_ids_are_random_not_sequential() -> None:
    ids = [new_tracking_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    # Sequential generators share long prefixes between neighbours; random ones almost never do.
    shared_prefixes = sum(a[:4] == b[:4] for a, b in itertools.pairwise(ids))
    assert shared_prefixes < 5
    # every symbol appears in every random position
    for position in range(LENGTH - 1):
        assert {i[position] for i in ids} == set(ALPHABET)
    # and no position is stuck or strongly biased (expected count per symbol ~312)
    for position in range(LENGTH - 1):
        counts = [sum(1 for i in ids if i[position] == s) for s in ALPHABET]
        assert min(counts) > 200 and max(counts) < 450
    assert ids != sorted(ids)


def test_access_codes_are_eight_random_symbols_from_the_same_alphabet() -> None:
    codes = [new_access_code() for _ in range(2000)]
    assert all(re.fullmatch(f"[{ALPHABET}]{{8}}", c) for c in codes)
    assert len(set(codes)) == len(codes)


def test_random_symbols_use_every_symbol_about_equally_often() -> None:
    # 64,000 draws: each of the 32 symbols expected 2,000 times; a skewed mapping (say a byte
    # taken modulo a size that does not divide 256) would be far outside these bounds.
    counts = Counter("".join(random_symbols(64) for _ in range(1000)))
    assert set(counts) == set(ALPHABET)
    assert all(1700 < n < 2300 for n in counts.values()), counts
