"""The floor under "CPU per report": what the frameworks LAPOR stands on cost per request and per
event on this machine, before any of LAPOR's own work.

    .venv/bin/python -m bench.floor [--requests 3000] [--events 5000]

Issue 21 asks for ≤ 2.0 ms of CPU per accepted report across every LAPOR process. A report's
submission is one HTTP request to intake and, for every event it causes (ReportSubmitted, then
notify's NotificationSent for the receipt), one publish by the relay and one delivery to each of
the five services. So the floor is

    floor = HTTP request + events × (relay publish + 5 × (delivery + ack) + nats-server's share)

measured here with nothing of LAPOR in it:
- **HTTP**: uvicorn + FastAPI, one POST route taking a pydantic body of a report's shape and
  answering 201 with a small JSON body (no middleware, no store), in a process of its own; CPU of
  that process per request, 16 clients on keep-alive connections. With asyncio's loop and h11
  (what LAPOR ran until round 3d), with uvloop, with httptools (a C parser: what LAPOR runs),
  and on Granian (a Rust HTTP server: embedded in the app's process, and as its own server with
  one worker process).
- **delivery**: a FastStream batch pull consumer (what every LAPOR service is) whose handler does
  nothing, acking each batch, in a process of its own; CPU per delivered event; and the same with
  nats.py alone (fetch + ack), the lower bound of any Python consumer.
- **publish**: nats.py `publish_async` of 800-byte events in batches of 500 (the relay's shape),
  and nats-server's own CPU for it.

Every figure is CPU time (user + system) of the process concerned: it hardly depends on the load
of the shared machine. Ends with `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from bench.common import cpu_seconds, load_average, print_header, result, scratch, table
from tests.support import free_port, nats_server, wait_for_port

BODY = {
    "title": "Jalan berlubang di depan pasar",
    "body": "Jalan berlubang besar di depan Pasar Oebobo sejak sebulan, membahayakan pengendara.",
    "category": "infrastruktur",
    "region_code": "53.71.01.1001",
    "reporter": {"name": "Maria", "phone": "081234567890"},
    "confidential": False,
}
EVENT_BYTES = 800


class Reporter(BaseModel):
    name: str | None = None
    phone: str | None = None


class Submit(BaseModel):
    title: str
    body: str
    category: str | None = None
    region_code: str | None = None
    reporter: Reporter | None = None
    confidential: bool = False


class Accepted(BaseModel):
    tracking_id: str
    status: str


# ---- the processes measured -------------------------------------------------------------------


def floor_app() -> Any:
    """One POST route taking a report-shaped body, answering 201 with a small JSON body."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/api/v1/reports", status_code=201, response_model=Accepted)
    async def submit(command: Submit) -> Accepted:
        return Accepted(tracking_id="ABCDEFGHJ", status="received")

    return app


def serve_http(port: int, loop: str, http: str) -> None:
    if http.startswith("granian"):
        serve_granian(port, loop, http)
        return
    import uvicorn

    uvicorn.run(floor_app(), host="127.0.0.1", port=port, loop=loop, http=http, log_level="warning")


