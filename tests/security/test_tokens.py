"""Tokens: lifetimes capped by role, and a revocation every service honours (issue 18, #12)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.access.events import TOKENS_STREAM, SubjectTokensRevoked, TokenRevoked
from shared.auth import MAX_TTL, Role, create_token, token_id_of
from shared.events.base import Actor
from shared.reports.tracking import new_tracking_id
from shared.store.port import ANY, NewEvent, RecordedEvent
from shared.store.sqlite import SqliteEventStore
from tests.harness import InProcessSystem, in_process

SECRET = b"token-test-secret"
READS = {
    "intake": f"/api/v1/reports/{new_tracking_id()}",  # an officer's read of a report
    "verification": "/api/v1/queue",
    "routing": "/api/v1/returned",
    "sla": "/api/v1/compliance",
    "notify": "/api/v1/notifications",
}


@pytest.mark.parametrize("role", list(Role))
def test_a_token_lives_at_most_as_long_as_its_role_allows(role: Role) -> None:
    agency = "DINKES-KOTA-KUPANG" if role is Role.AGENCY else None
    create_token(SECRET, role, agency=agency, ttl=MAX_TTL[role])
    for ttl in (MAX_TTL[role] + timedelta(days=1), timedelta(days=36500)):
        with pytest.raises(ValueError, match="ttl"):
            create_token(SECRET, role, agency=agency, ttl=ttl)
    for ttl in (timedelta(0), timedelta(days=-1)):
        with pytest.raises(ValueError, match="ttl"):
            create_token(SECRET, role, agency=agency, ttl=ttl)


async def test_a_revoked_token_is_refused_by_every_service(tmp_path: Path) -> None:
    async with in_process(tmp_path) as lapor:
        await _story(lapor)


async def _story(lapor: InProcessSystem) -> None:
    admin = lapor.token("admin")
    for service, path in READS.items():
        async with lapor.client(service, admin) as client:
            assert (await client.get(path)).status_code != 401, service

    token_id = token_id_of(admin)
    assert token_id is not None
    await lapor.store.append(
        TOKENS_STREAM,
        [
            NewEvent.of(
                TokenRevoked(token_id=token_id, note="laptop lost"),
                occurred_at=datetime.now(UTC),
                actor=Actor(kind="admin", id="cli"),
                correlation_id="revoke-test",
            )
        ],
        expected_version=ANY,
    )
    await lapor.settle()
    for service, path in READS.items():
        async with lapor.client(service, admin) as client:
            refused = await client.get(path)
            assert refused.status_code == 401, service
            assert "revoked" in refused.json()["detail"]
    other = lapor.token("admin")
    async with lapor.client("verification", other) as client:
        assert (await client.get("/api/v1/queue")).status_code == 200


OPEN311_FORM = {
    "jurisdiction_id": "lapor.go.id",
    "service_code": "infrastruktur",
    "lat": "-10.1772",
    "long": "123.6070",
    "description": "Lubang besar di tengah jalan, sudah dua motor jatuh minggu ini.",
    "attribute[region_code]": "5371",
}


async def test_every_token_of_an_officer_who_left_is_refused_everywhere(tmp_path: Path) -> None:
    """`lapor token revoke --subject`: the tokens the officer holds, wherever they are used (the
    APIs, the console's sign-in, Open311), are refused; one issued to them afterwards, and other
    officers' tokens, still work."""
    async with in_process(tmp_path) as lapor:
        secret = lapor.secret.encode()
        # A little in the past, so the token issued "a second later" is not from the future.
        revoked_at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10)
        earlier = revoked_at - timedelta(hours=2)
        held = [
            create_token(secret, Role.ADMIN, subject="petugas-budi", now=earlier),
            create_token(secret, Role.ADMIN, subject="petugas-budi", now=revoked_at),
        ]
        client_key = create_token(secret, Role.CLIENT, subject="aplikasi-kota", now=earlier)
        colleague = create_token(secret, Role.ADMIN, subject="petugas-sari", now=earlier)
        for token in held:
            async with lapor.client("verification", token) as client:
                assert (await client.get("/api/v1/queue")).status_code == 200

        for subject in ("petugas-budi", "aplikasi-kota"):
            await lapor.store.append(
                TOKENS_STREAM,
                [
                    NewEvent.of(
                        SubjectTokensRevoked(
                            subject=subject, issued_before=revoked_at, note="pindah tugas"
                        ),
                        occurred_at=datetime.now(UTC),
                        actor=Actor(kind="admin", id="cli"),
                        correlation_id=f"revoke-{subject}",
                    )
                ],
                expected_version=ANY,
            )
        await lapor.settle()

        for token in held:
            for service, path in READS.items():
                async with lapor.client(service, token) as client:
                    refused = await client.get(path)
                    assert refused.status_code == 401, service
                    assert "revoked" in refused.json()["detail"]
            async with lapor.client("verification") as console:
                signed_in = await console.post("/console/login", data={"token": token})
                assert signed_in.status_code == 401, signed_in.text
        async with lapor.client("intake") as intake:
            posted = await intake.post(
                "/open311/v2/requests.json", data={"api_key": client_key, **OPEN311_FORM}
            )
            assert posted.status_code == 403, posted.text

        later = create_token(
            secret, Role.ADMIN, subject="petugas-budi", now=revoked_at + timedelta(seconds=1)
        )
        for token in (later, colleague):
            async with lapor.client("verification", token) as client:
                assert (await client.get("/api/v1/queue")).status_code == 200
        new_key = create_token(
            secret, Role.CLIENT, subject="aplikasi-kota", now=revoked_at + timedelta(seconds=1)
        )
        async with lapor.client("intake") as intake:
            posted = await intake.post(
                "/open311/v2/requests.json", data={"api_key": new_key, **OPEN311_FORM}
            )
            assert posted.status_code in (200, 201), posted.text


