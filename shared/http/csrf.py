"""Forms that only LAPOR's own pages can submit (CSRF).

Citizens' pages use a signed double-submit token: a random nonce and its MAC, kept in an HttpOnly
SameSite=Strict cookie and sent back in the form's hidden field; both must match and the MAC must
hold. Staff consoles, whose session is a cookie already, use a keyed hash of that session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

from shared.crypto import derive_key, keyed_hash

COOKIE = "lapor_csrf"
FIELD = "csrf_token"


class Csrf:
    def __init__(self, secret: bytes, *, secure_cookies: bool = False) -> None:
        self._key = derive_key(secret, "web-csrf")
        self._secret = secret
        self._secure = secure_cookies

    def _mac(self, nonce: str) -> str:
        return hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()[:32]

    def valid(self, token: str) -> bool:
        nonce, _, mac = token.partition(".")
        return bool(nonce) and hmac.compare_digest(mac, self._mac(nonce))

    def token(self, request: Request) -> str:
        """The token of the page being rendered: the browser's, while valid, else a new one."""
        current = request.cookies.get(COOKIE, "")
        if self.valid(current):
            return current
        nonce = secrets.token_urlsafe(18)
        return f"{nonce}.{self._mac(nonce)}"

    def remember(self, request: Request, response: Response, token: str) -> None:
        """Set the cookie a rendered page's token needs (when the browser lacks it)."""
        if request.cookies.get(COOKIE) != token:
            response.set_cookie(
                COOKIE, token, httponly=True, samesite="strict", secure=self._secure, path="/"
            )

    def matches(self, request: Request, sent: object) -> bool:
        """Whether a submitted form's token is the browser's own, valid token."""
        cookie = request.cookies.get(COOKIE, "")
        return (
            isinstance(sent, str)
            and self.valid(cookie)
            and hmac.compare_digest(sent.encode(), cookie.encode())
        )

    def for_session(self, session: str, purpose: str) -> str:
        """A staff console's token: bound to its session cookie."""
        return keyed_hash(self._secret, purpose, session)

    def matches_session(self, sent: object, session: str, purpose: str) -> bool:
        return isinstance(sent, str) and hmac.compare_digest(
            sent, self.for_session(session, purpose)
        )