def serve_granian(port: int, loop: str, mode: str) -> None:
    """The same app on Granian (its HTTP/1 front is Rust). "granian": the embedded server, the
    app on this process's own asyncio loop (as a LAPOR service would run it, beside its consumer);
    "granian-rust-tasks": the same with Granian's task implementation; "granian-worker": Granian's
    own server, one worker process with a single-threaded Rust runtime (CPU of both processes)."""
    from granian.constants import Interfaces, Loops, RuntimeModes, TaskImpl
    from granian.log import LogLevels

    if mode == "granian-worker":
        from granian.server import MPServer as Standalone

        Standalone(
            "bench.floor:floor_app",
            address="127.0.0.1",
            port=port,
            interface=Interfaces.ASGI,
            workers=1,
            runtime_mode=RuntimeModes.st,
            loop=Loops.uvloop if loop == "uvloop" else Loops.asyncio,
            log_level=LogLevels.warning,
            factory=True,
        ).serve()
        return

    from granian.server.embed import Server

    async def run() -> None:
        server = Server(
            floor_app(),
            address="127.0.0.1",
            port=port,
            interface=Interfaces.ASGI,
            task_impl=TaskImpl.rust if mode == "granian-rust-tasks" else TaskImpl.asyncio,
            log_level=LogLevels.warning,
        )
        await server.serve()

    if loop == "uvloop":
        import uvloop

        uvloop.run(run())
    else:
        asyncio.run(run())


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its children (Granian's server and its worker)."""
    total = cpu_seconds(pid)
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        total += sum(tree_cpu_seconds(int(child)) for child in children)
    return total


def consume(nats_url: str, mode: str, expected: int, loop: str) -> None:
    async def with_faststream() -> None:
        from faststream.nats import ConsumerConfig, JStream, NatsBroker, PullSub

        from shared.runtime.bus import pull_promptly

        broker = NatsBroker(nats_url, logger=None)
        seen = 0
        done = asyncio.Event()
        subscriber = broker.subscriber(
            "floor.>",
            stream=JStream("FLOOR", declare=False),
            durable="faststream",
            pull_sub=PullSub(batch_size=200, timeout=5.0, batch=True),
            config=ConsumerConfig(max_ack_pending=200),
        )

        @subscriber
        async def handle(bodies: list[dict[str, Any]]) -> None:
            nonlocal seen
            seen += len(bodies)
            if seen >= expected:
                done.set()

        setattr(subscriber, "_consume_pull", lambda: pull_promptly(subscriber))  # noqa: B010
        await broker.start()
        print("ready", flush=True)
        started = time.process_time()
        await done.wait()
        print(time.process_time() - started, flush=True)
        await broker.stop()

    async def with_nats_py() -> None:
        import nats

        nc = await nats.connect(nats_url)
        sub = await nc.jetstream().pull_subscribe("floor.>", durable="natspy", stream="FLOOR")
        print("ready", flush=True)
        started = time.process_time()
        seen = 0
        while seen < expected:
            try:
                messages = await sub.fetch(200, timeout=5)
            except TimeoutError:
                continue
            for message in messages:
                json.loads(message.data)
                await message.ack()
            seen += len(messages)
        print(time.process_time() - started, flush=True)
        await nc.close()

    main = with_faststream if mode == "faststream" else with_nats_py
    if loop == "uvloop":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


# ---- the measurements -------------------------------------------------------------------------


async def http_floor(loop: str, http: str, requests: int) -> float:
    port = free_port()
    server = subprocess.Popen(  # noqa: ASYNC220 (started once, before anything is measured)
        [sys.executable, "-m", "bench.floor", "--serve-http", str(port), loop, http],
        env=os.environ | {"PYTHONPATH": str(Path.cwd())},
    )
    try:
        await asyncio.to_thread(wait_for_port, port)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def one_client(n: int) -> None:
                for _ in range(n):
                    answer = await client.post("/api/v1/reports", json=BODY)
                    assert answer.status_code == 201, answer.text

            await asyncio.gather(*(one_client(20) for _ in range(16)))  # warm up
            before = tree_cpu_seconds(server.pid)
            await asyncio.gather(*(one_client(requests // 16) for _ in range(16)))
            return (tree_cpu_seconds(server.pid) - before) / (requests // 16 * 16) * 1e6
    finally:
        server.terminate()
        server.wait(10)


async def delivery_floor(
    nats_url: str, nats_pid: int, mode: str, loop: str, events: int
) -> tuple[float, float]:
    """CPU µs per event of the consumer, and of nats-server while it delivers."""
    import nats

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await js.add_stream(name="FLOOR", subjects=["floor.>"])
    durable = "faststream" if mode == "faststream" else "natspy"
    from nats.js.api import AckPolicy, ConsumerConfig

    await js.add_consumer(
        "FLOOR",
        ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT, max_ack_pending=200),
    )
    consumer = subprocess.Popen(  # noqa: ASYNC220 (started once, before anything is measured)
        [sys.executable, "-m", "bench.floor", "--consume", nats_url, mode, str(events), loop],
        stdout=subprocess.PIPE,
        env=os.environ | {"PYTHONPATH": str(Path.cwd())},
    )
    assert consumer.stdout is not None
    await asyncio.to_thread(consumer.stdout.readline)  # "ready"
    server_before = cpu_seconds(nats_pid)
    body = json.dumps({"data": "x" * (EVENT_BYTES - 20)}).encode()
    # Published one by one at a report's pace, as the relay does at a modest rate: each event is
    # a delivery of its own (batches of one), the case that costs a consumer the most per event.
    for i in range(events):
        await js.publish(f"floor.{i % 7}", body)
    consumer_cpu = float(await asyncio.to_thread(consumer.stdout.readline))  # its own CPU
    server_cpu = cpu_seconds(nats_pid) - server_before
    await asyncio.to_thread(consumer.wait, 60)
    await js.delete_stream("FLOOR")
    await nc.close()
    return consumer_cpu / events * 1e6, server_cpu / events * 1e6


async def publish_floor(nats_url: str, nats_pid: int, events: int) -> tuple[float, float]:
    import nats

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await js.add_stream(name="PUB", subjects=["pub.>"])
    body = b"x" * EVENT_BYTES
    started, server_started = time.process_time(), cpu_seconds(nats_pid)
    for first in range(0, events, 500):
        futures = [
            await js.publish_async(f"pub.{i % 7}", body, headers={"Nats-Msg-Id": str(i)})
            for i in range(first, min(events, first + 500))
        ]
        await asyncio.gather(*futures)
    own = time.process_time() - started
    server = cpu_seconds(nats_pid) - server_started
    await js.delete_stream("PUB")
    await nc.close()
    return own / events * 1e6, server / events * 1e6


async def main(args: argparse.Namespace) -> None:
    print_header("The frameworks' floor: CPU per request and per event, nothing of LAPOR in it")
    rows: list[list[object]] = []
    figures: dict[str, float] = {}
    servers = (
        ("asyncio", "h11"),
        ("uvloop", "h11"),
        ("asyncio", "httptools"),
        ("uvloop", "httptools"),
        ("asyncio", "granian"),
        ("asyncio", "granian-rust-tasks"),
        ("uvloop", "granian-worker"),
    )
    for loop, http in servers:
        us = await http_floor(loop, http, args.requests)
        figures[f"http_us_{loop}_{http}"] = round(us, 1)
        front = {
            "granian": "Granian embedded",
            "granian-rust-tasks": "Granian embedded, Rust tasks",
            "granian-worker": "Granian, 1 worker process",
        }.get(http, f"uvicorn, {http}")
        rows.append([f"HTTP POST, FastAPI + {front} ({loop})", f"{us:,.0f}"])
    with scratch("floor") as directory, nats_server(directory) as server:
        assert server.process is not None
        pid = server.process.pid
        publish_us, publish_server_us = await publish_floor(server.url, pid, args.events)
        figures["publish_us"] = round(publish_us, 1)
        figures["publish_nats_server_us"] = round(publish_server_us, 1)
        rows.append(["publish_async, batches of 500 (relay's shape)", f"{publish_us:,.0f}"])
        rows.append(["  nats-server storing it", f"{publish_server_us:,.0f}"])
        cases = (("faststream", "asyncio"), ("faststream", "uvloop"), ("nats", "asyncio"))
        for mode, loop in cases:
            us, server_us = await delivery_floor(server.url, pid, mode, loop, args.events)
            figures[f"delivery_us_{mode}_{loop}"] = round(us, 1)
            figures[f"delivery_nats_server_us_{mode}_{loop}"] = round(server_us, 1)
            label = "FastStream batch pull" if mode == "faststream" else "nats.py fetch + ack"
            rows.append([f"delivery + ack, {label} ({loop}), one at a time", f"{us:,.0f}"])
            rows.append(["  nats-server delivering it", f"{server_us:,.0f}"])
    print(table(["what", "CPU µs"], rows))
    events_per_report = 2  # ReportSubmitted, and the receipt's NotificationSent
    services = 5
    floor_ms = (
        figures["http_us_asyncio_httptools"]
        + events_per_report
        * (
            figures["publish_us"]
            + figures["publish_nats_server_us"]
            + services
            * (
                figures["delivery_us_faststream_asyncio"]
                + figures["delivery_nats_server_us_faststream_asyncio"]
            )
        )
    ) / 1000
    floor_uvloop_ms = (
        figures["http_us_uvloop_httptools"]
        + events_per_report
        * (
            figures["publish_us"]
            + figures["publish_nats_server_us"]
            + services
            * (
                figures["delivery_us_nats_asyncio"]
                + figures["delivery_nats_server_us_faststream_uvloop"]
            )
        )
    ) / 1000
    print(
        f"\nfloor per report, the stack as LAPOR runs it: {floor_ms:.2f} ms of CPU "
        f"(1 request + {events_per_report} events x (publish + {services} deliveries)); "
        f"with uvloop + httptools and bare nats.py consumers: {floor_uvloop_ms:.2f} ms"
    )
    print(f"load average at end: {load_average()}")
    result(
        floor_ms_per_report=round(floor_ms, 3),
        floor_ms_per_report_uvloop_httptools_natspy=round(floor_uvloop_ms, 3),
        load_average=load_average(),
        **figures,
    )


def cli() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-http":
        serve_http(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--consume":
        consume(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--events", type=int, default=5000)
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
