"""Compiled fold: how far does compiling the hot modules with mypyc take the rebuild?

    .venv/bin/python -m bench.compiled [--events 100000] [--runs 2] [--services sla verification]
        [--live 20000] [--check]
    .venv/bin/python -m bench.compiled --events 1000000 --runs 1 --services sla verification
    .venv/bin/python -m bench.compiled --runs 0 --profile sla verification    # py-spy, compiled
    .venv/bin/python -m bench.compiled --modules shared/reports/folding.py ... --compile-only

An experiment (issue 21), not a build step of the product. The sources of shared/, services/,
cli/ and bench/ (`git ls-files`, tracked and untracked, as they are in the working tree) are
copied to a scratch directory under bench/.data, where `--modules` are compiled with mypyc
(opt_level 3, a generated setup.py, `build_ext --inplace`, the project's strict mypy
configuration with the pydantic plugin; each compiled module that imports pydantic gets
`import pydantic.main` in the copy, see PYDANTIC_MAIN). Then each service's
`bench.rebuild.rebuild()` runs in child processes, alternately pure Python (the repo itself) and
compiled (the scratch copy first on the path; the child checks that every compiled module was
imported from its `.so`, and the pure one that it came from this checkout), `--runs` pairs, on
the first `--events` of the generated 1M-event store (bench/.data, see bench/rebuild.py).

`--check` compares the views a pure and a compiled rebuild wrote (a hash of their SQL dumps).
`--profile` runs the compiled rebuild of the services named under py-spy and prints its top
self-time frames and its time by kind (sqlite, pydantic, json, store decoding, the fold, ...).

Besides the rebuild (reader thread, decoding and fold together, as `Projector.rebuild` runs),
`--live N` measures the live path's own share: the CPU of `Projector.apply_batch` over the first
N events, pre-read, in batches of `--batch` (as a delivery brings them), with the default
garbage collector; 0 skips it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import (
    ROOT,
    generated_store,
    load_average,
    print_header,
    rate,
    result,
    scratch,
    spread,
    table,
)

SOURCE_EVENTS = 1_000_000
COPIED = ("shared/", "services/", "cli/", "bench/")

# The largest set found to compile and run (RESULTS.md, round 4): the modules the rebuilds run
# event by event — the views, the deadline fold, the projector, the store's row decoding. Left
# out: the modules that define pydantic models (shared/calendar.py, shared/reports/policy.py,
# shared/reports/facts.py), which compile but fail or validate wrongly once compiled.
DEFAULT_MODULES = (
    "shared/reports/deadlines.py",
    "shared/reports/folding.py",
    "shared/runtime/projection.py",
    "shared/store/sqlite.py",
    "services/sla/views.py",
    "services/verification/views.py",
    "services/verification/similarity.py",
    "services/routing/views.py",
    "services/routing/decisions.py",
    "services/intake/views.py",
    "services/notify/views.py",
)
SERVICES = ("notify", "routing", "intake", "sla", "verification")

MYPY_INI = """[mypy]
python_version = 3.11
strict = True
plugins = pydantic.mypy
"""
# mypyc builds a class on a pydantic base from the module that defines the base
# (`pydantic.main`), which a module importing `from pydantic import BaseModel` never binds: the
# C does not compile (`CPyModule_pydantic___main undeclared`), or, with the name declared by
# another compiled module, the class statement finds None. The copy of each compiled module that
# imports pydantic gets this line after its `from __future__` import (pydantic imports
# `pydantic.main` itself: nothing else changes).
PYDANTIC_MAIN = "\nimport pydantic.main  # noqa: F401 (bench.compiled: declares it for mypyc)\n"
FUTURE = "from __future__ import annotations\n"

SETUP_PY = """from setuptools import setup
from mypyc.build import mypycify

setup(
    name="lapor-compiled-bench",
    packages=[],
    py_modules=[],
    ext_modules=mypycify({modules!r}, opt_level="3"),
)
"""


# --- the compiled copy -----------------------------------------------------------------------
def copy_sources(dest: Path) -> int:
    """The tracked files under COPIED, as they are in the working tree; returns how many."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *COPIED],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\0")
    count = 0
    for name in listed:
        source = ROOT / name
        if not name or not source.is_file():
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        count += 1
    return count


