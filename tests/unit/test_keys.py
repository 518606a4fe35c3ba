"""The data keys live in the event store's database (every replica reads them there); an old
`DATA_DIR/keys.db` is moved in once, its erasures with it, and removed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from shared.crypto import KeyErased, KeyStore
from shared.keys import key_store_path, open_key_store
from shared.settings import Settings
from shared.store.sqlite import connect

SECRET = "keys-test-secret"


def test_the_keys_are_in_the_sqlite_event_store_unless_told_otherwise(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key=SECRET)
    assert key_store_path(settings) == (tmp_path / "events.db").resolve()
    elsewhere = Settings(data_dir=tmp_path, secret_key=SECRET, key_store="sqlite:////srv/k.db")
    assert key_store_path(elsewhere) == Path("/srv/k.db")
    with pytest.raises(ValueError, match="key_store"):
        key_store_path(Settings(data_dir=tmp_path, secret_key=SECRET, key_store="redis://x"))


def test_an_old_keys_file_is_moved_in_once_erasures_included(tmp_path: Path) -> None:
    old = KeyStore(tmp_path / "keys.db", SECRET.encode())
    kept = old.encrypt("AAAAAAAAAA", {"phone": "+6281200000001"})
    gone = old.encrypt("BBBBBBBBBB", {"phone": "+6281200000002"})
    old.erase("BBBBBBBBBB")
    old.close()

    settings = Settings(data_dir=tmp_path, secret_key=SECRET)
    keys = open_key_store(settings)
    try:
        assert keys.decrypt(kept) == {"phone": "+6281200000001"}
        with pytest.raises(KeyErased):
            keys.decrypt(gone)
        assert keys.is_erased("BBBBBBBBBB")
        assert not (tmp_path / "keys.db").exists()
    finally:
        keys.close()
    again = open_key_store(settings)  # nothing left to move: no-op
    try:
        assert again.decrypt(kept) == {"phone": "+6281200000001"}
    finally:
        again.close()


def test_a_new_key_in_the_stores_file_rides_on_the_events_fsync_an_erasure_has_its_own(
    tmp_path: Path,
) -> None:
    """In the event store's file a new key commits without an fsync of its own: the event that
    names it is appended after it to the same write-ahead log by the store, which commits with
    synchronous=FULL (that fsync makes the key durable too). An erasure is synced by itself, and
    a key store elsewhere syncs every key."""
    settings = Settings(data_dir=tmp_path, secret_key=SECRET)
    in_store = open_key_store(settings)
    apart = KeyStore(tmp_path / "apart.db", SECRET.encode())
    store_conn = connect(tmp_path / "events.db")  # as the event store opens it
    try:
        statements: list[str] = []
        in_store._conn.set_trace_callback(statements.append)
        in_store.encrypt("CCCCCCCCCC", {"phone": "+6281200000003"})
        assert not any("synchronous=FULL" in s for s in statements)
        assert _synchronous(in_store._conn) == "NORMAL"
        assert _synchronous(apart._conn) == "FULL"
        assert _synchronous(store_conn) == "FULL"  # the event's commit, after the key's

        statements.clear()
        in_store.erase("CCCCCCCCCC")
        begin = statements.index("BEGIN IMMEDIATE")
        assert "PRAGMA synchronous=FULL" in statements[:begin]
        assert _synchronous(in_store._conn) == "NORMAL"  # back for the next new key
        assert in_store.is_erased("CCCCCCCCCC")
    finally:
        in_store.close()
        apart.close()
        store_conn.close()


def _synchronous(conn: sqlite3.Connection) -> str:
    level = int(conn.execute("PRAGMA synchronous").fetchone()[0])
    return {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[level]
