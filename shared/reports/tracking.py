"""Tracking IDs: random, short, unambiguous on SMS and phone, with a check character.

Alphabet: digits 2-9 and letters without I and O (no 0/O, 1/I confusion), 32 symbols.
Nine random symbols (45 bits) and one check symbol, so a typo is rejected rather than finding
someone else's report. The check is a weighted sum over GF(32): symbol k (counted from the right,
the check symbol being k=0) is multiplied by alpha**k, alpha a primitive element, and the sum of a
valid ID is zero. The weights are distinct and non-zero, so every single mistyped symbol and every
swap of two symbols (neighbours or not) changes the sum. (Luhn mod 32, used before, misses the
swap of the first and the last symbol of the alphabet: "2Z" <-> "Z2".)
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


_GF32_MODULUS = 0b100101  # x^5 + x^2 + 1, primitive: x (= 2) generates all 31 non-zero elements


def _gf32_mul(a: int, b: int) -> int:
    product = 0
    while b:
        if b & 1:
            product ^= a
        b >>= 1
        a <<= 1
        if a & 0b100000:
            a ^= _GF32_MODULUS
    return product


def _weights(count: int) -> list[int]:
    weights = [1]
    for _ in range(count - 1):
        weights.append(_gf32_mul(weights[-1], 2))
    return weights


_WEIGHTS = _weights(LENGTH)  # alpha**0 .. alpha**(LENGTH-1), distinct because LENGTH < 31


def _check_symbol(payload: str) -> str:
    total = 0
    for weight, char in zip(_WEIGHTS[1:], reversed(payload), strict=True):
        total ^= _gf32_mul(weight, _INDEX[char])
    return ALPHABET[total]  # in GF(2^k) minus is plus: adding it makes the weighted sum zero


def random_symbols(count: int) -> str:
    """`count` symbols drawn uniformly from ALPHABET (a byte's low 5 bits: 256 = 8 x 32), from
    one call to the OS's random source rather than one a symbol."""
    return "".join(ALPHABET[byte & 31] for byte in secrets.token_bytes(count))


def new_tracking_id() -> str:
    payload = random_symbols(RANDOM_LENGTH)
    return payload + _check_symbol(payload)


def normalize_tracking_id(raw: str) -> str:
    """Uppercase, drop separators, map look-alikes, and verify the check symbol."""
    text = _SEPARATORS.sub("", raw).upper().replace("0", "O").replace("1", "I")
    # O and I are not in the alphabet: a reader who typed them meant nothing valid.
    if len(text) != LENGTH or any(c not in _INDEX for c in text):
        raise InvalidTrackingId(
            f"ID laporan harus {LENGTH} karakter dari {ALPHABET}"
            f" / tracking ID must be {LENGTH} characters from {ALPHABET}"
        )
    if _check_symbol(text[:-1]) != text[-1]:
        raise InvalidTrackingId(
            "karakter pemeriksa ID laporan tidak cocok (salah ketik?)"
            " / tracking ID check character does not match (a typo?)"
        )
    return text


def is_valid_tracking_id(raw: str) -> bool:
    try:
        normalize_tracking_id(raw)
    except InvalidTrackingId:
        return False
    return True


def new_access_code() -> str:
    """Eight symbols (40 bits) from the same unambiguous alphabet."""
    return random_symbols(8)
