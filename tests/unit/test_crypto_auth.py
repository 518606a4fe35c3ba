"""Reporters' identities are encrypted per report and can be shredded; officers carry signed tokens;
reporters prove a report is theirs with an access code that is never stored."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.exceptions import InvalidTag

from shared.auth import (
    AUDIENCE,
    ISSUER,
    InvalidToken,
    Principal,
    Role,
    _signing_key,
    access_code_matches,
    create_token,
    hash_access_code,
    token_id_of,
    verify_token,
)
from shared.crypto import (
    EncryptedBlob,
    ErasureIncomplete,
    KeyErased,
    KeyStore,
    derive_key,
    keyed_hash,
)

SECRET = b"test-master-secret"
REPORTER = {"name": "Maria Fernandes", "phone": "+6281234567890", "email": "maria@example.id"}


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[KeyStore]:
    store = KeyStore(tmp_path / "keys.db", SECRET)
    yield store
    store.close()


def raw_bytes(path: Path) -> bytes:
    """Everything SQLite keeps on disk for this database: the file, its WAL and journal."""
    data = b""
    for suffix in ("", "-wal", "-journal"):
        part = Path(f"{path}{suffix}")
        if part.exists():
            data += part.read_bytes()
    return data


# --- envelope encryption ------------------------------------------------------------------------
def test_a_reporter_is_encrypted_and_decrypted_with_the_reports_own_key(keys: KeyStore) -> None:
    blob = keys.encrypt("ABCDEFGH2K", REPORTER)
    assert blob.key_id == "ABCDEFGH2K"
    assert keys.decrypt(blob) == REPORTER
    # the blob survives a trip through an event (JSON) and a new key store process
    again = EncryptedBlob.model_validate_json(blob.model_dump_json())
    assert keys.decrypt(again) == REPORTER


async def test_reporters_encrypted_together_off_the_loop_each_get_their_own_key(
    keys: KeyStore, tmp_path: Path
) -> None:
    keys.erase("ERASED2222")
    ids = [f"REPORT{i:04d}" for i in range(20)]
    outcomes = await asyncio.gather(
        *(keys.encrypt_async(key_id, REPORTER | {"n": key_id}) for key_id in ids),
        keys.encrypt_async(ids[0], {"name": "again"}),  # the same report twice in one group
        keys.encrypt_async("ERASED2222", REPORTER),
        return_exceptions=True,
    )
    *blobs, again, erased = outcomes
    assert isinstance(erased, KeyErased)  # an erased report never gets a fresh key
    assert [keys.decrypt(b) for b in blobs] == [REPORTER | {"n": k} for k in ids]  # type: ignore[arg-type]
    assert keys.decrypt(again) == {"name": "again"}  # type: ignore[arg-type]
    # the keys are stored (durably, by another process too), one per report
    reopened = KeyStore(tmp_path / "keys.db", SECRET)
    try:
        assert reopened.decrypt(blobs[5]) == REPORTER | {"n": ids[5]}  # type: ignore[arg-type]
    finally:
        reopened.close()


def test_the_ciphertext_reveals_nothing_of_the_reporter(keys: KeyStore) -> None:
    blob = keys.encrypt("ABCDEFGH2K", REPORTER)
    text = blob.model_dump_json()
    for value in (*REPORTER.values(), "Maria", "6281234567890", "example.id"):
        assert value not in text
    # and encrypting the same thing twice gives different ciphertexts (fresh nonces)
    assert keys.encrypt("ABCDEFGH2K", REPORTER).ciphertext != blob.ciphertext


def test_each_report_gets_its_own_key_and_a_blob_cannot_be_moved_to_another(
    keys: KeyStore,
) -> None:
    first = keys.encrypt("REPORT2222", REPORTER)
    second = keys.encrypt("REPORT3333", {"name": "Yohanes"})
    moved = EncryptedBlob(key_id="REPORT3333", nonce=first.nonce, ciphertext=first.ciphertext)
    with pytest.raises(InvalidTag):
        keys.decrypt(moved)
    assert keys.decrypt(second) == {"name": "Yohanes"}


def test_keys_outlive_the_process_but_not_the_master_secret(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    first = KeyStore(path, SECRET)
    blob = first.encrypt("ABCDEFGH2K", REPORTER)
    first.close()
    reopened = KeyStore(path, SECRET)
    assert reopened.decrypt(blob) == REPORTER
    reopened.close()
    wrong = KeyStore(path, b"another-secret")
    with pytest.raises(InvalidTag):
        wrong.decrypt(blob)
    wrong.close()


def test_the_wrapped_key_is_not_the_data_key(keys: KeyStore, tmp_path: Path) -> None:
    keys.encrypt("ABCDEFGH2K", REPORTER)
    conn = sqlite3.connect(tmp_path / "keys.db")
    [(wrapped,)] = conn.execute("SELECT wrapped FROM data_keys").fetchall()
    conn.close()
    assert len(wrapped) == 12 + 32 + 16  # nonce, AES-256 key encrypted, GCM tag


# --- crypto-shredding ---------------------------------------------------------------------------
def test_erasing_a_key_makes_the_reporter_unreadable_forever(keys: KeyStore) -> None:
    blob = keys.encrypt("ABCDEFGH2K", REPORTER)
    other = keys.encrypt("OTHER22222", {"name": "Yohanes"})
    assert keys.erase("ABCDEFGH2K") is True
    with pytest.raises(KeyErased):
        keys.decrypt(blob)
    assert keys.is_erased("ABCDEFGH2K")
    # an erased report never gets a fresh key (which would make new data readable again)
    with pytest.raises(KeyErased):
        keys.encrypt("ABCDEFGH2K", REPORTER)
    # erasing again is harmless; other reports are untouched
    assert keys.erase("ABCDEFGH2K") is False
    assert keys.decrypt(other) == {"name": "Yohanes"}
    assert not keys.is_erased("OTHER22222")


def test_after_erasure_the_wrapped_key_is_gone_from_the_bytes_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    keys = KeyStore(path, SECRET)
    for n in range(20):  # neighbours on the same pages
        keys.encrypt(f"NEIGHBOUR{n:02d}", {"n": n})
    keys.encrypt("ABCDEFGH2K", REPORTER)
    for n in range(20, 40):
        keys.encrypt(f"NEIGHBOUR{n:02d}", {"n": n})
    conn = sqlite3.connect(path)
    [(wrapped,)] = conn.execute(
        "SELECT wrapped FROM data_keys WHERE key_id = 'ABCDEFGH2K'"
    ).fetchall()
    conn.close()
    assert wrapped in raw_bytes(path)  # the search below can see it
    keys.erase("ABCDEFGH2K")
    keys.close()
    assert wrapped not in Path(path).read_bytes()
    assert wrapped not in raw_bytes(path)
    # the neighbours survived
    again = KeyStore(path, SECRET)
    blob = again.encrypt("NEIGHBOUR07", {"n": 7})
    assert again.decrypt(blob) == {"n": 7}
    again.close()


def test_erasure_is_recorded_with_the_deletion(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    keys = KeyStore(path, SECRET)
    keys.encrypt("ABCDEFGH2K", REPORTER)
    keys.erase("ABCDEFGH2K")
    keys.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM data_keys").fetchone() == (0,)
    assert conn.execute("SELECT key_id FROM erasures").fetchall() == [("ABCDEFGH2K",)]
    conn.close()


def test_keyed_hashes_are_stable_per_purpose_and_reveal_nothing() -> None:
    one = keyed_hash(SECRET, "phone", "+6281234567890")
    assert one == keyed_hash(SECRET, "phone", "+6281234567890")
    assert one != keyed_hash(SECRET, "email", "+6281234567890")
    assert one != keyed_hash(b"other", "phone", "+6281234567890")
    assert "6281234567890" not in one
    assert derive_key(SECRET, "a") != derive_key(SECRET, "b")


# --- officers' tokens ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("role", "agency", "region"),
    [
        (Role.ADMIN, None, None),
        (Role.ADMIN, None, "53"),
        (Role.AGENCY, "DINKES-KOTA-KUPANG", "5371"),
        (Role.OMBUDSMAN, None, "53"),
        (Role.CLIENT, None, None),
    ],
)
def test_a_token_carries_role_agency_and_region(
    role: Role, agency: str | None, region: str | None
) -> None:
    issued = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    token = create_token(
        SECRET, role, agency=agency, region=region, subject="officer-7", now=issued
    )
    principal = verify_token(SECRET, token)
    assert principal == Principal(
        subject="officer-7",
        role=role,
        agency=agency,
        region=region,
        token_id=principal.token_id,
        issued_at=issued,  # what a revocation of every token of its subject compares
    )
    assert principal.token_id and principal.token_id == token_id_of(token)


def test_a_token_without_a_subject_gets_one_naming_its_role() -> None:
    principal = verify_token(SECRET, create_token(SECRET, Role.ADMIN))
    assert principal.subject.startswith("admin-")


def test_an_agency_token_must_name_its_agency() -> None:
    with pytest.raises(ValueError, match="agency"):
        create_token(SECRET, Role.AGENCY)
    # ... also when someone holding the key signs one by hand
    now = datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "x",
        "role": "agency",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
    }
    token = jwt.encode(claims, _signing_key(SECRET), algorithm="HS256")
    with pytest.raises(InvalidToken):
        verify_token(SECRET, token)


def test_an_expired_token_is_refused() -> None:
    issued = datetime.now(UTC) - timedelta(days=31)
    token = create_token(SECRET, Role.ADMIN, ttl=timedelta(days=30), now=issued)
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(SECRET, token)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = create_token(b"someone-elses-secret", Role.ADMIN)
    with pytest.raises(InvalidToken):
        verify_token(SECRET, token)


def test_a_token_with_altered_claims_or_a_forged_signature_is_refused() -> None:
    token = create_token(SECRET, Role.AGENCY, agency="DINKES-KOTA-KUPANG")
    header, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["role"] = "admin"
    forged_payload = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    with pytest.raises(InvalidToken):
        verify_token(SECRET, f"{header}.{forged_payload}.{signature}")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(InvalidToken):
        verify_token(SECRET, f"{header}.{payload}.{flipped}")
    with pytest.raises(InvalidToken):
        verify_token(SECRET, f"{header}.{payload}.")


def test_an_unsigned_token_is_refused() -> None:
    now = datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "x",
        "role": "admin",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
    }
    with pytest.raises(InvalidToken):
        verify_token(SECRET, jwt.encode(claims, key="", algorithm="none"))


@pytest.mark.parametrize(
    ("change", "value"),
    [("aud", "someone-else"), ("iss", "not-lapor"), ("role", "superuser")],
)
def test_a_token_for_another_audience_issuer_or_role_is_refused(change: str, value: str) -> None:
    now = datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "x",
        "role": "admin",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
        change: value,
    }
    token = jwt.encode(claims, _signing_key(SECRET), algorithm="HS256")
    with pytest.raises(InvalidToken):
        verify_token(SECRET, token)


@pytest.mark.parametrize("garbage", ["", "not-a-token", "a.b.c", "Bearer x"])
def test_garbage_is_an_invalid_token_not_a_crash(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        verify_token(SECRET, garbage)


def test_a_region_scoped_officer_covers_that_region_and_below() -> None:
    ntt = Principal(subject="x", role=Role.ADMIN, region="53")
    assert ntt.covers_region("53") and ntt.covers_region("5371")
    assert not ntt.covers_region("3171") and not ntt.covers_region(None)
    assert Principal(subject="x", role=Role.ADMIN).covers_region(None)


# --- reporters' access codes ---------------------------------------------------------------------
def test_an_access_code_matches_only_its_own_report() -> None:
    stored = hash_access_code(SECRET, "ABCDEFGH2K", "K7M2P9QX")
    assert "K7M2P9QX" not in stored
    assert access_code_matches(SECRET, "ABCDEFGH2K", "K7M2P9QX", stored)
    assert access_code_matches(SECRET, "ABCDEFGH2K", " k7m2p9qx ", stored)  # as typed on a phone
    assert not access_code_matches(SECRET, "ABCDEFGH2K", "K7M2P9QY", stored)
    assert not access_code_matches(SECRET, "ABCDEFGH3K", "K7M2P9QX", stored)
    assert not access_code_matches(b"other-secret", "ABCDEFGH2K", "K7M2P9QX", stored)
    assert not access_code_matches(SECRET, "ABCDEFGH2K", "", stored)


def test_an_erasure_blocked_by_a_reader_says_so_and_finishes_when_repeated(tmp_path: Path) -> None:
    """Another process reading the key store keeps old pages (with the key) in the WAL; erase must
    not report success until a checkpoint has overwritten them."""
    path = tmp_path / "keys.db"
    keys = KeyStore(path, SECRET)
    blob = keys.encrypt("ABCDEFGH2K", REPORTER)
    conn = sqlite3.connect(path)
    [(wrapped,)] = conn.execute("SELECT wrapped FROM data_keys").fetchall()
    conn.close()
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM data_keys").fetchall()  # holds a snapshot open
    keys._conn.execute("PRAGMA busy_timeout=100")  # do not wait the default 30 s in a test
    with pytest.raises(ErasureIncomplete):
        keys.erase("ABCDEFGH2K")
    with pytest.raises(KeyErased):  # logically gone at once
        keys.decrypt(blob)
    reader.execute("COMMIT")
    reader.close()
    assert keys.erase("ABCDEFGH2K") is False  # nothing left to delete, but the checkpoint ran
    assert wrapped not in raw_bytes(path)
    keys.close()
