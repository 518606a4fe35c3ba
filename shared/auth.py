"""Who is calling: signed bearer tokens for officers, access codes for reporters.

Tokens are JWTs (HS256 with a key derived from the master secret; the claims are OIDC-shaped,
so an identity provider's RS256 tokens can replace them). Access codes are never stored: only
their keyed hash is.
"""

from __future__ import annotations

import hmac
import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt
from pydantic import BaseModel, ConfigDict

from shared.crypto import derive_key, keyed_hash

ISSUER = "lapor"
AUDIENCE = "lapor-api"


class Role(StrEnum):
    ADMIN = "admin"
    AGENCY = "agency"
    OMBUDSMAN = "ombudsman"
    CLIENT = "client"


# The longest a token may live, by role: a lost admin token must not open the desk for a century.
MAX_TTL: dict[Role, timedelta] = {
    Role.ADMIN: timedelta(days=90),
    Role.AGENCY: timedelta(days=180),
    Role.OMBUDSMAN: timedelta(days=180),
    Role.CLIENT: timedelta(days=365),
}
DEFAULT_TTL = timedelta(days=30)


class Principal(BaseModel):
    """An authenticated officer or system."""

    model_config = ConfigDict(frozen=True)

    subject: str
    role: Role
    agency: str | None = None
    region: str | None = None
    token_id: str | None = None  # the token's `jti`: what a revocation names
    issued_at: datetime | None = None  # the token's `iat`: what a revocation of its subject asks

    def covers_region(self, region_code: str | None) -> bool:
        """A region-scoped officer sees that region and everything below it."""
        if self.region is None:
            return True
        return region_code is not None and region_code.startswith(self.region)

    def require_region(self, region_code: str | None, field: str) -> None:
        """OutsideRegion (403) unless the officer's region covers `region_code` (a region-scoped
        officer never acts on national things: no region code)."""
        if not self.covers_region(region_code):
            raise OutsideRegion(field, region_code, self.region or "")


class OutsideRegion(Exception):
    """A region-scoped officer acting outside their region: the edge answers 403 naming the
    field the region came from."""

    def __init__(self, field: str, region_code: str | None, scope: str) -> None:
        what = f"region {region_code}" if region_code else "a national matter (no region)"
        super().__init__(f"{field}: {what} is outside your region {scope}")
        self.field = field


class InvalidToken(Exception):
    pass


def _signing_key(master_secret: bytes) -> bytes:
    return derive_key(master_secret, "token-signing")


def create_token(
    master_secret: bytes,
    role: Role,
    *,
    agency: str | None = None,
    region: str | None = None,
    subject: str | None = None,
    ttl: timedelta = DEFAULT_TTL,
    now: datetime | None = None,
    token_id: str | None = None,
) -> str:
    if role is Role.AGENCY and not agency:
        raise ValueError("an agency token needs --agency")
    if ttl <= timedelta(0):
        raise ValueError("ttl: a token must be valid for some time")
    if ttl > MAX_TTL[role]:
        raise ValueError(f"ttl: {role.value} tokens may live at most {MAX_TTL[role].days} days")
    issued = now or datetime.now(UTC)
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject or f"{role.value}-{uuid.uuid4().hex[:12]}",
        "role": role.value,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
        "jti": token_id or uuid.uuid4().hex,
    }
    if agency:
        claims["agency"] = agency
    if region:
        claims["region"] = region
    return jwt.encode(claims, _signing_key(master_secret), algorithm="HS256")


def verify_token(master_secret: bytes, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            _signing_key(master_secret),
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "role"]},
        )
        principal = Principal(
            subject=claims["sub"],
            role=Role(claims["role"]),
            agency=claims.get("agency"),
            region=claims.get("region"),
            token_id=claims.get("jti"),
            issued_at=datetime.fromtimestamp(int(claims["iat"]), UTC),
        )
        if principal.role is Role.AGENCY and not principal.agency:
            # Otherwise "agency None" could equal "not forwarded yet" in an ownership check.
            raise ValueError("an agency token must name its agency")
        return principal
    except (jwt.PyJWTError, ValueError, KeyError) as error:
        raise InvalidToken(str(error)) from error


def token_id_of(token: str) -> str | None:
    """The `jti` of a token, read without checking it (to revoke a token one holds)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    jti = claims.get("jti")
    return str(jti) if jti else None


def hash_access_code(master_secret: bytes, tracking_id: str, access_code: str) -> str:
    return keyed_hash(master_secret, "access-code", f"{tracking_id}:{access_code.strip().upper()}")


def access_code_matches(
    master_secret: bytes, tracking_id: str, access_code: str, expected_hash: str
) -> bool:
    return hmac.compare_digest(
        hash_access_code(master_secret, tracking_id, access_code), expected_hash
    )
