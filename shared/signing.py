"""One Ed25519 key that signs what LAPOR vouches for: the evidence packs (sla) and the audit
checkpoints of the event store (the relay). Shared here because two services need it.

The key is generated once under `key_dir` (0600), the first process to create it wins, and every
replica and both services load the same key: one public key (`GET /api/v1/evidence-key`)
verifies everything. `key_id` is the first 16 hex digits of the SHA-256 of the raw 32-byte
public key.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.store.chain import canonical_json

KEY_FILE = "sla-evidence-ed25519.pem"  # the name it had when only sla signed; kept


def key_id_of(public_key_raw: bytes) -> str:
    return hashlib.sha256(public_key_raw).hexdigest()[:16]


class Signer:
    """An Ed25519 key generated once under `key_dir` (0600), shared by every replica."""

    def __init__(self, key_dir: Path) -> None:
        self.path = key_dir / KEY_FILE
        self._key = self._load_or_create(key_dir)
        raw = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_key_raw = raw
        self.key_id = key_id_of(raw)

    def _load_or_create(self, key_dir: Path) -> Ed25519PrivateKey:
        key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            temporary = key_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(8)}.tmp"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(pem)
                    handle.flush()
                    os.fsync(handle.fileno())
                # link() fails if another process created the key first: then that key wins.
                with contextlib.suppress(FileExistsError):
                    os.link(temporary, self.path)
            finally:
                temporary.unlink(missing_ok=True)
        loaded = serialization.load_pem_private_key(self.path.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError(f"{self.path} does not hold an Ed25519 private key")
        return loaded

    @property
    def public_key_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def public_key_json(self) -> dict[str, str]:
        return {
            "algorithm": "Ed25519",
            "key_id": self.key_id,
            "public_key": base64.b64encode(self.public_key_raw).decode(),
            "public_key_pem": self.public_key_pem,
        }

    def sign_bytes(self, data: bytes) -> str:
        """The signature of `data`, base64."""
        return base64.b64encode(self._key.sign(data)).decode()

    def sign(self, document: dict[str, Any]) -> dict[str, Any]:
        """The document with a `signature` member over everything else in it."""
        unsigned = {k: v for k, v in document.items() if k != "signature"}
        return unsigned | {
            "signature": {
                "algorithm": "Ed25519",
                "key_id": self.key_id,
                "public_key": base64.b64encode(self.public_key_raw).decode(),
                "signed": "canonical JSON (sorted keys, no spaces, UTF-8) of the document"
                " without its signature member",
                "value": self.sign_bytes(canonical_json(unsigned).encode()),
            }
        }


def verify_bytes(public_key_raw: bytes, data: bytes, signature: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key_raw).verify(base64.b64decode(signature), data)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_document(document: dict[str, Any], public_key_raw: bytes) -> bool:
    """True when the document's signature verifies with the given raw Ed25519 public key."""
    signature = document.get("signature")
    if not isinstance(signature, dict) or signature.get("algorithm") != "Ed25519":
        return False
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    value = signature.get("value")
    if not isinstance(value, str):
        return False
    return verify_bytes(public_key_raw, canonical_json(unsigned).encode(), value)


def public_key_of(key_dir: Path) -> bytes | None:
    """The raw public key of the signing key under `key_dir`, without creating one (audits)."""
    path = key_dir / KEY_FILE
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(loaded, Ed25519PrivateKey):
        return None
    return loaded.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
