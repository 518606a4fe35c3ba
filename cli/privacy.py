"""`lapor privacy erase TRACKING_ID`: crypto-shred a reporter (UU 27/2022, the right to erasure).

The reporter's name and contact exist only inside ReportSubmitted's `reporter` blob, encrypted
with the report's own data key (`shared.crypto`). Deleting that key from `DATA_DIR/keys.db` makes
every copy unreadable - in the store, in NATS, in backups - while every event and every hash chain
stays exactly as stored, so `lapor audit verify` still passes. Afterwards intake's report page
says the identity was erased and notify records "cannot reach reporter (identity erased)".

The erasure itself is recorded as `ReporterIdentityErased` on `access-<tracking_id>` (fixed event
id: running the command again records nothing new).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.access.events import ReporterIdentityErased, access_stream
from shared.crypto import ErasureIncomplete
from shared.events.base import Actor
from shared.keys import open_key_store
from shared.reports.lifecycle import ReportNotFound, stream_name
from shared.reports.tracking import normalize_tracking_id
from shared.settings import Settings
from shared.store import open_store
from shared.store.port import ANY, NewEvent

ERASE_ATTEMPTS = 5
RETRY_PAUSE_SECONDS = 0.5
_ERASURE_NAMESPACE = uuid.UUID("0b6e9d5c-64a4-4c8e-9a3e-2f1f3c9a7e10")
ERASER = Actor(kind="system", id="lapor-privacy-erase")


class ErasureFailed(Exception):
    """The key is deleted, but its old bytes may still sit in keys.db's write-ahead log."""


@dataclass(frozen=True)
class ErasureResult:
    tracking_id: str
    key_deleted: bool  # a data key existed and this run deleted it
    already_erased: bool  # it was erased before this run
    attempts: int


def erase_reporter(
    settings: Settings,
    tracking_id: str,
    *,
    attempts: int = ERASE_ATTEMPTS,
    pause: float = RETRY_PAUSE_SECONDS,
) -> ErasureResult:
    """Delete the report's data key, finishing the shredding if a reader held the WAL.

    Raises InvalidTrackingId for a mistyped ID, ReportNotFound when no such report is stored, and
    ErasureFailed when the key's old pages could not be overwritten after `attempts` tries (the key
    is deleted and unusable even then; run the command again once the services are idle).
    Call from synchronous code (it runs its own event loop for the store).
    """
    if attempts < 1:
        raise ValueError("attempts: at least 1")
    tid = normalize_tracking_id(tracking_id)
    asyncio.run(_require_report(settings, tid))
    keys = open_key_store(settings)
    try:
        already = keys.is_erased(tid)
        deleted: bool | None = None
        result: ErasureResult | None = None
        for attempt in range(1, attempts + 1):
            try:
                outcome = keys.erase(tid)
            except ErasureIncomplete:
                # The DELETE committed; only the WAL checkpoint was blocked by a reader. The first
                # run deleted the key (unless it was erased before): remember that, then retry.
                deleted = deleted if deleted is not None else not already
                if attempt == attempts:
                    raise ErasureFailed(
                        f"{tid}: key deleted but not yet overwritten on disk; run again"
                    ) from None
                time.sleep(pause * attempt)
                continue
            deleted = deleted if deleted is not None else outcome
            result = ErasureResult(
                tid, key_deleted=deleted, already_erased=already, attempts=attempt
            )
            break
    finally:
        keys.close()
    assert result is not None
    asyncio.run(_record(settings, result))
    return result


async def _require_report(settings: Settings, tracking_id: str) -> None:
    store = open_store(settings.event_store_url)
    try:
        if not await store.read(stream_name(tracking_id)):
            raise ReportNotFound(f"no report {tracking_id}")
    finally:
        await store.close()


async def _record(settings: Settings, result: ErasureResult) -> None:
    """ReporterIdentityErased on the access stream, once (a fixed event id per report)."""
    store = open_store(settings.event_store_url)
    try:
        event = NewEvent.of(
            ReporterIdentityErased(tracking_id=result.tracking_id, key_deleted=result.key_deleted),
            occurred_at=datetime.now(UTC),
            actor=ERASER,
            correlation_id=f"privacy-erase-{result.tracking_id}",
            event_id=uuid.uuid5(_ERASURE_NAMESPACE, result.tracking_id),
        )
        await store.append(access_stream(result.tracking_id), [event], expected_version=ANY)
    finally:
        await store.close()


def erase_command(settings: Settings, tracking_id: str) -> int:
    """The CLI's body: print what happened; the exit code (0 done, 1 not found/failed, 2 bad ID)."""
    from shared.reports.tracking import InvalidTrackingId

    try:
        result = erase_reporter(settings, tracking_id)
    except InvalidTrackingId as error:
        print(f"TRACKING_ID: {error}")
        return 2
    except ReportNotFound as error:
        print(f"not erased: {error}")
        return 1
    except ErasureFailed as error:
        print(f"erasure INCOMPLETE: {error}")
        return 1
    if result.already_erased:
        print(f"{result.tracking_id}: the reporter's identity was already erased")
    elif result.key_deleted:
        print(f"{result.tracking_id}: reporter's identity and contact erased (data key destroyed)")
    else:
        print(f"{result.tracking_id}: no identity was stored; marked as erased")
    return 0