def compile_modules(dest: Path, modules: list[str]) -> float:
    """Compile `modules` (paths relative to the root) in `dest`; returns the wall seconds."""
    for name in modules:
        path = dest / name
        text = path.read_text()
        if "from pydantic import" in text and FUTURE in text:
            path.write_text(text.replace(FUTURE, FUTURE + PYDANTIC_MAIN, 1))
    (dest / "mypy.ini").write_text(MYPY_INI)
    (dest / "setup.py").write_text(SETUP_PY.format(modules=modules))
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace"],
        cwd=dest,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(dest)},
    )
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        errors = [
            line
            for line in (done.stdout + done.stderr).splitlines()
            if ": error:" in line or "error:" in line.lower()
        ]
        raise RuntimeError(
            f"mypyc failed ({seconds:.0f} s):\n" + "\n".join(errors[:40] or [done.stderr[-4000:]])
        )
    return seconds


def module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


# --- one measurement, in a child process -----------------------------------------------------
def child(args: argparse.Namespace) -> None:
    """Run in the child: check where the modules came from, measure, print one JSON line."""
    from bench.rebuild import rebuild

    expected = args.expect or []
    origins = {}
    for name in expected:
        origins[name] = str(getattr(importlib.import_module(name), "__file__", ""))
    for name, origin in origins.items():
        # The venv's editable install points at another checkout: the path says which one ran.
        if origin.endswith(".so") != args.compiled or not origin.startswith(args.root):
            raise SystemExit(f"{name} came from {origin} (expected: {args.root}, {args.compiled})")
    directory = Path(args.views)
    out: dict[str, Any] = {"origins": origins}
    if args.live:
        out.update(live(args.service, Path(args.store), args.live, args.batch, directory / "live"))
    if args.events:
        sample = rebuild(args.service, Path(args.store), args.events, directory / "rebuild")
        out.update(
            count=sample.count,
            elapsed=sample.elapsed,
            cpu_us=sample.extra.get("cpu_us", float("nan")),
        )
        if args.check:
            out["views_sha256"] = views_digest(directory / "rebuild")
    print("CHILD " + json.dumps(out))


def views_digest(directory: Path) -> str:
    """One hash of every view file's SQL dump (schema and rows), to compare two rebuilds."""
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*.db")):
        conn = sqlite3.connect(path)
        try:
            for line in conn.iterdump():
                digest.update(line.encode())
        finally:
            conn.close()
    return digest.hexdigest()


def live(service: str, store_path: Path, limit: int, batch: int, directory: Path) -> dict[str, Any]:
    """CPU per event of `Projector.apply_batch` over the first `limit` events, `batch` at a time
    (the events read and decoded before the clock starts)."""
    from shared.settings import Settings
    from shared.store.sqlite import SqliteEventStore

    module = importlib.import_module(f"services.{service}.bootstrap")
    settings = Settings(data_dir=directory, event_store=f"sqlite:///{store_path}")

    async def read() -> list[Any]:
        store = SqliteEventStore(store_path)
        try:
            events: list[Any] = []
            while len(events) < limit:
                page = await store.read_all(events[-1].position if events else 0, 5000)
                if not page:
                    break
                events.extend(page[: limit - len(events)])
            return events
        finally:
            await store.close()

    events = asyncio.run(read())
    projector = module.create_projector(settings)
    try:
        cpu = time.process_time()
        for start in range(0, len(events), batch):
            projector.apply_batch(events[start : start + batch])
        spent = time.process_time() - cpu
    finally:
        projector.close()
    return {"live_count": len(events), "live_cpu_us": spent / max(1, len(events)) * 1e6}


def measure(
    service: str,
    store: Path,
    events: int,
    live_events: int,
    batch: int,
    expect: list[str],
    copy: Path | None,
    profile: Path | None = None,
    check: bool = False,
) -> dict[str, Any]:
    """One child: the repo itself (`copy` None) or the compiled copy; under py-spy (raw
    samples, native frames too: compiled code has no Python frames) when `profile` names a
    file."""
    root = copy or ROOT
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(root)
    with scratch("compiled-views") as views:
        command_of_child = [
            sys.executable,
            "-m",
            "bench.compiled",
            "--child",
            service,
            "--store",
            str(store),
            "--views",
            str(views),
            "--events",
            str(events),
            "--live",
            str(live_events),
            "--batch",
            str(batch),
            "--root",
            f"{root}/",
            "--expect",
            *expect,
        ]
        if copy is not None:
            command_of_child.append("--is-compiled")
        if check:
            command_of_child.append("--check")
        command = command_of_child
        if profile is not None:
            spy = Path(sys.executable).parent / "py-spy"
            command = [str(spy), "record", "-r", "200", "-f", "raw", "--native", "-o"]
            command += [str(profile), "--", *command_of_child]
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{service} child failed:\n{done.stderr[-3000:]}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("CHILD "))
    out: dict[str, Any] = json.loads(line.removeprefix("CHILD "))
    return out


