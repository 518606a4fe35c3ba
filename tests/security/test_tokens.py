"""Tokens: lifetimes capped by role, and a revocation every service honours (issue 18, #12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.access.events import TOKENS_STREAM, TokenRevoked
from shared.auth import MAX_TTL, Role, create_token, token_id_of
from shared.events.base import Actor
from shared.reports.tracking import new_tracking_id
from shared.store.port import ANY, NewEvent
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
