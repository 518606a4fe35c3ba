"""Tracking IDs: random, short, unambiguous on SMS and phone, with a check character.

Alphabet: digits 2-9 and letters without I and O (no 0/O, 1/I confusion), 32 symbols.
Nine random symbols (45 bits) and one Luhn mod 32 check symbol, which catches every single
mistyped symbol and every swap of two neighbours, so a typo is rejected rather than finding
someone else's report.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
RANDOM_LENGTH = 9
LENGTH = RANDOM_LENGTH + 1
_SEPARATORS = re.compile(r"[\s\-_.]")


class InvalidTrackingId(ValueError):
    pass


def _check_symbol(payload: str) -> str:
    n = len(ALPHABET)
    factor = 2
    total = 0
    for char in reversed(payload):
        addend = factor * _INDEX[char]
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return ALPHABET[(n - total % n) % n]


def new_tracking_id() -> str:
    payload = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return payload + _check_symbol(payload)


def normalize_tracking_id(raw: str) -> str:
    """Uppercase, drop separators, map look-alikes, and verify the check symbol."""
    text = _SEPARATORS.sub("", raw).upper().replace("0", "O").replace("1", "I")
    # O and I are not in the alphabet: a reader who typed them meant nothing valid.
    if len(text) != LENGTH or any(c not in _INDEX for c in text):
        raise InvalidTrackingId(f"tracking ID must be {LENGTH} characters from {ALPHABET}")
    if _check_symbol(text[:-1]) != text[-1]:
        raise InvalidTrackingId("tracking ID check character does not match")
    return text


def is_valid_tracking_id(raw: str) -> bool:
    try:
        normalize_tracking_id(raw)
    except InvalidTrackingId:
        return False
    return True


def new_access_code() -> str:
    """Eight symbols (40 bits) from the same unambiguous alphabet."""
    return "".join(secrets.choice(ALPHABET) for _ in range(8))
