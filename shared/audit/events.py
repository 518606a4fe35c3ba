"""Signed checkpoints of the event store: what makes a truncated stream detectable.

Each report's stream is hash-chained, but deleting its newest event leaves a shorter chain that is
still intact. So the relay, which reads the store's global order anyway, appends every few
seconds a `StoreCheckpointed` to the stream `audit-checkpoints`:

- `digest`: a hash chain over the global order (`prev_digest` + every event's position and hash
  in the range `(from_position, to_position]`): deleting any event in a covered range breaks it;
- `heads`: the newest version and hash of every stream that changed in the range, committed by
  `merkle_root` (a Merkle tree over the heads, so one head can be proved on its own);
- `signature`: Ed25519 (the key of shared/signing.py, also the evidence packs') over everything
  but the heads list itself, which the root stands for.

A checkpoint is an event like any other: it is kept in the store and published to JetStream by the
relay, so a copy exists outside the operator's database. `lapor audit verify [ID]` and the
evidence pack compare a stream with the heads the checkpoints vouched for and name the stream
whose newest events are gone.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from shared.events.base import DomainEvent

CHECKPOINT_STREAM = "audit-checkpoints"
HASH_PATTERN = r"^[0-9a-f]{64}$"


# A stream's newest event at the checkpoint: (stream, version, hash). Plain triples, not models:
# a checkpoint of a busy moment lists hundreds, and the relay writes them while it publishes.
Head = tuple[str, int, str]


class StoreCheckpointed(DomainEvent):
    event_type: ClassVar[str] = "StoreCheckpointed"

    from_position: int = Field(ge=0, description="Covers positions after this one…")
    to_position: int = Field(ge=1, description="…up to and including this one")
    events: int = Field(ge=1, description="How many events the range holds")
    prev_digest: str = Field(pattern=HASH_PATTERN)
    digest: str = Field(pattern=HASH_PATTERN, description="The global chain after this range")
    heads: tuple[Head, ...] = Field(
        description="(stream, version, hash) of every stream changed in the range, sorted"
    )
    merkle_root: str = Field(pattern=HASH_PATTERN)
    key_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    signature: str = Field(max_length=200, description="Ed25519, base64; see `signed_part`")


AUDIT_EVENTS: tuple[type[DomainEvent], ...] = (StoreCheckpointed,)