def test_lapor_token_revoke_subject_appends_the_revocation(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAPOR_")}
    env |= {"LAPOR_DATA_DIR": str(tmp_path), "LAPOR_SECRET_KEY": "cli-test-secret"}

    def lapor(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli.main", "token", "revoke", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    done = lapor("--subject", "petugas-budi", "--note", "pindah tugas")
    assert done.returncode == 0, done.stderr
    assert "petugas-budi" in done.stdout

    async def stored() -> list[RecordedEvent]:
        store = SqliteEventStore(tmp_path / "events.db")
        try:
            return await store.read(TOKENS_STREAM)
        finally:
            await store.close()

    [event] = asyncio.run(stored())
    assert event.event_type == "SubjectTokensRevoked"
    assert event.data["subject"] == "petugas-budi" and event.data["note"] == "pindah tugas"
    # Neither a token nor a subject, or both: refused, with nothing stored.
    assert lapor().returncode != 0
    assert lapor("abc123", "--subject", "petugas-budi").returncode != 0
    assert len(asyncio.run(stored())) == 1


def test_lapor_token_revoke_refuses_what_is_neither_a_token_nor_a_token_id(
    tmp_path: Path,
) -> None:
    """An operator revoking a leaked token pasted only part of it (or mistyped its id): `lapor
    token revoke` answered "revoked <what was pasted>", exit 0, and the token stayed valid. What
    is neither a token nor a token id (32 hex digits) is refused, nothing stored; a whole token
    and its id are revoked as before."""
    from typer.testing import CliRunner

    from cli.main import app
    from shared.settings import get_settings

    env = {"LAPOR_DATA_DIR": str(tmp_path), "LAPOR_SECRET_KEY": "cli-test-secret"}
    runner = CliRunner()
    get_settings.cache_clear()  # one process, one CLI run: not the settings of another test
    token = create_token(b"cli-test-secret", Role.ADMIN, subject="petugas-ani")
    token_id = token_id_of(token)
    assert token_id is not None

    async def stored() -> list[RecordedEvent]:
        store = SqliteEventStore(tmp_path / "events.db")
        try:
            return await store.read(TOKENS_STREAM)
        finally:
            await store.close()

    for wrong in ("garbage", token_id[:-1], token[:20]):
        refused = runner.invoke(app, ["token", "revoke", wrong], env=env)
        assert refused.exit_code == 2, refused.output
        words = " ".join(refused.output.replace("│", " ").split())
        assert not refused.output.startswith("revoked") and "nothing revoked" in words
    assert not (tmp_path / "events.db").exists() or asyncio.run(stored()) == []
    # Neither given: it said "not both", as if both had been.
    neither = runner.invoke(app, ["token", "revoke"], env=env)
    assert neither.exit_code == 2 and "exactly one of TOKEN or --subject" in neither.output

    by_token = runner.invoke(app, ["token", "revoke", token], env=env)
    by_id = runner.invoke(app, ["token", "revoke", token_id.upper()], env=env)
    assert by_token.exit_code == 0 and by_id.exit_code == 0, by_token.output + by_id.output
    assert [e.data["token_id"] for e in asyncio.run(stored())] == [token_id, token_id]
    get_settings.cache_clear()
