"""Sealed answers: a poll's answers are encrypted until it closes (pure; no I/O, no randomness).

Every answer is sealed with the poll's own ballot key (AES-256-GCM) before it is stored, so the
store, JetStream and every NATS subscriber hold ciphertext only: nobody can count a running poll.
The key is released in `PollClosed` when the poll closes and the tallies are computed from the
opened answers; from then on anyone with the stream can open every answer and check the counts.

The sealed form is base64url(nonce || ciphertext) of the canonical JSON of
`{"answers", "comment", "region_code"}`, bound (associated data) to the poll's code and the
voter's hash, so a sealed answer cannot be moved to another poll or voter. The nonce comes with
the command (the caller draws it), which keeps `decide` a pure function.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12


class BallotSealBroken(ValueError):
    """A sealed answer that does not open with the key given (wrong key, or altered)."""


def _associated(code: str, voter_hash: str) -> bytes:
    return f"lapor-poll-ballot:{code}:{voter_hash}".encode()


def seal(key: bytes, nonce: bytes, code: str, voter_hash: str, content: dict[str, Any]) -> str:
    if len(key) != KEY_BYTES or len(nonce) != NONCE_BYTES:
        raise ValueError("ballot_key: 32 bytes and a 12-byte nonce are needed to seal an answer")
    plain = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    sealed = AESGCM(key).encrypt(nonce, plain, _associated(code, voter_hash))
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def open_sealed(key: bytes, code: str, voter_hash: str, sealed: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
        plain = AESGCM(key).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], _associated(code, voter_hash)
        )
    except (InvalidTag, ValueError) as error:
        raise BallotSealBroken(f"the sealed answer of {voter_hash[:12]}… does not open") from error
    content: dict[str, Any] = json.loads(plain)
    return content


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def decode_key(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode())
