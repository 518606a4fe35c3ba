"""notify's own CPU per report, in process: its reactions to a batch of submissions and one
dispatch run, without NATS, the relay or any other service beside it.

    .venv/bin/python -m bench.notify_in_process [--reports 1000] [--batch 8] [--runs 2]

The end-to-end benchmark counts every process's CPU on a shared machine, where notify's share
moves with the load of the others. Here only notify's work is in the process:
- N web submissions are appended to a fresh store (a fifth anonymous, the rest with a phone
  number, as `bench.end_to_end` submits them) by the notify tests' hands (`tests/notify/harness`);
- `Reactions` takes them `--batch` at a time (as the consumer hands it a delivery) and plans each
  receipt into the outbox, decrypting the reporter's contact;
- one `Dispatcher` run finishes every notice: the web notice is recorded on the report's page,
  SMS is not configured here, so those notices end "failed" with their outcome event stored.
CPU is `getrusage` of the process (every thread: the store's writer, notify's worker thread), and
the event loop's own thread (`thread_time`) beside it. Ends with `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from bench.common import load_average, print_header, result, scratch, table
from services.notify.contacts import Contacts, StaffDirectory
from services.notify.dispatcher import Dispatcher
from services.notify.notices import Links
from services.notify.outbox import Outbox
from services.notify.reactions import Reactions
from services.notify.rendering import Renderer
from services.notify.settings import NotifySettings
from shared.calendar import WorkingDayCalendar
from shared.clock import SystemClock
from shared.reports.policy import DEFAULT_POLICY
from shared.runtime.directory import LiveDirectory
from shared.values import Channel
from tests.notify.harness import Hands

WARM_UP = 20
SECRET = "bench-secret"


@dataclass
class Figures:
    reports: int
    reactions_us: float
    reactions_loop_us: float
    dispatch_us: float
    dispatch_loop_us: float

    @property
    def total_ms(self) -> float:
        return (self.reactions_us + self.dispatch_us) / 1000


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(directory: Path, reports: int, batch: int) -> Figures:
    hands = Hands.on(directory, SECRET)
    outbox = Outbox(directory / "notify_outbox.db")
    try:
        for i in range(reports + WARM_UP):
            contact = None if i % 5 == 0 else {"phone": "+6281234567890", "name": "Warga"}
            await hands.submit(Channel.WEB, contact)
        events = await hands.store.read_all(0, 10 * (reports + WARM_UP))
        staff = StaffDirectory(SECRET.encode(), LiveDirectory(hands.store))
        contacts = Contacts(hands.store, hands.keys, staff)
        reactions = Reactions(
            store=hands.store,
            outbox=outbox,
            clock=SystemClock(),
            staff=staff,
            contacts=contacts,
            links=Links("https://lapor.example"),
            calendar=WorkingDayCalendar.default(),
            policy=DEFAULT_POLICY,
        )
        dispatcher = Dispatcher(
            outbox=outbox,
            store=hands.store,
            clock=SystemClock(),
            renderer=Renderer(),
            contacts=contacts,
            senders={},
            unconfigured={"sms": "SMS is not configured"},
            settings=NotifySettings(),
        )
        await staff.ready()
        for event in events[:WARM_UP]:  # statements, caches, the worker thread
            await reactions(event)
        await dispatcher.dispatch()
        rest = events[WARM_UP:]
        cpu, loop = _cpu(), time.thread_time()
        for start in range(0, len(rest), batch):
            await asyncio.gather(*(reactions(event) for event in rest[start : start + batch]))
        reacted_cpu, reacted_loop = _cpu(), time.thread_time()
        await dispatcher.dispatch()
        done_cpu, done_loop = _cpu(), time.thread_time()
        n = len(rest)
        return Figures(
            n,
            (reacted_cpu - cpu) / n * 1e6,
            (reacted_loop - loop) / n * 1e6,
            (done_cpu - reacted_cpu) / n * 1e6,
            (done_loop - reacted_loop) / n * 1e6,
        )
    finally:
        outbox.close()
        await hands.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=8, help="Events per delivery")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    print_header("notify in process: CPU per report of its reactions and one dispatch run")
    logging.disable(logging.CRITICAL)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    runs: list[Figures] = []
    for _ in range(args.runs):
        with scratch("notify") as directory:
            runs.append(asyncio.run(_measure(directory, args.reports, args.batch)))
    rows = [
        [
            i + 1,
            f"{f.reports:,}",
            f"{f.reactions_us:.0f} ({f.reactions_loop_us:.0f})",
            f"{f.dispatch_us:.0f} ({f.dispatch_loop_us:.0f})",
            f"{f.total_ms:.2f}",
        ]
        for i, f in enumerate(runs)
    ]
    print(
        table(
            [
                "run",
                "reports",
                "reactions µs (loop thread)",
                "dispatch µs (loop thread)",
                "ms per report",
            ],
            rows,
        )
    )
    median = statistics.median(f.total_ms for f in runs)
    print(f"\nmedian {median:.2f} ms per report; load average at end: {load_average()}")
    result(
        notify_in_process_ms_per_report=round(median, 3),
        reactions_us=round(statistics.median(f.reactions_us for f in runs)),
        dispatch_us=round(statistics.median(f.dispatch_us for f in runs)),
    )


if __name__ == "__main__":
    main()
