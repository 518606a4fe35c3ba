"""Rebuilding a service's views at start, in a child process.

A replay allocates hundreds of MB and CPython keeps most of it afterwards: its allocator frees an
arena only when nothing in it is alive, and the few objects that outlive a replay (caches, interned
text) are spread over most of them. sla after 100,000 events held 287 MB for the rest of its life,
where an idle service holds about 100 MB. A child process does the replay and exits, so its memory
goes with it; the service then starts on the finished views.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Protocol

from shared.logs import configure_logging
from shared.runtime.projection import Projector
from shared.settings import Settings


class _ProjectorFactory(Protocol):
    def create_projectors(self, settings: Settings) -> list[Projector]: ...


def rebuild_here(module: str, settings: Settings, name: str) -> int:
    """Replay the store into the views named `name` of `module`'s service (its composition root,
    `services.<service>.bootstrap`, makes them with `create_projectors`). Returns the events."""
    from shared.store import open_store

    factory: _ProjectorFactory = importlib.import_module(module)
    projectors = factory.create_projectors(settings)
    try:
        (projector,) = (p for p in projectors if p.name == name)

        async def replay() -> int:
            store = open_store(settings.event_store_url)
            try:
                return await projector.rebuild(store)
            finally:
                await store.close()

        return asyncio.run(replay())
    finally:
        for each in projectors:
            each.close()


def _in_child(module: str, settings: Settings, name: str) -> int:
    configure_logging(f"{name}-rebuild", settings.log_level)
    return rebuild_here(module, settings, name)


async def rebuild_in_child(module: str, settings: Settings, name: str) -> int:
    """`rebuild_here` in a fresh interpreter (spawned, not forked: a fork would share the event
    loop's and the store's open files). The views are done when this returns; a failure in the
    child is raised here."""
    import multiprocessing  # here: only a start after an upgrade needs them
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return await asyncio.get_running_loop().run_in_executor(
            pool, _in_child, module, settings, name
        )
