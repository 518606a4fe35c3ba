"""`lapor evidence verify FILE`: check an evidence pack offline.

An evidence pack (`GET sla /api/v1/reports/{id}/evidence.json`, format `lapor-evidence/1`) is a
report's whole trail, signed by the sla service. Anyone who holds it and the sla service's public
key (`GET sla /api/v1/evidence-key`, saved once) can check, with no LAPOR service running:

1. the Ed25519 signature over the canonical JSON of the document without its `signature`, with
   the key given (never with the key the document names: that one only says which key it claims);
2. the hash chain of the trail, recomputed event by event from the genesis hash;
3. `trail_sha256`, the digest of the trail;
4. for an escalated report, that the escalation's `evidence_sha256` is the digest of the trail the
   reporter escalated with (its first `evidence_covers_versions` events).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.store.chain import canonical_json, trail_digest, verify_chain

FORMAT = "lapor-evidence/1"
KEY_FILE = "sla-evidence-ed25519.pem"


class KeyProblem(ValueError):
    """The public key given cannot be read."""


@dataclass
class Verdict:
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def key_id(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


def read_public_key(text: str) -> bytes:
    """The raw 32-byte Ed25519 public key from what sla serves at /api/v1/evidence-key (its
    JSON), a PEM public key, or the base64 of the raw key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    stripped = text.strip()
    if stripped.startswith("{"):
        data = json.loads(stripped)
        stripped = str(data.get("public_key_pem") or data.get("public_key") or "")
    if "PRIVATE KEY" in stripped:  # the sla service's own key file, on its machine
        private = serialization.load_pem_private_key(stripped.encode(), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise KeyProblem("not an Ed25519 key")
        public: Any = private.public_key()
    elif stripped.startswith("-----BEGIN"):
        public = serialization.load_pem_public_key(stripped.encode())
        if not isinstance(public, Ed25519PublicKey):
            raise KeyProblem("not an Ed25519 public key")
    else:
        try:
            raw = base64.b64decode(stripped, validate=True)
        except ValueError as error:
            raise KeyProblem("neither JSON, PEM nor base64") from error
        if len(raw) != 32:
            raise KeyProblem("a raw Ed25519 public key has 32 bytes")
        return raw
    raw_key: bytes = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw_key


def _signature_ok(document: dict[str, Any], public_key: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    signature = document.get("signature")
    if not isinstance(signature, dict) or signature.get("algorithm") != "Ed25519":
        return False
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            base64.b64decode(str(signature.get("value", ""))), canonical_json(unsigned).encode()
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def check_pack(document: Any, public_key: bytes) -> Verdict:
    """Every check of the module docstring; a problem for each that fails."""
    verdict = Verdict()
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        verdict.problems.append(f"format: not a {FORMAT} document")
        return verdict
    claimed = (document.get("signature") or {}).get("key_id")
    if claimed is not None and claimed != key_id(public_key):
        verdict.problems.append(
            f"signature: signed with key {claimed}, not with the key given ({key_id(public_key)})"
        )
    elif _signature_ok(document, public_key):
        verdict.checks.append(f"signature: Ed25519, key {key_id(public_key)}")
    else:
        verdict.problems.append("signature: does not verify (the document was changed)")
    trail = document.get("trail")
    if not isinstance(trail, list) or not all(isinstance(e, dict) for e in trail):
        verdict.problems.append("trail: missing")
        return verdict
    stream = str(trail[0].get("stream", "")) if trail else ""
    try:
        broken = [str(p) for p in verify_chain(stream, trail)]
    except (KeyError, TypeError, ValueError) as error:
        broken = [f"unreadable event: {error}"]
    if broken:
        verdict.problems.extend(f"chain: {p}" for p in broken)
    else:
        head = trail[-1]["hash"] if trail else None
        verdict.checks.append(f"hash chain: {len(trail)} event(s) of {stream}, head {head}")
    if document.get("trail_sha256") == trail_digest(trail):
        verdict.checks.append("trail_sha256: matches the trail")
    else:
        verdict.problems.append("trail_sha256: does not match the trail")
    escalation = document.get("escalation")
    if isinstance(escalation, dict):
        covers = escalation.get("evidence_covers_versions")
        digest = escalation.get("evidence_sha256")
        if isinstance(covers, int) and digest == trail_digest(trail[:covers]):
            verdict.checks.append(
                f"escalation: to {escalation.get('ombudsman_office')}, its evidence_sha256 covers"
                f" the first {covers} event(s)"
            )
        else:
            verdict.problems.append("escalation: evidence_sha256 matches no part of the trail")
    return verdict


def local_key(data_dir: Path) -> bytes | None:
    """The public half of this machine's sla signing key, when sla runs here."""
    path = data_dir / "keys" / KEY_FILE
    return read_public_key(path.read_text()) if path.exists() else None
