"""Audit checkpoints, pure: the global digest chain, the Merkle tree over stream heads, building
and checking a `StoreCheckpointed` (see events.py for what it is for). No I/O: the relay writes
checkpoints (services/relay/audit.py); `lapor audit verify` and sla's evidence pack check them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.audit.events import CHECKPOINT_STREAM, Head, StoreCheckpointed
from shared.signing import KEY_FILE
from shared.store.chain import canonical_json

GENESIS_DIGEST = "0" * 64


# --- the chain over the global order ------------------------------------------------------------
class GlobalDigest:
    """SHA-256 over `prev_digest` and then every event's hash (and `;`), in global order.

    Positions are left out on purpose: a store migrated to another adapter keeps the order and
    the hashes but numbers its positions anew, and its checkpoints must still verify."""

    def __init__(self, prev_digest: str = GENESIS_DIGEST) -> None:
        self.prev_digest = prev_digest
        self._hash = hashlib.sha256(prev_digest.encode())
        self.events = 0

    def add(self, event_hash: str) -> None:
        self._hash.update(f"{event_hash};".encode())
        self.events += 1

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


# --- the Merkle tree over heads -----------------------------------------------------------------
def leaf_hash(head: Head) -> bytes:
    """SHA-256 of 0x00 and `<len(stream)>:<stream>:<version>:<hash>` (unambiguous, cheap)."""
    stream, version, event_hash = head
    text = f"{len(stream)}:{stream}:{version}:{event_hash}"
    return hashlib.sha256(b"\x00" + text.encode()).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    levels = [list(leaves) or [hashlib.sha256(b"").digest()]]
    while len(levels[-1]) > 1:
        below = levels[-1]
        above = [
            _node(below[i], below[i + 1]) if i + 1 < len(below) else below[i]
            for i in range(0, len(below), 2)
        ]
        levels.append(above)
    return levels


def merkle_root(heads: Sequence[Head]) -> str:
    return _levels([leaf_hash(h) for h in heads])[-1][0].hex()


def merkle_proof(heads: Sequence[Head], index: int) -> list[dict[str, str]]:
    """The sibling hashes from leaf `index` up to the root: `{"side": "left"|"right", "hash"}`
    (the side the sibling is on)."""
    proof: list[dict[str, str]] = []
    for level in _levels([leaf_hash(h) for h in heads])[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(
                {"side": "left" if sibling < index else "right", "hash": level[sibling].hex()}
            )
        index //= 2
    return proof


def root_from_proof(head: Head, proof: Iterable[Mapping[str, str]]) -> str:
    node = leaf_hash(head)
    for step in proof:
        sibling = bytes.fromhex(step["hash"])
        node = _node(sibling, node) if step["side"] == "left" else _node(node, sibling)
    return node.hex()


# --- a checkpoint -------------------------------------------------------------------------------
SIGNED_FIELDS = (
    "from_position",
    "to_position",
    "events",
    "prev_digest",
    "digest",
    "merkle_root",
    "key_id",
)


def signed_part(checkpoint: StoreCheckpointed | Mapping[str, Any]) -> dict[str, Any]:
    """What the signature covers: every field but the heads (their root stands for them)."""
    data = checkpoint.model_dump() if isinstance(checkpoint, StoreCheckpointed) else checkpoint
    return {name: data[name] for name in SIGNED_FIELDS}


def signed_bytes(part: Mapping[str, Any]) -> bytes:
    return canonical_json(dict(part)).encode()


def build_checkpoint(
    *,
    from_position: int,
    to_position: int,
    digest: GlobalDigest,
    heads: Mapping[str, tuple[int, str]],
    key_id: str,
    sign: Callable[[bytes], str],
) -> StoreCheckpointed:
    ordered = tuple(
        (stream, version, event_hash) for stream, (version, event_hash) in sorted(heads.items())
    )
    part = {
        "from_position": from_position,
        "to_position": to_position,
        "events": digest.events,
        "prev_digest": digest.prev_digest,
        "digest": digest.hexdigest(),
        "merkle_root": merkle_root(ordered),
        "key_id": key_id,
    }
    return StoreCheckpointed(**part, heads=ordered, signature=sign(signed_bytes(part)))


def checkpoint_is_genuine(
    checkpoint: StoreCheckpointed, verify: Callable[[bytes, str], bool]
) -> bool:
    """Its heads make its root, and the signature over the rest verifies."""
    if merkle_root(checkpoint.heads) != checkpoint.merkle_root:
        return False
    return verify(signed_bytes(signed_part(checkpoint)), checkpoint.signature)


def head_evidence(checkpoint: StoreCheckpointed, position: int, stream: str) -> dict[str, Any]:
    """What proves on its own that the checkpoint at `position` vouched for `stream`'s head: the
    head, its Merkle proof, the signed part and the signature (for the evidence pack)."""
    index = next(i for i, h in enumerate(checkpoint.heads) if h[0] == stream)
    name, version, event_hash = checkpoint.heads[index]
    return {
        "position": position,
        "head": {"stream": name, "version": version, "hash": event_hash},
        "merkle_proof": merkle_proof(checkpoint.heads, index),
        "signed": signed_part(checkpoint),
        "signature": checkpoint.signature,
        "algorithm": "Ed25519 over the canonical JSON of `signed`; `merkle_root` in it is the"
        " root of leaves SHA-256(0x00 || '<len(stream)>:<stream>:<version>:<hash>') and nodes"
        " SHA-256(0x01 || left || right), an odd node carried up as it is",
    }


def head_evidence_holds(evidence: Mapping[str, Any], verify: Callable[[bytes, str], bool]) -> bool:
    given = evidence["head"]
    head = (str(given["stream"]), int(given["version"]), str(given["hash"]))
    if root_from_proof(head, evidence["merkle_proof"]) != evidence["signed"]["merkle_root"]:
        return False
    return verify(signed_bytes(evidence["signed"]), evidence["signature"])


# --- checking streams against the heads ---------------------------------------------------------
@dataclass
class VouchedHead:
    version: int
    hash: str
    checkpoint_position: int


def truncation_problem(
    stream: str, stored: Sequence[tuple[int, str]], vouched: VouchedHead
) -> str | None:
    """`stored`: the stream's (version, hash) as stored now. A problem when the newest head a
    signed checkpoint vouched for is not there (or not as vouched)."""
    by_version = dict(stored)
    have = by_version.get(vouched.version)
    if have == vouched.hash:
        return None
    newest = max(by_version, default=0)
    where = f"signed checkpoint at position {vouched.checkpoint_position}"
    if have is None and newest < vouched.version:
        return (
            f"{stream}: its newest event(s) were deleted: v{vouched.version}"
            f" ({vouched.hash[:12]}…) was vouched for by the {where}, the stream ends at"
            f" v{newest}"
        )
    return f"{stream} v{vouched.version}: not the event the {where} vouched for"


@dataclass
class CheckpointAudit:
    """Every checkpoint of the store, in order, checked as a chain; the newest vouched head of
    each stream. Feed it the checkpoint stream's events, then (for the global digest) every
    event of the store in global order."""

    verify: Callable[[bytes, str], bool] | None
    # The id of the key `verify` checks with: a checkpoint of another key is named as such.
    key_id: str | None = None
    our_key_vouched: bool = False  # a checkpoint verified with `verify`'s key
    problems: list[str] = field(default_factory=list)
    heads: dict[str, VouchedHead] = field(default_factory=dict)
    checkpoints: list[tuple[int, StoreCheckpointed]] = field(default_factory=list)

    def add_checkpoint(self, position: int, checkpoint: StoreCheckpointed) -> None:
        where = f"{CHECKPOINT_STREAM} at position {position}"
        if self.verify is not None and not checkpoint_is_genuine(checkpoint, self.verify):
            if self._another_key(checkpoint):
                # Most often a restore without the signing key: say which file to put back.
                self.problems.append(
                    f"{where}: signed with key {checkpoint.key_id}, but the signing key here"
                    f" (DATA_DIR/keys/{KEY_FILE}) is key {self.key_id}: if this store was"
                    " restored, put back the key it was signed with (docs/operations.md,"
                    " Backing up, step 4) and audit again; if no backup holds that key, the"
                    " checkpoint cannot be vouched for (it may be forged)"
                )
            else:
                self.problems.append(
                    f"{where}: signature or heads do not verify (forged or altered)"
                )
            return
        self.our_key_vouched = self.our_key_vouched or self.verify is not None
        if self.checkpoints:
            _, previous = self.checkpoints[-1]
            if (checkpoint.from_position, checkpoint.prev_digest) != (
                previous.to_position,
                previous.digest,
            ):
                self.problems.append(f"{where}: does not follow the checkpoint before it")
        elif checkpoint.prev_digest != GENESIS_DIGEST or checkpoint.from_position != 0:
            self.problems.append(f"{where}: the first checkpoint does not start the chain")
        self.checkpoints.append((position, checkpoint))
        for stream, version, event_hash in checkpoint.heads:
            known = self.heads.get(stream)
            if known is None or version >= known.version:
                self.heads[stream] = VouchedHead(version, event_hash, position)

    def _another_key(self, checkpoint: StoreCheckpointed) -> bool:
        """Signed by a key not ours before ours vouched for anything: the store was run with
        another key (a restore without it). After ours has signed, another key is a forgery."""
        return (
            self.key_id is not None
            and checkpoint.key_id != self.key_id
            and not self.our_key_vouched
        )

    def global_order(self, hashes: Iterable[str]) -> int:
        """Recompute every checkpoint's digest from the store's event hashes in global order
        (checkpoint k covers the next `events` of them); returns how many events come after the
        last checkpoint (not covered yet). A deletion or insertion shifts every later range, so
        the first range that does not match is named and the later ones only counted."""
        stream = iter(hashes)
        for index, (position, checkpoint) in enumerate(self.checkpoints):
            digest = GlobalDigest(checkpoint.prev_digest)
            for event_hash in stream:
                digest.add(event_hash)
                if digest.events == checkpoint.events:
                    break
            if digest.events != checkpoint.events or digest.hexdigest() != checkpoint.digest:
                later = len(self.checkpoints) - index - 1
                self.problems.append(
                    f"global order up to position {checkpoint.to_position} (signed checkpoint at"
                    f" {position}, {checkpoint.events} events from position"
                    f" {checkpoint.from_position + 1}): event(s) deleted, altered, inserted or"
                    " reordered since it was signed"
                    + (f"; {later} later checkpoint(s) shifted by it" if later else "")
                )
                return 0
        return sum(1 for _ in stream)
