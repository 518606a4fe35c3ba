"""Who is calling: FastAPI dependencies for officers' bearer tokens."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.access.events import SubjectTokensRevoked, TokenRevoked
from shared.auth import InvalidToken, Principal, Role, verify_token

_bearer = HTTPBearer(auto_error=False)


class Auth:
    """FastAPI dependencies for officers' bearer tokens."""

    def __init__(self, master_secret: bytes) -> None:
        self._secret = master_secret
        self.revoked: set[str] = set()  # token ids, from TokenRevoked events
        # subject → its tokens issued up to then are refused (SubjectTokensRevoked)
        self.revoked_subjects: dict[str, datetime] = {}

    def observe(self, event_type: str, data: Mapping[str, object]) -> None:
        """Keep up with revocations (the runtime shows every event here)."""
        if event_type == TokenRevoked.event_type:
            self.revoked.add(str(data["token_id"]))
        elif event_type == SubjectTokensRevoked.event_type:
            subject = str(data["subject"])
            issued_before = datetime.fromisoformat(str(data["issued_before"]))
            known = self.revoked_subjects.get(subject)
            self.revoked_subjects[subject] = max(known, issued_before) if known else issued_before

    def is_revoked(self, principal: Principal) -> bool:
        if principal.token_id in self.revoked:
            return True
        cutoff = self.revoked_subjects.get(principal.subject)
        # `iat` has whole seconds: a token of the revocation's own second is refused too (the
        # safe side; one issued a second later is valid).
        return cutoff is not None and (principal.issued_at is None or principal.issued_at <= cutoff)

    def verify(self, token: str) -> Principal:
        """A token from a cookie or a form (the staff pages, Open311's api_key): valid, and not
        revoked. Raises InvalidToken otherwise."""
        principal = verify_token(self._secret, token)
        if self.is_revoked(principal):
            raise InvalidToken("this token was revoked")
        return principal

    def principal(self, credentials: HTTPAuthorizationCredentials | None) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                401,
                "Authorization: a Bearer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            principal = verify_token(self._secret, credentials.credentials)
        except InvalidToken as error:
            raise HTTPException(
                401,
                "Authorization: invalid or expired token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from error
        if self.is_revoked(principal):
            raise HTTPException(
                401,
                "Authorization: this token was revoked",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return principal

    def require(self, *roles: Role) -> Callable[..., Principal]:
        def dependency(
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        ) -> Principal:
            principal = self.principal(credentials)
            if roles and principal.role not in roles:
                raise HTTPException(
                    403, f"Authorization: role {principal.role.value} may not do this"
                )
            return principal

        return dependency

    def optional(self) -> Callable[..., Principal | None]:
        """An officer when a token is sent (401 if it is invalid), else None: for routes that
        citizens and officers share."""

        def dependency(request: Request) -> Principal | None:
            header = request.headers.get("authorization")
            if not header:
                return None
            scheme, _, token = header.partition(" ")
            return self.principal(HTTPAuthorizationCredentials(scheme=scheme, credentials=token))

        return dependency
