"""The data keys live in the event store's database (every replica reads them there); an old
`DATA_DIR/keys.db` is moved in once, its erasures with it, and removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.crypto import KeyErased, KeyStore
from shared.keys import key_store_path, open_key_store
from shared.settings import Settings

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
