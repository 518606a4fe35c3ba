"""Where the per-report data keys live: where every replica of every service reads them.

With the SQLite event store the keys are tables of the event store's own database file (every
process that can append a report can also read its key; a backup of the store is a backup of the
keys, see docs/operations.md). `LAPOR_KEY_STORE=sqlite:///PATH` puts them elsewhere (with
KurrentDB: a SQLite file on storage the replicas share). An old `DATA_DIR/keys.db` from before is
moved in once, erasures included, and removed.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

from shared.crypto import EncryptedBlob, KeyStore
from shared.logs import get_logger
from shared.runtime.projection import disk_trouble
from shared.settings import Settings
from shared.store.port import StoreUnavailable

log = get_logger(__name__)

LEGACY_FILE = "keys.db"


def key_store_path(settings: Settings) -> Path:
    if settings.key_store:
        if not settings.key_store.startswith("sqlite:///"):
            raise ValueError("key_store: only sqlite:///PATH is supported")
        return Path(settings.key_store.removeprefix("sqlite:///"))
    url = settings.event_store_url
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    return settings.data_dir / LEGACY_FILE


class KeysInTheStore(KeyStore):
    """The data keys in the event store's own database: a key that cannot be written (full disk,
    read-only, locked) is the store being unavailable, and says so (503, nothing stored).

    A new key is committed without an fsync of its own (synchronous=NORMAL): the event that
    carries the reporter encrypted with it is appended after it to the same file, whose store
    commits with synchronous=FULL, and that commit's fsync of the write-ahead log makes every
    frame before it durable, the key's too (a checkpoint syncs the log before it copies it, and
    the database file before the log is reused). So a report accepted has its key on disk; a
    crash between the two loses only a key no event names. One fsync per report instead of two
    (≈ 80-150 µs of CPU each here, bench/RESULTS.md round 6). An erasure keeps its own."""

    NEW_KEY_SYNC = "NORMAL"

    def encrypt(self, key_id: str, payload: dict[str, Any]) -> EncryptedBlob:
        try:
            return super().encrypt(key_id, payload)
        except sqlite3.OperationalError as error:
            if disk_trouble(error):
                raise StoreUnavailable(f"data keys: {error}") from error
            raise

    async def encrypt_async(self, key_id: str, payload: dict[str, Any]) -> EncryptedBlob:
        try:
            return await super().encrypt_async(key_id, payload)
        except sqlite3.OperationalError as error:
            if disk_trouble(error):
                raise StoreUnavailable(f"data keys: {error}") from error
            raise


def open_key_store(settings: Settings) -> KeyStore:
    path = key_store_path(settings)
    in_store = settings.event_store_url == f"sqlite:///{path}"
    keys = (KeysInTheStore if in_store else KeyStore)(path, settings.master_secret)
    legacy = settings.data_dir / LEGACY_FILE
    if legacy.exists() and legacy.resolve() != path.resolve():
        migrate_legacy(legacy, path)
    return keys


def migrate_legacy(legacy: Path, target: Path) -> int:
    """Move the keys and erasures of an old keys.db into `target` (once, whoever comes first).
    Returns how many keys were moved."""
    conn = sqlite3.connect(target, isolation_level=None, uri=False)
    try:
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("BEGIN IMMEDIATE")  # one process migrates; the others find it done
        if not legacy.exists():
            conn.execute("ROLLBACK")
            return 0
        conn.execute("ATTACH DATABASE ? AS legacy", (f"file:{legacy}?mode=ro",))
        try:
            moved = conn.execute(
                "INSERT OR IGNORE INTO data_keys (key_id, wrapped, created_at)"
                " SELECT key_id, wrapped, created_at FROM legacy.data_keys"
                " WHERE key_id NOT IN (SELECT key_id FROM erasures)"
            ).rowcount
            conn.execute(
                "INSERT OR IGNORE INTO erasures (key_id, erased_at)"
                " SELECT key_id, erased_at FROM legacy.erasures"
            )
            conn.execute("DELETE FROM data_keys WHERE key_id IN (SELECT key_id FROM erasures)")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("DETACH DATABASE legacy")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{legacy}{suffix}").unlink(missing_ok=True)
        log.info("data_keys_moved", keys=moved, to=str(target))
        return moved
    finally:
        conn.close()