# Where a sample's time went: the first frame from the leaf up that names one of these (Python
# frames by file, mypyc's C functions by module: `CPyDef_folding___Derivation___add`).
KINDS = (
    ("cyclic garbage collector", ("gc_collect",)),
    ("start-up (imports)", ("importlib",)),
    ("store decoding (row_to_event)", ("row_to_event", "sqlite___", "shared/store/", "uuid")),
    ("sqlite3 (views' and store's SQL)", ("sqlite3", "libsqlite")),
    ("pydantic (payloads, facts)", ("pydantic",)),
    ("json", ("json",)),
    ("calendar", ("calendar",)),
    ("fold (deadlines, folding, facts)", ("deadlines", "folding", "facts")),
    ("views", ("views", "similarity", "decisions")),
    ("projector", ("projection",)),
)


# With native frames py-spy counts waiting threads too: a sample whose innermost frames wait (a
# lock, the GIL, epoll) is idle, not CPU, and left out.
WAITS = (
    "PyThread_acquire_lock_timed",
    "pthread_cond_timedwait",
    "pthread_cond_wait",
    "epoll_wait",
    "take_gil",
    "sem_wait",
    "sem_clockwait",
)


def read_profile(path: Path, top: int = 15) -> tuple[list[list[str]], list[list[str]], float]:
    """py-spy's raw samples: the top self-time frames and the time by kind (KINDS), as shares
    of the samples on CPU; and the share of samples left out as waiting."""
    leaves: dict[str, int] = {}
    kinds: dict[str, int] = {}
    total = idle = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if any(wait in frame for frame in frames[-4:] for wait in WAITS):
            idle += count
            continue
        total += count
        leaf = re.sub(r":\d+\)$", ")", frames[-1])
        leaves[leaf] = leaves.get(leaf, 0) + count
        kind = next(
            (
                name
                for frame in reversed(frames)
                for name, marks in KINDS
                if any(mark in frame for mark in marks)
            ),
            "other (interpreter, threads, asyncio, gc)",
        )
        kinds[kind] = kinds.get(kind, 0) + count
    top_rows = [
        [f"`{leaf[:110]}`", f"{n / total:.1%}"]
        for leaf, n in sorted(leaves.items(), key=lambda x: -x[1])[:top]
    ]
    kind_rows = [[k, f"{n / total:.1%}"] for k, n in sorted(kinds.items(), key=lambda x: -x[1])]
    return top_rows, kind_rows, idle / max(1, idle + total)


