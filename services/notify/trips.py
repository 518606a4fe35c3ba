"""One trip to a worker thread for many callers: calls made while a trip is under way (or in the
same turn of the event loop) wait for the next one and go together.

A trip to a thread costs ≈ 30–60 µs of CPU here (the hand-off and the wake-ups), often more than
the work it carries: a batch of reactions decrypting their reporters' contacts and planning their
notices, or a dispatch run finishing a hundred deliveries, each made its own trip. Each caller
still gets its own result or its own exception, and returns only once its own call is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

A = TypeVar("A")
R = TypeVar("R")


class OneTrip(Generic[A, R]):
    """`await trip(arg)`: `run_many(args)` in a worker thread for every arg gathered meanwhile;
    `run_many` returns one result or exception per arg, in order."""

    def __init__(self, run_many: Callable[[Sequence[A]], Sequence[R | BaseException]]) -> None:
        self._run_many = run_many
        self._waiting: list[tuple[A, asyncio.Future[R]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def __call__(self, arg: A) -> R:
        loop = asyncio.get_running_loop()
        if self._runner is not None and self._runner.get_loop() is not loop:
            self._runner, self._waiting = None, []  # a new event loop (tests): start afresh
        outcome: asyncio.Future[R] = loop.create_future()
        self._waiting.append((arg, outcome))
        if self._runner is None:
            self._runner = loop.create_task(self._run())
        return await outcome

    async def _run(self) -> None:
        try:
            await asyncio.sleep(0)  # the callers of this turn of the loop come along
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    results = await asyncio.to_thread(self._run_many, [arg for arg, _ in batch])
                except BaseException as error:  # the whole trip failed: so did each call in it
                    cancelled = isinstance(error, asyncio.CancelledError)
                    for _, outcome in batch:
                        if outcome.done():
                            continue
                        if cancelled:
                            outcome.cancel()
                        else:
                            outcome.set_exception(error)
                    if cancelled:
                        for _, outcome in self._waiting:
                            outcome.cancel()
                        self._waiting = []
                        raise
                    continue
                for (_, outcome), result in zip(batch, results, strict=True):
                    if outcome.done():
                        continue
                    if isinstance(result, BaseException):
                        outcome.set_exception(result)
                    else:
                        outcome.set_result(result)
        finally:
            self._runner = None


def each(call: Callable[[A], R]) -> Callable[[Sequence[A]], list[R | BaseException]]:
    """`run_many` for a call that stands alone per arg: each result, or what it raised."""

    def run_many(args: Sequence[A]) -> list[R | BaseException]:
        out: list[R | BaseException] = []
        for arg in args:
            try:
                out.append(call(arg))
            except Exception as error:
                out.append(error)
        return out

    return run_many
