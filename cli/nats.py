"""`lapor nats`: NATS users generated from the directory, credentials, and the server itself.

- `accounts` writes the `accounts { … }` block of nats-server's configuration: a user for every
  LAPOR process, `ops` (read-only monitoring) and `agency-<CODE>` for every institution.
- `credentials --agency CODE | --ops` prints (last line) a NATS URL with that user's password.
- `serve` runs nats-server with a base configuration plus the generated accounts and reloads it
  (SIGHUP) whenever the directory changes: adding an institution never means editing a file.
  `lapor up` runs it; so does each NATS node of `deploy/compose/production.yml`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from shared.runtime.nats_auth import (
    OPS_USER,
    agency_consumer,
    embedded_server_config,
    inbox_prefix,
    nats_password,
    server_accounts,
    with_credentials,
)
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.store.port import EventStore

# How often `serve` looks at the store for directory changes.
WATCH_SECONDS = 1.0


async def directory_codes(store: EventStore) -> list[str]:
    from shared.runtime.directory import LiveDirectory

    directory = LiveDirectory(store)
    await directory.refresh()
    return sorted(institution.code for institution in directory.current)


def accounts_text(settings: Settings, codes: list[str]) -> str:
    return server_accounts(settings.master_secret, codes)


def write_private(path: Path, text: str) -> None:
    """Write atomically, readable by its owner only (it holds passwords)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(partial, path)


async def read_codes(settings: Settings) -> list[str]:
    from shared.store import open_store

    store = open_store(settings.event_store_url)
    try:
        return await directory_codes(store)
    finally:
        await store.close()


def credentials(settings: Settings, agency: str | None, ops: bool) -> list[str]:
    """The lines `lapor nats credentials` prints; the URL is the last."""
    public = settings.nats_public_url or settings.nats_url
    public = ",".join(one.split("@")[-1] for one in public.split(","))  # no credentials in it
    if ops:
        return [
            f"NATS user {OPS_USER}: read-only monitoring (stream and consumer state).",
            with_credentials(public, OPS_USER, nats_password(settings.master_secret, OPS_USER)),
        ]
    assert agency is not None
    user = agency_consumer(agency)
    return [
        f"NATS user {user}: pulls and acknowledges its own consumer, nothing else.",
        f"  stream: LAPOR_EVENTS   consumer: {user}   subjects: lapor.v1.events.*.*.{agency}",
        f"  connect with inbox_prefix={inbox_prefix(user)!r}; then"
        f" js.pull_subscribe_bind({user!r}, 'LAPOR_EVENTS') (docs/agency-integration.md)",
        with_credentials(public, user, nats_password(settings.master_secret, user)),
    ]


def nats_server_binary() -> str:
    from cli.supervisor import nats_server_binary as find

    return find()


def server_config(settings: Settings, base: Path | None, codes: list[str]) -> str:
    if base is not None:
        head = base.read_text()
    else:
        store_dir = (settings.data_dir / "nats").resolve()
        head = embedded_server_config(settings.host, settings.nats_port, str(store_dir))
    return head.rstrip() + "\n\n" + accounts_text(settings, codes)


async def serve(settings: Settings, base: Path | None, config: Path) -> int:
    """nats-server with the generated accounts, reloaded when the directory changes."""
    from shared.logs import configure_logging, get_logger
    from shared.store import open_store
    from shared.store.port import follow

    configure_logging("nats", settings.log_level)
    log = get_logger(__name__)
    store = open_store(settings.event_store_url)
    since = await store.last_position()
    codes = await directory_codes(store)
    write_private(config, server_config(settings, base, codes))
    server = await asyncio.create_subprocess_exec(nats_server_binary(), "-c", str(config))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def watch() -> None:
        nonlocal codes
        async for events in follow(store, since, idle_sleep=WATCH_SECONDS, max_idle_sleep=2.0):
            if not any(event.stream == "directory" for event in events):
                continue
            now = await directory_codes(store)
            if now == codes:
                continue
            codes = now
            write_private(config, server_config(settings, base, codes))
            server.send_signal(signal.SIGHUP)
            log.info("nats_accounts_reloaded", institutions=len(codes))

    watcher = asyncio.create_task(watch())
    died = asyncio.create_task(server.wait())
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({watcher, died, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (watcher, died, stopped):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(server.wait(), 60)  # a consumer per institution to flush
            except TimeoutError:
                server.kill()
                await server.wait()
        await store.close()
    return server.returncode or 0
