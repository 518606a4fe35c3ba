"""Envelope encryption of reporters' personal data, with crypto-shredding.

Each report gets its own random AES-256-GCM data key. The data key is stored wrapped (AES-GCM
with a key-encryption key derived from the master secret) in the key store, a small SQLite file
apart from the event store. Deleting a report's data key makes every copy of that reporter's
identity unreadable, while the event store and its hash chains stay intact.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import BaseModel, ConfigDict


def derive_key(master_secret: bytes, purpose: str, length: int = 32) -> bytes:
    """Separate keys per purpose from one master secret (HKDF-SHA256)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=b"lapor-v1", info=purpose.encode()
    ).derive(master_secret)


def keyed_hash(master_secret: bytes, purpose: str, value: str) -> str:
    """A pseudonymous, non-reversible fingerprint (HMAC-SHA256) of a value."""
    key = derive_key(master_secret, f"hash:{purpose}")
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode())


class EncryptedBlob(BaseModel):
    """Ciphertext of personal data; `key_id` names the data key in the key store."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    nonce: str
    ciphertext: str


class KeyErased(Exception):
    """The data key was deleted (crypto-shredded): the person can no longer be identified."""


class ErasureIncomplete(Exception):
    """The key is deleted, but another connection was still reading old pages, so its bytes may
    remain in the write-ahead log on disk. Call `erase` again (it is idempotent) to finish."""


@dataclass
class _KeyRequest:
    key_id: str
    payload: dict[str, Any]
    outcome: asyncio.Future[EncryptedBlob]


class KeyStore:
    """Wrapped data keys in SQLite. Deletion is real: `secure_delete` overwrites freed pages."""

    # How a new data key's commit reaches the disk: with an fsync of its own, unless a later
    # commit that must follow it syncs the same write-ahead log (`shared.keys.KeysInTheStore`).
    # An erasure always has its own.
    NEW_KEY_SYNC = "FULL"

    def __init__(self, path: Path, master_secret: bytes) -> None:
        self._path = path
        self._kek = AESGCM(derive_key(master_secret, "key-wrapping"))
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={self.NEW_KEY_SYNC}")
        self._conn.execute("PRAGMA secure_delete=ON")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS data_keys ("
            " key_id TEXT PRIMARY KEY, wrapped BLOB NOT NULL, created_at TEXT NOT NULL)"
        )
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS erasures (key_id TEXT PRIMARY KEY, erased_at TEXT NOT NULL)"
        )
        # encrypt_async: what each event loop waits for, written together off the loop.
        self._waiting: dict[asyncio.AbstractEventLoop, list[_KeyRequest]] = {}
        self._drains: set[asyncio.Task[None]] = set()

    def close(self) -> None:
        self._conn.close()

    def _get_or_create(self, key_id: str) -> bytes:
        with self._lock:
            found = self._find_or_make(key_id)
        if isinstance(found, KeyErased):
            raise found
        return found

    def _unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        return self._kek.decrypt(wrapped[:12], wrapped[12:], key_id.encode())

    def _is_erased(self, key_id: str) -> bool:
        return (
            self._conn.execute("SELECT 1 FROM erasures WHERE key_id = ?", (key_id,)).fetchone()
            is not None
        )

    def _get(self, key_id: str) -> bytes:
        with self._lock:
            row = self._conn.execute(
                "SELECT wrapped FROM data_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
        if row is None:
            raise KeyErased(key_id)
        return self._unwrap(key_id, row[0])

    def encrypt(self, key_id: str, payload: dict[str, Any]) -> EncryptedBlob:
        return self._seal(self._get_or_create(key_id), key_id, payload)

    async def encrypt_async(self, key_id: str, payload: dict[str, Any]) -> EncryptedBlob:
        """`encrypt` off the event loop: the new data keys of the requests waiting meanwhile are
        written in one transaction (one fsync), in a worker thread."""
        loop = asyncio.get_running_loop()
        request = _KeyRequest(key_id, payload, loop.create_future())
        waiting = self._waiting.get(loop)
        if waiting is None:
            self._waiting[loop] = [request]
            drain = loop.create_task(self._drain(loop))
            self._drains.add(drain)  # a reference, so the task is not collected mid-way
            drain.add_done_callback(self._drains.discard)
        else:
            waiting.append(request)
        return await request.outcome

    async def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        """Write the waiting requests in groups until none wait."""
        while batch := self._waiting.get(loop):
            self._waiting[loop] = []
            try:
                blobs = await asyncio.to_thread(self._encrypt_group, batch)
            except BaseException as error:  # the transaction failed: every request in it did
                for request in batch:
                    if not request.outcome.done():
                        request.outcome.set_exception(error)
                if isinstance(error, asyncio.CancelledError):
                    self._waiting.pop(loop, None)
                    raise
                continue
            for request, blob in zip(batch, blobs, strict=True):
                if request.outcome.done():
                    continue
                if isinstance(blob, BaseException):
                    request.outcome.set_exception(blob)
                else:
                    request.outcome.set_result(blob)
        self._waiting.pop(loop, None)

    def _encrypt_group(self, batch: list[_KeyRequest]) -> list[EncryptedBlob | BaseException]:
        out: list[EncryptedBlob | BaseException] = []
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                keys = [self._find_or_make(request.key_id) for request in batch]
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # a failed COMMIT (full disk) leaves it open
                    self._conn.execute("ROLLBACK")
                raise
        for request, key in zip(batch, keys, strict=True):
            if isinstance(key, BaseException):
                out.append(key)
            else:
                out.append(self._seal(key, request.key_id, request.payload))
        return out

    def _find_or_make(self, key_id: str) -> bytes | KeyErased:
        """Inside a transaction: the data key, made and inserted if new (not if erased)."""
        row = self._conn.execute(
            "SELECT wrapped FROM data_keys WHERE key_id = ?", (key_id,)
        ).fetchone()
        if row is not None:
            return self._unwrap(key_id, row[0])
        if self._is_erased(key_id):
            return KeyErased(key_id)
        key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(12)
        wrapped = nonce + self._kek.encrypt(nonce, key, key_id.encode())
        self._conn.execute(
            "INSERT INTO data_keys (key_id, wrapped, created_at) VALUES (?, ?, ?)",
            (key_id, wrapped, datetime.now(UTC).isoformat()),
        )
        return key

    @staticmethod
    def _seal(key: bytes, key_id: str, payload: dict[str, Any]) -> EncryptedBlob:
        nonce = os.urandom(12)
        plaintext = json.dumps(payload, sort_keys=True).encode()
        ciphertext = AESGCM(key).encrypt(nonce, plaintext, key_id.encode())
        return EncryptedBlob(key_id=key_id, nonce=_b64(nonce), ciphertext=_b64(ciphertext))

    def decrypt(self, blob: EncryptedBlob) -> dict[str, Any]:
        key = self._get(blob.key_id)
        plaintext = AESGCM(key).decrypt(
            _unb64(blob.nonce), _unb64(blob.ciphertext), blob.key_id.encode()
        )
        result: dict[str, Any] = json.loads(plaintext)
        return result

    def erase(self, key_id: str) -> bool:
        """Crypto-shred: delete the data key. Returns False when there was none."""
        with self._lock:
            self._conn.execute("PRAGMA synchronous=FULL")
            try:
                return self._erase(key_id)
            finally:
                self._conn.execute(f"PRAGMA synchronous={self.NEW_KEY_SYNC}")

    def _erase(self, key_id: str) -> bool:
        """Under the lock, at synchronous=FULL: the erasure is durable when it returns."""
        # One transaction: a crash between the two must not leave the key deleted but the
        # erasure unrecorded (the next encrypt would then quietly create a new key).
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            cursor = self._conn.execute("DELETE FROM data_keys WHERE key_id = ?", (key_id,))
            self._conn.execute(
                "INSERT OR IGNORE INTO erasures (key_id, erased_at) VALUES (?, ?)",
                (key_id, datetime.now(UTC).isoformat()),
            )
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        # Only a completed checkpoint overwrites the key's page in the database file and
        # empties the WAL, which still holds old copies of it. A reader elsewhere can block
        # it (for up to busy_timeout): then the shredding is not done, and we say so.
        busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise ErasureIncomplete(key_id)
        return cursor.rowcount > 0

    def is_erased(self, key_id: str) -> bool:
        with self._lock:
            return self._is_erased(key_id)
