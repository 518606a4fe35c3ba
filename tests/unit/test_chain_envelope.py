"""The hash chain's envelope is written piece by piece on the append path (the head the appender
hashes, the rest after the previous hash, a new stream's first event in one go). An audit
recomputes each hash from the canonical JSON of the whole envelope: if the pieces ever differed
by one byte, `lapor audit verify` would call honest reports tampered with."""

from __future__ import annotations

import hashlib
import random
import string

from shared.store.chain import (
    GENESIS,
    canonical_json,
    envelope_head,
    envelope_rest,
    event_hash,
    finish_hash,
    first_hash,
)

ALPHABET = string.printable + 'éü漢字\u2028\x00\x1f\x7f"\\/'


def test_a_first_event_hashed_in_one_go_is_what_the_audit_recomputes() -> None:
    rng = random.Random(21)

    def text() -> str:
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))

    def maybe() -> str | None:
        return None if rng.random() < 0.3 else text()

    for _ in range(5000):
        event_id, event_type, stream, occurred_at = text(), text(), text(), text()
        correlation_id, causation_id = text(), text()
        region_code, agency_code = maybe(), maybe()
        schema_version = rng.randint(1, 10**6)
        actor = {"id": text(), "kind": maybe()}
        data = {text(): rng.choice([text(), None, 1.5e-7, -3, [text()]]) for _ in range(4)}
        audited = hashlib.sha256(
            canonical_json(
                {
                    "event_id": event_id,
                    "event_type": event_type,
                    "schema_version": schema_version,
                    "stream": stream,
                    "stream_version": 1,
                    "occurred_at": occurred_at,
                    "correlation_id": correlation_id,
                    "causation_id": causation_id,
                    "actor": actor,
                    "region_code": region_code,
                    "agency_code": agency_code,
                    "data": data,
                    "prev_hash": GENESIS,
                }
            ).encode()
        ).hexdigest()
        assert audited == event_hash(
            prev_hash=GENESIS,
            event_id=event_id,
            event_type=event_type,
            schema_version=schema_version,
            stream=stream,
            stream_version=1,
            occurred_at=occurred_at,
            correlation_id=correlation_id,
            causation_id=causation_id,
            actor=actor,
            region_code=region_code,
            agency_code=agency_code,
            data=data,
        )
        actor_json, data_json = canonical_json(actor), canonical_json(data)
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
        rest = envelope_rest(region_code, schema_version, stream)
        assert first_hash(head, rest) == audited
        started = hashlib.sha256(head.encode())
        assert finish_hash(started, rest, prev_hash=GENESIS, stream_version=1) == audited
