"""Checks and the revocation behind `lapor token`."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime

import typer

from shared.access.events import TOKENS_STREAM, SubjectTokensRevoked, TokenRevoked
from shared.auth import token_id_of
from shared.events.base import Actor, DomainEvent
from shared.settings import Settings
from shared.store.port import ANY, NewEvent

TOKEN_ID = re.compile(r"[0-9a-f]{32}")  # a `jti` as create_token makes it (uuid4 hex)


def check_agency(settings: Settings, agency: str) -> None:
    """The agency must be in the directory as it is now (the seed plus its changes)."""
    from shared.clock import SystemClock
    from shared.runtime.directory import DirectoryRepository
    from shared.store import open_store

    async def known() -> bool:
        store = open_store(settings.event_store_url)
        try:
            directory, _ = await DirectoryRepository(store, SystemClock()).current()
        finally:
            await store.close()
        return directory.find(agency) is not None

    if not asyncio.run(known()):
        raise typer.BadParameter(
            f"no institution {agency!r} in the directory", param_hint="--agency"
        )


def check_region(region: str) -> str:
    from shared.regions import normalize_code, regions

    found = regions().find(region)
    if found is None:
        raise typer.BadParameter(f"no region {region!r}", param_hint="--region")
    return normalize_code(region)


def revoke(settings: Settings, token: str, note: str | None) -> str:
    """Append TokenRevoked to the `tokens` stream; returns the revoked token id."""
    expires_at: datetime | None = None
    if "." in token:
        token_id = token_id_of(token)
        if token_id is None:
            raise typer.BadParameter("not a token this system issued", param_hint="TOKEN")
        expires_at = _expiry(token)
    elif TOKEN_ID.fullmatch(token.strip().lower()):
        token_id = token.strip().lower()
    else:
        # A part of a token or a mistyped id would be "revoked" while the token stays valid.
        raise typer.BadParameter(
            "neither a token nor a token id (32 hex digits): nothing revoked; paste the whole"
            " token, or revoke every token of its holder with --subject",
            param_hint="TOKEN",
        )

    _append(settings, TokenRevoked(token_id=token_id, expires_at=expires_at, note=note))
    return token_id


def revoke_subject(settings: Settings, subject: str, note: str | None) -> datetime:
    """Append SubjectTokensRevoked: every token of `subject` issued until now is refused."""
    issued_before = datetime.now(UTC)
    _append(settings, SubjectTokensRevoked(subject=subject, issued_before=issued_before, note=note))
    return issued_before


def _append(settings: Settings, revocation: DomainEvent) -> None:
    async def append() -> None:
        from shared.store import open_store

        store = open_store(settings.event_store_url)
        try:
            event = NewEvent.of(
                revocation,
                occurred_at=datetime.now(UTC),
                actor=Actor(kind="admin", id="cli"),
                correlation_id=f"token-revoke-{uuid.uuid4()}",
            )
            await store.append(TOKENS_STREAM, [event], expected_version=ANY)
        finally:
            await store.close()

    asyncio.run(append())


def _expiry(token: str) -> datetime | None:
    import jwt

    exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    return datetime.fromtimestamp(int(exp), UTC) if exp else None
