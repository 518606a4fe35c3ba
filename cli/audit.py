"""`lapor audit verify`: recompute every hash chain and name what was altered, lost or reordered,
and check the stream heads the relay's signed checkpoints vouched for (a stream whose newest
events were deleted still has an intact chain: the checkpoints name it)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from shared.audit.checkpoints import CheckpointAudit, truncation_problem
from shared.audit.events import CHECKPOINT_STREAM, StoreCheckpointed
from shared.reports.lifecycle import stream_name
from shared.signing import key_id_of, verify_bytes
from shared.store.chain import ChainProblem, verify_chain
from shared.store.port import EventStore
from shared.store.sqlite import readonly_uri


@dataclass
class AuditResult:
    streams: int = 0
    events: int = 0
    checkpoints: int = 0
    uncovered: int = 0  # events after the newest signed checkpoint
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


async def audit_store(
    store: EventStore, tracking_id: str | None = None, public_key: bytes | None = None
) -> AuditResult:
    """Every stream's hash chain, and what the signed checkpoints vouched for: each stream still
    holds the newest event a checkpoint saw (else its tail was cut: named), and (for the whole
    store) the global order still makes every checkpoint's digest. `public_key`: the signing
    key's, to check the checkpoints' signatures (None: not checked, said so)."""
    result = AuditResult()
    checkpoints = await read_checkpoints(store, public_key, result)
    streams = [stream_name(tracking_id)] if tracking_id else await store.stream_names()
    for stream in streams:
        events = await store.read(stream)
        vouched = checkpoints.heads.get(stream)
        if tracking_id and not events and vouched is None:
            result.problems.append(f"{stream}: no such stream")
        result.streams += 1
        result.events += len(events)
        problems: list[ChainProblem] = verify_chain(stream, (e.stored_form() for e in events))
        result.problems.extend(str(p) for p in problems)
        if vouched is not None:
            stored = [(e.stream_version, e.hash) for e in events]
            cut = truncation_problem(stream, stored, vouched)
            if cut:
                result.problems.append(cut)
    if tracking_id is None:
        present = set(streams)
        for stream, vouched in sorted(checkpoints.heads.items()):
            if stream not in present:  # every event of it deleted
                result.problems.append(truncation_problem(stream, [], vouched) or stream)
        result.uncovered = checkpoints.global_order(await _global_order(store))
        result.problems.extend(checkpoints.problems)
    else:
        result.problems.extend(p for p in checkpoints.problems if "signature" in p)
    return result


async def read_checkpoints(
    store: EventStore, public_key: bytes | None, result: AuditResult
) -> CheckpointAudit:
    verify = partial(verify_bytes, public_key) if public_key is not None else None
    key_id = key_id_of(public_key) if public_key is not None else None
    audit = CheckpointAudit(verify=verify, key_id=key_id)
    events = await store.read(CHECKPOINT_STREAM)
    result.checkpoints = len(events)
    if events and public_key is None:
        result.notes.append(
            "no signing key in DATA_DIR/keys: the checkpoints' signatures were not checked"
        )
    for event in events:
        payload = event.payload()
        if isinstance(payload, StoreCheckpointed):
            audit.add_checkpoint(event.position, payload)
    return audit


async def _global_order(store: EventStore) -> list[str]:
    """Every event's hash in the store's global order."""
    order: list[str] = []
    position = 0
    while batch := await store.read_all(position, 5000):
        order.extend(e.hash for e in batch)
        position = batch[-1].position
    return order


def audit_sqlite_positions(path: Path) -> list[str]:
    """SQLite keeps global positions gap-free: a gap means an event was deleted."""
    conn = sqlite3.connect(readonly_uri(path), uri=True)
    try:
        problems: list[str] = []
        previous = 0
        for (position,) in conn.execute("SELECT position FROM events ORDER BY position"):
            if position != previous + 1:
                problems.append(
                    f"global positions {previous + 1}..{position - 1}: event(s) missing"
                )
            previous = position
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        if row and int(row[0]) > previous:
            problems.append(
                f"global positions {previous + 1}..{row[0]}: event(s) missing at the end"
            )
        guards = {
            name
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        }
        for guard in ("events_are_append_only_no_update", "events_are_append_only_no_delete"):
            if guard not in guards:
                problems.append(f"append-only guard {guard} was removed")
        return problems
    finally:
        conn.close()
