"""The relay's audit checkpoints: every few seconds, a signed `StoreCheckpointed` over what it read.

The relay reads the store's global order anyway; `Checkpointer.observe` folds each batch it
published into the running global digest and the heads of the streams that changed. Once
`interval` seconds have passed since the last checkpoint (or `max_heads` streams changed), and
something other than checkpoints happened, it appends a checkpoint to `audit-checkpoints`, which
the relay then publishes to JetStream like every event. Where it stands (position, digest, the
checkpoint stream's version) is saved in relay.db; if that is lost or behind, the last checkpoint
in the store is the truth and the relay reads the store again from there.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge

from shared.audit.checkpoints import GENESIS_DIGEST, GlobalDigest, build_checkpoint
from shared.audit.events import CHECKPOINT_STREAM, StoreCheckpointed
from shared.events.base import Actor
from shared.logs import get_logger
from shared.signing import Signer
from shared.store.port import EventStore, NewEvent, RecordedEvent, WrongExpectedVersion

log = get_logger(__name__)

CHECKPOINTS = Counter("lapor_audit_checkpoints_total", "Signed store checkpoints appended")
CHECKPOINTED = Gauge(
    "lapor_audit_checkpoint_position", "Store position the newest signed checkpoint covers"
)
RELAY = Actor(kind="system", id="relay")
ID_SPACE = uuid.UUID("0b3c5e0e-6a43-4b8c-9d53-6c1f0c7e2a11")


@dataclass(frozen=True)
class Standing:
    """Where the checkpoints stand: the last position covered, its digest, the stream version."""

    position: int = 0
    digest: str = GENESIS_DIGEST
    version: int = 0


class StandingFile:
    """The checkpoints' standing in the relay's own SQLite file (beside its publish checkpoint)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        conn.execute(
            "CREATE TABLE IF NOT EXISTS audit_standing (id INTEGER PRIMARY KEY CHECK (id = 1),"
            " position INTEGER NOT NULL, digest TEXT NOT NULL, version INTEGER NOT NULL)"
        )

    def load(self) -> Standing | None:
        row = self._conn.execute(
            "SELECT position, digest, version FROM audit_standing WHERE id = 1"
        ).fetchone()
        return Standing(int(row[0]), str(row[1]), int(row[2])) if row else None

    def save(self, standing: Standing) -> None:
        self._conn.execute(
            "INSERT INTO audit_standing (id, position, digest, version) VALUES (1, ?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET position = excluded.position,"
            " digest = excluded.digest, version = excluded.version",
            (standing.position, standing.digest, standing.version),
        )


async def standing_in_store(store: EventStore) -> Standing:
    """The last checkpoint in the store (reads the checkpoint stream: only when relay.db does
    not know, or a checkpoint it does not know was appended)."""
    events = await store.read(CHECKPOINT_STREAM)
    if not events:
        return Standing()
    last = events[-1]
    payload = last.payload()
    assert isinstance(payload, StoreCheckpointed)
    return Standing(payload.to_position, payload.digest, last.stream_version)


class Checkpointer:
    def __init__(
        self,
        store: EventStore,
        signer: Signer,
        standing_file: StandingFile | None,
        *,
        interval: float = 5.0,
        max_heads: int = 2000,
        batch: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.signer = signer
        self.file = standing_file
        self.interval = interval
        self.max_heads = max_heads
        self.batch = batch
        self.clock = clock
        self.standing = Standing()
        self._reset(self.standing)

    def _reset(self, standing: Standing) -> None:
        self.standing = standing
        self.position = standing.position  # the last position folded in
        self.digest = GlobalDigest(standing.digest)
        self.heads: dict[str, tuple[int, str]] = {}
        self.news = False  # anything but checkpoints since the last one
        self.since = self.clock()

    async def start(self, upto: int) -> None:
        """Resume from relay.db (else the store's last checkpoint) and fold in what the store
        holds up to `upto` (where the relay resumes publishing)."""
        saved = self.file.load() if self.file is not None else None
        self._reset(saved if saved is not None else await standing_in_store(self.store))
        await self._catch_up(upto)
        CHECKPOINTED.set(self.standing.position)

    async def _catch_up(self, upto: int) -> None:
        while self.position < upto:
            events = await self.store.read_all(self.position, self.batch)
            events = [e for e in events if e.position <= upto]
            if not events:
                return
            await self.observe(events)

    async def observe(self, events: Sequence[RecordedEvent]) -> None:
        """Fold a batch of the global order in (what the relay just published); checkpoint when
        it is time."""
        for event in events:
            if event.position <= self.position:
                continue
            self.digest.add(event.hash)
            self.heads[event.stream] = (event.stream_version, event.hash)
            self.position = event.position
            if event.stream != CHECKPOINT_STREAM:
                self.news = True
            if len(self.heads) >= self.max_heads:
                await self.checkpoint()
        await self.tick()

    async def tick(self) -> None:
        """Checkpoint what was folded in, if there is news and the interval has passed."""
        if self.news and self.clock() - self.since >= self.interval:
            await self.checkpoint()

    async def checkpoint(self) -> StoreCheckpointed | None:
        if self.digest.events == 0:
            return None
        checkpoint = build_checkpoint(
            from_position=self.standing.position,
            to_position=self.position,
            digest=self.digest,
            heads=self.heads,
            key_id=self.signer.key_id,
            sign=self.signer.sign_bytes,
        )
        event = NewEvent.of(
            checkpoint,
            occurred_at=datetime.now(UTC),
            actor=RELAY,
            correlation_id=f"audit-checkpoint-{self.position}",
            event_id=uuid.uuid5(ID_SPACE, f"{self.standing.position}:{self.position}"),
        )
        upto = self.position
        try:
            stored = await self.store.append(CHECKPOINT_STREAM, [event], self.standing.version)
        except WrongExpectedVersion:
            # A checkpoint this relay did not know of (relay.db lost or restored): the store's
            # last checkpoint is the truth; fold in again from there.
            log.warning("audit_checkpoint_resync", position=self.position)
            self._reset(await standing_in_store(self.store))
            await self._catch_up(upto)
            return None
        standing = Standing(checkpoint.to_position, checkpoint.digest, stored[0].stream_version)
        self._reset(standing)
        if self.file is not None:
            try:
                self.file.save(standing)
            except sqlite3.Error as error:  # only a restart is slower: it reads the stream
                log.warning("audit_standing_not_saved", error=str(error))
        CHECKPOINTS.inc()
        CHECKPOINTED.set(standing.position)
        return checkpoint