# --- the run ---------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="At most 1,000,000")
    parser.add_argument("--runs", type=int, default=2, help="Pairs (pure, compiled) per service")
    parser.add_argument("--services", nargs="+", default=list(SERVICES))
    parser.add_argument("--modules", nargs="+", default=list(DEFAULT_MODULES))
    parser.add_argument("--live", type=int, default=0, help="Events for apply_batch (0: none)")
    parser.add_argument("--batch", type=int, default=100, help="Events per apply_batch")
    parser.add_argument(
        "--profile",
        nargs="*",
        default=[],
        help="Services whose compiled rebuild to profile with py-spy (after the pairs)",
    )
    parser.add_argument(
        "--check", action="store_true", help="Compare the views' SQL dumps, pure vs compiled"
    )
    parser.add_argument("--compile-only", action="store_true")
    parser.add_argument("--keep", action="store_true", help="Keep the compiled copy")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--views", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--expect", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument(
        "--is-compiled", dest="compiled", action="store_true", help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        args.service = args.child
        child(args)
        return
    print_header("Compiled fold: the rebuild, pure Python against mypyc-compiled hot modules")
    limit = min(args.events, SOURCE_EVENTS)
    store = generated_store(events=SOURCE_EVENTS) if not args.compile_only else Path()
    with scratch("compiled", keep=args.keep) as copy:
        files = copy_sources(copy)
        print(f"copied {files} files to {copy}", file=sys.stderr)
        seconds = compile_modules(copy, args.modules)
        print(f"compiled {len(args.modules)} modules with mypyc (opt_level 3) in {seconds:.0f} s:")
        for name in args.modules:
            print(f"- {name}")
        print()
        if args.compile_only:
            return
        expect = [module_name(m) for m in args.modules]
        print(
            f"{limit:,} events (the first of a generated {SOURCE_EVENTS:,}); {args.services};"
            f" {args.runs} pair(s) per service, pure then compiled\n"
        )
        samples: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for run in range(args.runs):
            for service in args.services:
                for variant, where in (("pure", None), ("compiled", copy)):
                    out = measure(
                        service,
                        store,
                        limit,
                        args.live,
                        args.batch,
                        expect,
                        where,
                        None,
                        args.check,
                    )
                    samples.setdefault((service, variant), []).append(out)
                    print(
                        f"  run {run + 1} {service} {variant}:"
                        f" {1e6 / out['cpu_us']:,.0f} events per CPU-second"
                        f" ({out['count'] / out['elapsed']:,.0f} events/s; load {load_average()})",
                        file=sys.stderr,
                    )
        profiles = {}
        for service in args.profile:
            out_file = copy / f"profile-{service}.raw"
            measure(service, store, limit, 0, args.batch, expect, copy, out_file)
            profiles[service] = read_profile(out_file)
    for service, (top_rows, kind_rows, idle) in profiles.items():
        print(
            f"\nprofile of the compiled {service} rebuild ({limit:,} events; py-spy, 200 Hz;"
            f" shares of the samples on CPU, {idle:.0%} waiting left out):"
        )
        print()
        print(table(["self time: frame", "share"], top_rows))
        print()
        print(table(["time by kind (innermost frame that says)", "share"], kind_rows))
        print()
    if args.runs:
        report(args, limit, samples, seconds)
    else:
        result(
            profiled_cpu_shares={
                service: dict(kind_rows) for service, (_, kind_rows, _) in profiles.items()
            },
            compile_seconds=round(seconds),
            modules=args.modules,
            events=limit,
        )


def report(
    args: argparse.Namespace,
    limit: int,
    samples: dict[tuple[str, str], list[dict[str, Any]]],
    compile_seconds: float,
) -> None:
    rows = []
    per_cpu: dict[str, dict[str, int]] = {"pure": {}, "compiled": {}}
    speedup: dict[str, float] = {}
    live_rows = []
    live_us: dict[str, dict[str, float]] = {"pure": {}, "compiled": {}}
    identical: dict[str, bool] = {}
    for service in args.services:
        rates = {
            v: [1e6 / s["cpu_us"] for s in samples[(service, v)]] for v in ("pure", "compiled")
        }
        best = {v: max(r) for v, r in rates.items()}
        ratios = [c / p for p, c in zip(rates["pure"], rates["compiled"], strict=True)]
        for v in ("pure", "compiled"):
            per_cpu[v][service] = round(best[v])
        speedup[service] = round(best["compiled"] / best["pure"], 2)
        rows.append(
            [
                service,
                rate(best["pure"]),
                spread(rates["pure"]),
                rate(best["compiled"]),
                spread(rates["compiled"]),
                f"{speedup[service]:.2f}×",
                spread(ratios, lambda x: f"{x:.2f}×"),
                "met" if best["compiled"] >= 30_000 else "no",
            ]
        )
        if args.check:
            digests = {s["views_sha256"] for v in rates for s in samples[(service, v)]}
            identical[service] = len(digests) == 1
            rows[-1].append("yes" if identical[service] else "NO")
        if args.live:
            us = {v: min(s["live_cpu_us"] for s in samples[(service, v)]) for v in rates}
            for v in us:
                live_us[v][service] = round(us[v], 1)
            live_rows.append(
                [
                    service,
                    f"{us['pure']:.1f}",
                    f"{us['compiled']:.1f}",
                    f"{us['pure'] / us['compiled']:.2f}×",
                    rate(1e6 / us["compiled"]),
                ]
            )
    print(
        table(
            [
                "service",
                "pure: events/s per CPU-second (best)",
                "spread",
                "compiled (best)",
                "spread",
                "speed-up (best/best)",
                "pair by pair",
                ">= 30,000?",
                *(["same views (SQL dump)"] if args.check else []),
            ],
            rows,
        )
    )
    if live_rows:
        print(
            f"\nlive path: `Projector.apply_batch`, {args.live:,} events in batches of {args.batch}"
        )
        print()
        print(
            table(
                [
                    "service",
                    "pure CPU µs/event",
                    "compiled CPU µs/event",
                    "speed-up",
                    "compiled events per CPU-second",
                ],
                live_rows,
            )
        )
    print(f"\nmypyc compile time: {compile_seconds:.0f} s; load average at end: {load_average()}")
    result(
        pure_rebuild_events_per_cpu_second=per_cpu["pure"],
        compiled_rebuild_events_per_cpu_second=per_cpu["compiled"],
        compiled_speedup=speedup,
        live_apply_cpu_us=live_us if args.live else None,
        compile_seconds=round(compile_seconds),
        views_identical=identical if args.check else None,
        modules=args.modules,
        events=limit,
        runs=args.runs,
    )


if __name__ == "__main__":
    main()
