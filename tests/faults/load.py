"""A load of citizens and administrators, and a chaos driver that kills components under it.

Citizens: a bounded pool of async HTTP clients submits `total` reports to intake, each with its
own `Idempotency-Key`. A request that fails because something was killed (connection refused or
reset, a timeout, 503) is sent again, same key, same body, until it is acknowledged with 201.
Administrators: bulk verify (`POST /api/v1/bulk-verify`, up to 200 reports, its own
`Idempotency-Key`, retried the same way) every report once it has been acknowledged, so routing
forwards it and notify tells the reporter and the agency.

The chaos driver kills one component after another (SIGKILL), each at a random moment inside its
slice of the load, and starts it again at once on the same port and data. The load is cut into
slices and a slice is released only after the previous kill, so every kill lands under load
however fast or slow the machine is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.faults.harness import Faults

RETRY_STATUSES = frozenset({502, 503, 504})
BULK = 200

# (region, category) -> the agency the directory's routing rules forward it to.
ROUTES: tuple[tuple[str, str, str], ...] = (
    ("5371", "kesehatan", "DINKES-KOTA-KUPANG"),
    ("5371", "infrastruktur", "DPUPR-KOTA-KUPANG"),
    ("5303", "kesehatan", "DINKES-KAB-TTU"),
    ("3572", "pendidikan", "DINDIK-KOTA-BLITAR"),
)


@dataclass
class Submission:
    index: int
    key: str
    body: dict[str, Any]
    agency: str
    email: str | None
    tracking_id: str | None = None
    tries: int = 0
    failures: list[str] = field(default_factory=list)
    acknowledged_at: float | None = None


@dataclass
class Kill:
    component: str
    at_acknowledged: int
    killed_at: float
    ready_at: float | None = None
    failures_during: int = 0

    @property
    def down_seconds(self) -> float | None:
        return None if self.ready_at is None else self.ready_at - self.killed_at


@dataclass
class LoadReport:
    submissions: list[Submission]
    verified: set[str]
    kills: list[Kill]
    bulk_requests: int
    bulk_retries: int
    bulk_failures: Counter[str]
    unexpected: list[str]
    seconds: float

    @property
    def retried(self) -> list[Submission]:
        return [s for s in self.submissions if s.failures]

    def failure_kinds(self) -> Counter[str]:
        return Counter(kind for s in self.submissions for kind in s.failures)


def make_submissions(total: int, run: str, email_every: int = 5) -> list[Submission]:
    """Reports over the four routes; every `email_every`th reporter leaves an e-mail address (it
    goes into the encrypted reporter blob; notices to web reporters stay on the report page, so
    the e-mails that notify sends go to the agencies' liaison officers)."""
    submissions = []
    for index in range(total):
        region, category, agency = ROUTES[index % len(ROUTES)]
        email = f"warga.{run}.{index}@example.org" if index % email_every == 0 else None
        body: dict[str, Any] = {
            "classification": "complaint",
            "title": f"Uji ketahanan {run}-{index:05d}",
            "body": f"Laporan uji ketahanan nomor {index} dari proses {run}: pelayanan terhenti.",
            "category": category,
            "location": {"region_code": region, "address": f"Alamat uji {index}"},
        }
        if email:
            body["reporter"] = {"email": email}
        submissions.append(Submission(index, f"fault-{run}-{index}", body, agency, email))
    return submissions


def _append_line(path: Path, line: str) -> None:
    with path.open("a") as file:
        file.write(line + "\n")


class Load:
    def __init__(
        self,
        faults: Faults,
        submissions: Sequence[Submission],
        *,
        components: Sequence[str],
        pool: int = 16,
        seed: int = 1708,
        deadline_seconds: float = 600.0,
    ) -> None:
        self.faults = faults
        self.submissions = list(submissions)
        self.components = list(components)
        self.pool = pool
        self.rng = random.Random(seed)
        self.deadline = time.monotonic() + deadline_seconds
        self.slice = max(1, len(self.submissions) // (len(self.components) + 1))
        self.acknowledged = 0
        self.kills_done = 0
        self.progress = asyncio.Condition()
        self.verified: set[str] = set()
        self.to_verify: list[str] = []
        self.kills: list[Kill] = []
        self.bulk_requests = 0
        self.bulk_retries = 0
        self.bulk_failures: Counter[str] = Counter()
        self.unexpected: list[str] = []
        self.failures_seen = 0
        self.admin = faults.admin()
        self.restarts: list[asyncio.Task[None]] = []

    # -- waiting on the load's own progress -------------------------------------------------
    async def _until(self, condition: Callable[[], bool]) -> None:
        async with self.progress:
            left = max(1.0, self.deadline - time.monotonic())
            await asyncio.wait_for(self.progress.wait_for(condition), timeout=left)

    async def _notify(self) -> None:
        async with self.progress:
            self.progress.notify_all()

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("the load did not finish before its deadline")
        return left

    # -- citizens ------------------------------------------------------------------------------
    async def _submit(self, client: httpx.AsyncClient, sub: Submission) -> None:
        url = f"{self.faults.url('intake')}/api/v1/reports"
        backoff = 0.1
        while True:
            self._left()
            sub.tries += 1
            try:
                response = await client.post(
                    url, json=sub.body, headers={"Idempotency-Key": sub.key}
                )
            except httpx.TransportError as error:
                failure = type(error).__name__
            else:
                if response.status_code == 201:
                    tracking_id = response.json()["tracking_id"]
                    if sub.tracking_id is not None and tracking_id != sub.tracking_id:
                        self.unexpected.append(f"{sub.key}: two tracking IDs")
                    sub.tracking_id = tracking_id
                    sub.acknowledged_at = time.monotonic()
                    return
                if response.status_code not in RETRY_STATUSES:
                    self.unexpected.append(
                        f"submit {sub.key}: HTTP {response.status_code} {response.text[:300]}"
                    )
                    raise AssertionError(self.unexpected[-1])
                failure = f"HTTP {response.status_code}"
            sub.failures.append(failure)
            self.failures_seen += 1
            # Intake is down or restarting: back off, then the same key and body again.
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    async def _citizen(self, client: httpx.AsyncClient, queue: asyncio.Queue[Submission]) -> None:
        while True:
            try:
                sub = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            # A slice of the load goes out only once the kill before it has happened.
            gate = min(len(self.components), sub.index // self.slice)
            await self._until(lambda: self.kills_done >= gate)
            await self._submit(client, sub)
            async with self.progress:
                self.acknowledged += 1
                assert sub.tracking_id is not None
                self.to_verify.append(sub.tracking_id)
                self.progress.notify_all()

    # -- administrators ---------------------------------------------------------------------
    async def _bulk_verify(self, client: httpx.AsyncClient, ids: list[str], key: str) -> None:
        url = f"{self.faults.url('verification')}/api/v1/bulk-verify"
        backoff = 0.2
        while True:
            self._left()
            self.bulk_requests += 1
            try:
                response = await client.post(
                    url,
                    json={"tracking_ids": ids},
                    headers={**self.admin, "Idempotency-Key": key},
                )
            except httpx.TransportError as error:
                failure = type(error).__name__
            else:
                if response.status_code == 200:
                    for result in response.json()["results"]:
                        if result["outcome"] in ("verified", "unchanged") or (
                            result["outcome"] == "conflict"
                            and result["status"] in ("verified", "forwarded")
                        ):
                            self.verified.add(result["tracking_id"])
                        else:
                            self.unexpected.append(f"bulk {key}: {result}")
                    return
                if response.status_code not in RETRY_STATUSES:
                    self.unexpected.append(
                        f"bulk {key}: HTTP {response.status_code} {response.text[:300]}"
                    )
                    raise AssertionError(self.unexpected[-1])
                failure = f"HTTP {response.status_code}"
            self.bulk_retries += 1
            self.bulk_failures[failure] += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    async def _administrator(self, client: httpx.AsyncClient, batches: list[int]) -> None:
        total = len(self.submissions)
        while True:
            await self._until(lambda: bool(self.to_verify) or self.acknowledged == total)
            if not self.to_verify:
                return
            ids, self.to_verify[:] = self.to_verify[:BULK], self.to_verify[BULK:]
            batches[0] += 1
            await self._bulk_verify(client, ids, f"fault-bulk-{batches[0]}-{ids[0]}")

    # -- chaos ----------------------------------------------------------------------------------
    async def _chaos(self) -> None:
        for number, component in enumerate(self.components):
            # A random moment inside this slice of the load (not a synchronisation).
            threshold = number * self.slice + int(self.slice * self.rng.uniform(0.25, 0.75))
            await self._until(lambda: self.acknowledged >= threshold)
            await asyncio.sleep(self.rng.uniform(0.0, 0.3))  # a random moment, not a sync
            kill = Kill(component, self.acknowledged, time.monotonic())
            failures_before = self.failures_seen
            relay_starts = self.faults.relay_starts()
            await asyncio.to_thread(self.faults.kill, component)
            await asyncio.to_thread(self.faults.start, component)
            self.kills.append(kill)
            self.kills_done += 1
            await self._notify()
            self.restarts.append(
                asyncio.create_task(self._ready(kill, relay_starts, failures_before))
            )

    async def _sample(self) -> None:
        """Every second, where each consumer stands (for diagnosis: data/timeline.jsonl)."""
        path = self.faults.data_dir / "timeline.jsonl"
        while True:
            with contextlib.suppress(Exception):
                quiet = await asyncio.to_thread(self.faults.observe)
                line = json.dumps({"t": round(time.monotonic(), 1), **asdict(quiet)})
                await asyncio.to_thread(_append_line, path, line)
            await asyncio.sleep(1.0)  # a sampling period, not a synchronisation

    async def _ready(self, kill: Kill, relay_starts: int, failures_before: int) -> None:
        await asyncio.to_thread(self.faults.wait_ready, kill.component, relay_starts)
        kill.ready_at = time.monotonic()
        kill.failures_during = self.failures_seen - failures_before
        await self._notify()

    # -- the whole run ------------------------------------------------------------------------
    async def run(self) -> LoadReport:
        started = time.monotonic()
        queue: asyncio.Queue[Submission] = asyncio.Queue()
        for sub in self.submissions:
            queue.put_nowait(sub)
        limits = httpx.Limits(max_connections=self.pool + 4, max_keepalive_connections=self.pool)
        batches = [0]
        async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:
            citizens = [asyncio.create_task(self._citizen(client, queue)) for _ in range(self.pool)]
            admins = [asyncio.create_task(self._administrator(client, batches)) for _ in range(2)]
            chaos = asyncio.create_task(self._chaos())
            sampler = asyncio.create_task(self._sample())
            try:
                await asyncio.gather(*citizens, chaos)
                await self._notify()
                await asyncio.gather(*admins)
                await asyncio.gather(*self.restarts)
            finally:
                for task in (*citizens, *admins, chaos, sampler, *self.restarts):
                    task.cancel()
        return LoadReport(
            submissions=self.submissions,
            verified=self.verified,
            kills=self.kills,
            bulk_requests=self.bulk_requests,
            bulk_retries=self.bulk_retries,
            bulk_failures=self.bulk_failures,
            unexpected=self.unexpected,
            seconds=time.monotonic() - started,
        )
