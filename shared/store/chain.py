"""The per-stream SHA-256 hash chain that makes the audit trail tamper-evident: the one
implementation every store adapter, the migration, the audit and the evidence pack use."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.store.port import NewEvent

GENESIS = "0" * 64
# What json.dumps(..., ensure_ascii=False) writes for a string (the C encoder where available).
_encode_string = json.encoder.encode_basestring


_make_encoder = getattr(json.encoder, "c_make_encoder", None)


def _not_serialisable(value: Any) -> Any:
    # What json.JSONEncoder.default says for a value it cannot write.
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def canonical_json(value: Any) -> str:
    """Keys sorted, compact, non-ASCII kept: `json.dumps(value, sort_keys=True, separators=(",",
    ":"), ensure_ascii=False)`, byte for byte. Every append writes and hashes it, so the C encoder
    json.dumps ends up in is called directly (json.dumps builds a JSONEncoder and its wrapper
    first: a fifth of the cost for an event's data)."""
    if _make_encoder is None:  # a Python built without the _json accelerator
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # A fresh markers dict each time: json.dumps's check for circular references, kept.
    encode = _make_encoder({}, _not_serialisable, _encode_string, None, ":", ",", True, False, True)
    return "".join(encode(value, 0))


def chain_hash(
    *,
    prev_hash: str,
    event_id: str,
    event_type: str,
    schema_version: int,
    stream: str,
    stream_version: int,
    occurred_at: str,
    correlation_id: str,
    causation_id: str,
    actor_json: str,
    region_code: str | None,
    agency_code: str | None,
    data_json: str,
) -> str:
    """`event_hash` from the canonical JSON of `actor` and `data` already made, so an append
    serialises the data once. The body is canonical_json of the same envelope: its keys in
    sorted order, each nested value in its own canonical form (what json.dumps would write)."""
    head = envelope_head(
        event_id,
        event_type,
        occurred_at,
        correlation_id,
        causation_id,
        actor_json,
        agency_code,
        data_json,
    )
    return finish_hash(
        hashlib.sha256(head.encode()),
        envelope_rest(region_code, schema_version, stream),
        prev_hash=prev_hash,
        stream_version=stream_version,
    )


# The envelope's keys in sorted order split where its place in the stream comes in: everything
# before "prev_hash" (the bulk: the data) can be hashed before the stream's head is known, i.e.
# by the appender rather than on the store's serial path; then the previous hash, the rest, and
# the version. Together they are the same bytes canonical_json writes for the whole envelope
# (keys sorted, compact, non-ASCII kept), each string escaped by the encoder json.dumps uses.
def envelope_head(
    event_id: str,
    event_type: str,
    occurred_at: str,
    correlation_id: str,
    causation_id: str,
    actor_json: str,
    agency_code: str | None,
    data_json: str,
) -> str:
    """The envelope's text up to its previous hash. Positional: every append makes one. (A
    `None` is written `null` wherever it comes, as canonical_json would.)"""
    return "".join(
        (
            '{"actor":',
            actor_json,
            ',"agency_code":',
            "null" if agency_code is None else _encode_string(agency_code),
            ',"causation_id":',
            "null" if causation_id is None else _encode_string(causation_id),
            ',"correlation_id":',
            "null" if correlation_id is None else _encode_string(correlation_id),
            ',"data":',
            data_json,
            ',"event_id":',
            "null" if event_id is None else _encode_string(event_id),
            ',"event_type":',
            "null" if event_type is None else _encode_string(event_type),
            ',"occurred_at":',
            "null" if occurred_at is None else _encode_string(occurred_at),
            ',"prev_hash":',
        )
    )


def envelope_rest(region_code: str | None, schema_version: int, stream: str) -> str:
    """The envelope between its previous hash and its stream version."""
    return "".join(
        (
            ',"region_code":',
            "null" if region_code is None else _encode_string(region_code),
            ',"schema_version":',
            int.__repr__(schema_version),
            ',"stream":',
            "null" if stream is None else _encode_string(stream),
            ',"stream_version":',
        )
    )


_GENESIS_TEXT = f'"{GENESIS}"'


def first_hash(head: str, rest: str) -> str:
    """The hex digest of a stream's first event from its `envelope_head` and `envelope_rest`:
    `finish_hash` after GENESIS at version 1, hashed in one go."""
    return hashlib.sha256("".join((head, _GENESIS_TEXT, rest, "1}")).encode()).hexdigest()


def finish_hash(started: hashlib._Hash, rest: str, *, prev_hash: str, stream_version: int) -> str:
    """The hex digest of SHA-256 fed an `envelope_head` (consumed: fed the rest) at its place
    in the stream."""
    started.update("".join((_text(prev_hash), rest, int.__repr__(stream_version), "}")).encode())
    return started.hexdigest()


def appended_hash(
    event: NewEvent,
    *,
    prev_hash: str,
    stream: str,
    stream_version: int,
    occurred_at: str,
    actor_json: str,
    data_json: str,
) -> str:
    """`chain_hash` of a new event at its place in its stream (every store appends this way)."""
    return chain_hash(
        prev_hash=prev_hash,
        event_id=str(event.event_id),
        event_type=event.event_type,
        schema_version=event.schema_version,
        stream=stream,
        stream_version=stream_version,
        occurred_at=occurred_at,
        correlation_id=event.correlation_id,
        causation_id=event.causation_id,
        actor_json=actor_json,
        region_code=event.region_code,
        agency_code=event.agency_code,
        data_json=data_json,
    )


def _text(value: str | None) -> str:
    return "null" if value is None else _encode_string(value)


def event_hash(
    *,
    prev_hash: str,
    event_id: str,
    event_type: str,
    schema_version: int,
    stream: str,
    stream_version: int,
    occurred_at: str,
    correlation_id: str,
    causation_id: str,
    actor: dict[str, Any],
    region_code: str | None,
    agency_code: str | None,
    data: dict[str, Any],
) -> str:
    """The SHA-256 link of one event: canonical JSON of its envelope, data and previous hash."""
    return chain_hash(
        prev_hash=prev_hash,
        event_id=event_id,
        event_type=event_type,
        schema_version=schema_version,
        stream=stream,
        stream_version=stream_version,
        occurred_at=occurred_at,
        correlation_id=correlation_id,
        causation_id=causation_id,
        actor_json=canonical_json(actor),
        region_code=region_code,
        agency_code=agency_code,
        data_json=canonical_json(data),
    )


@dataclass(frozen=True)
class ChainProblem:
    stream: str
    stream_version: int
    event_id: str
    problem: str

    def __str__(self) -> str:
        return f"{self.stream} v{self.stream_version} ({self.event_id}): {self.problem}"


def verify_chain(stream: str, rows: Iterable[dict[str, Any]]) -> list[ChainProblem]:
    """Check one stream's events (as stored, in stored order) against their hash chain.

    Names altered events (hash mismatch), missing events (version gap or broken link) and
    reordered events (versions out of order).
    """
    problems: list[ChainProblem] = []
    expected_version = 1
    prev = GENESIS
    for row in rows:
        version = int(row["stream_version"])
        event_id = str(row["event_id"])
        if version != expected_version:
            kind = "missing event(s) before it" if version > expected_version else "reordered"
            problems.append(
                ChainProblem(stream, version, event_id, f"{kind}: expected v{expected_version}")
            )
        if row["prev_hash"] != prev:
            problems.append(
                ChainProblem(stream, version, event_id, "link to previous event broken")
            )
        recomputed = event_hash(
            prev_hash=row["prev_hash"],
            event_id=event_id,
            event_type=row["event_type"],
            schema_version=int(row["schema_version"]),
            stream=stream,
            stream_version=version,
            occurred_at=row["occurred_at"],
            correlation_id=row["correlation_id"],
            causation_id=row["causation_id"],
            actor=row["actor"],
            region_code=row["region_code"],
            agency_code=row["agency_code"],
            data=row["data"],
        )
        if recomputed != row["hash"]:
            problems.append(
                ChainProblem(stream, version, event_id, "content altered (hash mismatch)")
            )
        prev = row["hash"]
        expected_version = version + 1
    return problems


def digest(value: Any) -> str:
    """SHA-256 of the canonical JSON of `value`."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def trail_digest(trail: Sequence[dict[str, Any]]) -> str:
    """The digest of a report's trail (its events as stored, in stream order): what
    EscalatedToOmbudsman records as `evidence_sha256` and the evidence pack as `trail_sha256`."""
    return digest(list(trail))
