"""Abuse limits at the HTTP edge: body sizes (413) and per-address token buckets (429).

The buckets live in memory, per process: a restart forgets them, which is fine for a limit
whose job is to slow floods down, not to account for them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from babel.numbers import format_decimal
from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.i18n import N_, text

TOO_LARGE = N_("api.error.body_too_large")
# What a refused body may be answered with instead of `{"detail": …}`: (body, content type).
Answer = tuple[bytes, bytes]


def too_large(limit: int) -> str:
    """`body: …` in Bahasa Indonesia, then English, the limit as each writes numbers."""
    said = [
        text(language, TOO_LARGE, limit=format_decimal(limit, locale=language))
        for language in ("id", "en")
    ]
    return f"body: {' / '.join(said)}"


class BodySizeLimit:
    """ASGI middleware: refuse bodies above a limit, by Content-Length or while streaming.

    A body that grows past the limit while streaming gets the 413 at once; the application then
    sees the client gone, and whatever it answers is dropped.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body: int,
        max_multipart: int,
        answer: Callable[[Scope, int, int], Answer | None] | None = None,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.max_multipart = max_multipart
        # A service with pages answers a browser's too-large form with a page, and one with a
        # protocol of its own (Open311) in that protocol's error format, not `{"detail": …}`.
        self.answer = answer

    def _limit(self, scope: Scope) -> int:
        for name, value in scope.get("headers", ()):
            if name == b"content-type":
                if value[:19].lower() == b"multipart/form-data":
                    return self.max_multipart
                break
        return self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _reply(send, 400, "content-length: not a number")
                    return
                if declared > limit:
                    await self._too_large(scope, send, limit)
                    return
        received = 0
        refused = False
        started = False

        async def limited() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await self._too_large(scope, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited, guarded)

    async def _too_large(self, scope: Scope, send: Send, limit: int) -> None:
        own = self.answer(scope, 413, limit) if self.answer is not None else None
        if own is not None:
            body, content_type = own
            await _reply(send, 413, "", body=body, content_type=content_type)
            return
        await _reply(send, 413, too_large(limit))


async def _reply(
    send: Send,
    status: int,
    detail: str,
    *,
    body: bytes | None = None,
    content_type: bytes = b"application/json",
) -> None:
    import json

    if body is None:
        body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """Token buckets keyed by client address: `per_minute` tokens a minute, as many in a burst.

    `per_minute <= 0` turns the limiter off.
    """

    def __init__(
        self,
        per_minute: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.rate = per_minute / 60.0
        self.capacity = burst if burst is not None else per_minute
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0 and self.capacity >= 1

    def _tokens(self, key: str, now: float) -> float:
        tokens, since = self._buckets.get(key, (self.capacity, now))
        return min(self.capacity, tokens + (now - since) * self.rate)

    def _wait(self, tokens: float) -> float:
        return (1 - tokens) / self.rate

    def retry_after(self, key: str) -> float:
        """Seconds until a token is free (0: one is free now). Takes nothing."""
        if not self.enabled:
            return 0.0
        with self._lock:
            tokens = self._tokens(key, self.clock())
        return 0.0 if tokens >= 1 else self._wait(tokens)

    def hit(self, key: str) -> float:
        """Take a token: 0 when granted, else the seconds to wait (nothing taken)."""
        if not self.enabled:
            return 0.0
        with self._lock:
            now = self.clock()
            tokens = self._tokens(key, now)
            if tokens < 1:
                return self._wait(tokens)
            if len(self._buckets) >= self.max_keys and key not in self._buckets:
                self._prune(now)
            self._buckets[key] = (tokens - 1, now)
            return 0.0

    def refund(self, key: str) -> None:
        """Give back a token `hit` took, for an attempt that turned out fine: reserving first and
        refunding after is how a limit holds while many requests await at once."""
        if not self.enabled:
            return
        with self._lock:
            if key in self._buckets:
                now = self.clock()
                self._buckets[key] = (min(self.capacity, self._tokens(key, now) + 1), now)

    def _prune(self, now: float) -> None:
        full = [k for k in self._buckets if self._tokens(k, now) >= self.capacity]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:  # a flood of distinct keys: forget the oldest
            oldest = sorted(self._buckets, key=lambda k: self._buckets[k][1])
            for key in oldest[: len(oldest) // 2]:
                del self._buckets[key]


def too_many(seconds: float, what: str) -> HTTPException:
    return HTTPException(
        429,
        f"{what}: too many requests from your address; retry in {math.ceil(seconds)} s",
        headers={"Retry-After": str(max(1, math.ceil(seconds)))},
    )


def client_address(request: Request) -> str:
    """The client's address: X-Forwarded-For is already applied, and only when it came from a
    trusted proxy (LAPOR_TRUSTED_PROXIES, `shared.runtime.service`)."""
    return request.client.host[:64] if request.client else "unknown"


def enforce(limiter: RateLimiter, key: str, what: str) -> None:
    """Take a token or raise 429 with Retry-After."""
    wait = limiter.hit(key)
    if wait > 0:
        raise too_many(wait, what)


class AccessCodeGuard:
    """Slows down access-code guessing: after `per_minute` wrong codes (or unknown tracking IDs)
    from one address, 429 for every try, right or wrong.

    Every service that accepts `X-Access-Code` uses one, so no service is a cheaper oracle than
    another. `reserve` before anything is looked up or awaited, `release` once the code proved
    right: a wrong try keeps its reservation. Reserving first is what keeps the limit when many
    tries arrive at once (checking first and counting after the await let 300 parallel wrong
    codes all through the check).
    """

    def __init__(self, per_minute: float = 20) -> None:
        self.limiter = RateLimiter(per_minute)

    def reserve(self, request: Request) -> None:
        wait = self.limiter.hit(client_address(request))
        if wait > 0:
            raise too_many(wait, "X-Access-Code")

    def release(self, request: Request) -> None:
        self.limiter.refund(client_address(request))
