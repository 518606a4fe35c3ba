"""Slow clients are timed out (issue 18, #10).

Twenty connections that send their request headers a byte at a time (slowloris) were held for as
long as they kept sending (75 s in the adversarial test). Every service listens through
`shared.http.server.server_config` (what `lapor run`/`lapor up` use): headers must be complete
within the header timeout, a request body may not stall longer than the read-idle timeout, and a
ceiling on connections keeps a flood bounded. The timeouts are shortened here to keep the test
short; their production values are in the module.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from shared.http.server import (
    GuardedH11Protocol,
    GuardedHttpToolsProtocol,
    SlowClientGuard,
    server_config,
)
from tests.support import Deadline, free_port, wait_for

HEADER_TIMEOUT = 1.5
READ_IDLE_TIMEOUT = 2.0
KEEP_ALIVE = 1
CEILING = 4
SLOWLORIS = 20


Serve = Callable[..., str]


@pytest.fixture(params=["httptools", "h11"])
def serve(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Serve]:
    """Starts a service's server: httptools (what services run) and h11, held to the same rules;
    `serve(limit_concurrency=…, timeout_keep_alive=…)` shortens a setting for one test."""
    monkeypatch.setattr(SlowClientGuard, "header_timeout", HEADER_TIMEOUT)
    monkeypatch.setattr(SlowClientGuard, "read_idle_timeout", READ_IDLE_TIMEOUT)
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/echo")
    async def echo(payload: dict[str, str]) -> dict[str, str]:
        return payload

    started: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(**overrides: int) -> str:
        port = free_port()
        if request.param == "h11":
            config = server_config(app, "127.0.0.1", port, http=GuardedH11Protocol)
        else:
            config = server_config(app, "127.0.0.1", port)
            assert config.http is GuardedHttpToolsProtocol  # what every service listens with
        assert config.limit_concurrency and config.timeout_keep_alive <= 5
        for name, value in overrides.items():
            setattr(config, name, value)
        running = uvicorn.Server(config)
        thread = threading.Thread(target=running.run, daemon=True)
        thread.start()
        started.append((running, thread))
        url = f"http://127.0.0.1:{port}"
        wait_for(
            lambda: httpx.get(f"{url}/healthz", timeout=1).status_code == 200, what="server up"
        )
        return url

    yield start
    for running, thread in started:
        running.should_exit = True
        thread.join(15)


@pytest.fixture
def server(serve: Serve) -> str:
    return serve()


def _closed(sock: socket.socket) -> bool:
    """Has the server closed this connection (EOF or reset)?"""
    sock.settimeout(0.05)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def test_slowloris_connections_are_closed_and_others_are_served(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    stop = threading.Event()
    sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(SLOWLORIS)]
    for sock in sockets:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: lapor\r\n")

    def drip() -> None:  # the attacker: one more header line every half second, never the end
        while not stop.wait(0.5):
            for sock in sockets:
                with contextlib.suppress(OSError):  # closed by the server: the point
                    sock.sendall(b"X-Slow: 1\r\n")

    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    started = time.monotonic()
    try:
        # Meanwhile everyone else is served at once.
        for _ in range(5):
            assert httpx.get(f"{server}/healthz", timeout=2).status_code == 200
        wait_for(
            lambda: all(_closed(s) for s in sockets),
            timeout=HEADER_TIMEOUT + 5,
            what="the slow connections closed",
        )
        held = time.monotonic() - started
        assert held < (HEADER_TIMEOUT + 5) * 2, held
    finally:
        stop.set()
        dripper.join(5)
        for sock in sockets:
            sock.close()


def test_a_request_body_that_stops_coming_is_cut_off(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: lapor\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"a": '
        )
        deadline = Deadline(READ_IDLE_TIMEOUT + 5)
        while not _closed(sock):
            assert not deadline.passed(), "a stalled body kept its connection"
    # A request at a normal pace is unaffected, also on a kept-alive connection.
    with httpx.Client(base_url=server, timeout=5) as client:
        for _ in range(3):
            assert client.post("/echo", json={"a": "b"}).json() == {"a": "b"}


def _answer(sock: socket.socket) -> bytes:
    """One whole response with a JSON body of known length, read from the socket."""
    sock.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(4096)
    return head


def test_a_slow_second_request_on_a_kept_alive_connection_is_cut_off(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: lapor\r\n\r\n")
        assert _answer(sock).startswith(b"HTTP/1.1 200")
        # The next request's headers trickle in, a line a half second, faster than the keep-alive
        # timeout and the read-idle timeout but never complete: the header timeout cuts it.
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        deadline = Deadline(HEADER_TIMEOUT + 5)
        polls = 0
        while not _closed(sock):  # each look waits 50 ms for the server
            assert not deadline.passed(), "a trickling second request kept its connection"
            polls += 1
            if polls % 9 == 0:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X-Slow: 1\r\n")


def test_connections_past_the_ceiling_are_answered_503(serve: Serve) -> None:
    server = serve(limit_concurrency=CEILING)
    port = int(server.rsplit(":", 1)[1])
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(CEILING)]
    try:
        for sock in held:  # each kept open by a complete, answered request (keep-alive)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: lapor\r\n\r\n")
            _answer(sock)
        answer = httpx.get(f"{server}/healthz", timeout=5)
        assert answer.status_code == 503
    finally:
        for sock in held:
            sock.close()
    wait_for(
        lambda: httpx.get(f"{server}/healthz", timeout=2).status_code == 200,
        what="served again once the connections are gone",
    )


def test_an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout(
    serve: Serve,
) -> None:
    server = serve(timeout_keep_alive=KEEP_ALIVE)
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: lapor\r\n\r\n")
        assert _answer(sock).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        deadline = Deadline(KEEP_ALIVE + 5)
        while not _closed(sock):
            assert not deadline.passed(), "an idle keep-alive connection stayed open"
        assert time.monotonic() - started >= KEEP_ALIVE * 0.8


def _head_answer(port: int, header_lines: list[bytes]) -> bytes:
    """The status line a request with these header lines gets (sent a line per write)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(5)
        with contextlib.suppress(OSError):  # refused midway: its answer is what counts
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: lapor\r\n")
            for line in header_lines:
                sock.sendall(line)
            sock.sendall(b"\r\n")
        data = b""
        with contextlib.suppress(OSError):
            while b"\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        return data.split(b"\r\n", 1)[0]


def test_a_connection_cannot_pile_up_request_headers(server: str) -> None:
    """Headers are refused once past 16 KiB (h11's ceiling: exactly when it has 16 KiB of an
    unfinished head; httptools: as soon as the parsed headers pass it)."""
    port = int(server.rsplit(":", 1)[1])
    many = [b"X-Many-%d: %s\r\n" % (i, b"a" * 1000) for i in range(100)]
    assert _head_answer(port, many).startswith(b"HTTP/1.1 400")
    huge = b"X-Huge: " + b"a" * 100_000 + b"\r\n"  # one header, arriving over several writes
    pieces = [huge[i : i + 4096] for i in range(0, len(huge), 4096)]
    assert _head_answer(port, pieces).startswith(b"HTTP/1.1 400")
    # Ordinary large headers (cookies, tokens) still pass.
    fine = [b"X-Fine-%d: %s\r\n" % (i, b"a" * 1000) for i in range(10)]
    assert _head_answer(port, fine).startswith(b"HTTP/1.1 200")
