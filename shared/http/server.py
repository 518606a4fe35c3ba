"""How every service listens: uvicorn with slow clients timed out and a ceiling on connections.

uvicorn times out idle keep-alive connections, but not a client that sends its request slowly: a
connection trickling one header byte at a time (slowloris) was held for as long as it kept
trickling, and twenty of them tied up a service. The guarded protocols close a connection whose
request headers are not complete `header_timeout` seconds after it began sending them, and one
whose client sends nothing for `read_idle_timeout` seconds while the server waits for the rest of a
request. Request headers past 16 KiB are refused (400). `limit_concurrency` answers 503 past that
many open connections, so memory and file descriptors stay bounded whatever a flood does.

Services parse HTTP with httptools (`GuardedHttpToolsProtocol`, a C parser): a request costs a
fifth to a third less CPU than with h11 (`bench/floor.py`). `GuardedH11Protocol` is the same
guard on uvicorn's pure-Python h11 protocol; both are held to the same tests
(`tests/security/test_slow_clients.py`).
"""

from __future__ import annotations

import asyncio
import enum
import os
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Defaults; each can be set in the environment (seconds; connections).
HEADER_TIMEOUT = float(os.environ.get("LAPOR_HTTP_HEADER_TIMEOUT_SECONDS", "10"))
READ_IDLE_TIMEOUT = float(os.environ.get("LAPOR_HTTP_READ_IDLE_TIMEOUT_SECONDS", "30"))
KEEP_ALIVE_TIMEOUT = int(os.environ.get("LAPOR_HTTP_KEEP_ALIVE_SECONDS", "5"))
MAX_CONNECTIONS = int(os.environ.get("LAPOR_HTTP_MAX_CONNECTIONS", "1000"))
# A request's line and headers, at most (h11's own ceiling, which uvicorn keeps for h11).
MAX_HEADER_BYTES = 16 * 1024


class Reading(enum.Enum):
    """Where the client is in sending its current request."""

    HEADERS = "headers"  # nothing of a request yet, or its headers not complete
    BODY = "body"  # headers complete, the body still coming
    DONE = "done"  # the whole request received: the server owes the answer


class SlowClientGuard:
    """The deadlines of a connection, for a uvicorn HTTP protocol saying where its client is."""

    header_timeout: float = HEADER_TIMEOUT
    read_idle_timeout: float = READ_IDLE_TIMEOUT

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    _header_deadline: asyncio.TimerHandle | None = None
    _idle_deadline: asyncio.TimerHandle | None = None

    def _reading(self) -> Reading:
        raise NotImplementedError

    def _arm(self) -> None:
        """A new connection owes its first request's headers from now on."""
        self._header_deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _watch(self) -> None:
        """After data arrived: still inside a request's headers, or waiting for its body?"""
        if self.transport.is_closing():
            return
        reading = self._reading()
        if reading is Reading.HEADERS:
            if self._header_deadline is None:  # a keep-alive connection's next request began
                self._header_deadline = self.loop.call_later(self.header_timeout, self._too_slow)
        elif self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None
        if self._idle_deadline is not None:
            self._idle_deadline.cancel()
            self._idle_deadline = None
        if reading is not Reading.DONE:
            self._idle_deadline = self.loop.call_later(self.read_idle_timeout, self._too_slow)

    def _answered(self, between_requests: bool) -> None:
        # Between requests uvicorn's own keep-alive timeout applies.
        if between_requests:
            self._cancel()

    def _cancel(self) -> None:
        for handle in (self._header_deadline, self._idle_deadline):
            if handle is not None:
                handle.cancel()
        self._header_deadline = self._idle_deadline = None

    def _too_slow(self) -> None:
        self._cancel()
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # The app is reading a body that stopped coming: it sees the client gone.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()


class HeadersTooLarge(ValueError):
    pass


class GuardedHttpToolsProtocol(SlowClientGuard, HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections that send a request too slowly, and
    refusing request headers beyond h11's ceiling (16 KiB: llhttp itself has none, so without it
    one connection could pile up megabytes of headers within the header timeout)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._request = Reading.HEADERS
        self._header_bytes = 0  # read while the headers were not complete
        self._parsed_header_bytes = 0  # the request line's and headers' parsed sizes
        self._max_header_bytes = self.config.h11_max_incomplete_event_size or MAX_HEADER_BYTES

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        inside_headers = self._request is Reading.HEADERS
        super().data_received(data)
        # A header still incomplete is buffered by the parser, not yet counted by `on_header`.
        if inside_headers and self._request is Reading.HEADERS:  # all of it went to headers
            self._header_bytes += len(data)
            if self._header_bytes > self._max_header_bytes and not self.transport.is_closing():
                self.logger.warning("Request headers too large.")
                self.send_400_response("Invalid HTTP request received.")  # as h11 answers
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    # The parser's callbacks say where the request is (as h11's `their_state` does).
    def on_message_begin(self) -> None:
        self._request = Reading.HEADERS
        self._header_bytes = self._parsed_header_bytes = 0
        super().on_message_begin()

    # Headers past the ceiling make the parser fail, and uvicorn answers 400 as for bad syntax.
    def on_url(self, url: bytes) -> None:
        self._count_header_bytes(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_header_bytes(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count_header_bytes(self, size: int) -> None:
        self._parsed_header_bytes += size
        if self._parsed_header_bytes > self._max_header_bytes:
            raise HeadersTooLarge(f"request headers over {self._max_header_bytes} bytes")

    def on_headers_complete(self) -> None:
        self._request = Reading.BODY
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._request = Reading.DONE
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The whole request was read (a next one, pipelined, would have begun: HEADERS).
        self._answered(self._request is Reading.DONE)

    def _reading(self) -> Reading:
        return self._request


class GuardedH11Protocol(SlowClientGuard, H11Protocol):
    """uvicorn's h11 protocol, closing connections that send a request too slowly."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # h11 starts the next cycle once both sides are done: the client is IDLE again.
        self._answered(self.conn.their_state is h11.IDLE)

    def _reading(self) -> Reading:
        state = self.conn.their_state
        if state is h11.IDLE:
            return Reading.HEADERS
        return Reading.BODY if state is h11.SEND_BODY else Reading.DONE


def server_config(app: Any, host: str, port: int, *, http: type[Any] | None = None) -> Config:
    """The uvicorn configuration every service runs with."""
    return Config(
        app,
        host=host,
        port=port,
        http=http or GuardedHttpToolsProtocol,
        loop="asyncio",  # not uvloop even where the bench group installed it (bench/floor.py)
        log_level="warning",
        log_config=None,  # uvicorn's records go through the JSON handler (shared/logs.py)
        access_log=False,
        proxy_headers=False,  # the app does it, from LAPOR_TRUSTED_PROXIES (shared/runtime)
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_graceful_shutdown=10,
    )
