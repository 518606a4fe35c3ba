"""A/B: one benchmark run on two revisions of this repository in alternation, its RESULT figures
side by side.

    .venv/bin/python -m bench.ab --base REV [--head REV] [--pairs 3] -- NAME [ARGS…]
    .venv/bin/python -m bench.ab --base main~1 --pairs 4 -- store_append --concurrency 8 --runs 1

This machine's two cores are shared, and its speed moves by tens of percent within an hour, so a
change is judged on runs of both revisions made minutes apart, never on one figure against an
older one. Each revision is checked out in a detached worktree of its own (sharing this repo's
`.venv` and its generated stores in `bench/.data`), and `python -m bench.NAME ARGS` runs there:
its own code is imported. The pairs alternate their order (A B, B A, …) so neither revision
always meets the machine as the other left it. Every number in each run's `RESULT {json}` line
(nested objects as dotted keys) is shown with both medians and the change. Ends with its own
`RESULT {json}`: the medians of both revisions. Both revisions must know the benchmark's
arguments (`rebuild --no-floors` exists from round 6 on: for an older base, A/B against a commit
that has it, e.g. the one that added it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import DATA, ROOT, load_average, print_header, result, table


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()


@contextlib.contextmanager
def checkout(revision: str) -> Iterator[Path]:
    """A detached worktree of `revision`, removed afterwards."""
    sha = _git("rev-parse", "--verify", f"{revision}^{{commit}}")
    path = DATA / f"ab-{sha[:12]}-{os.getpid()}"
    _git("worktree", "add", "--detach", "--force", str(path), sha)
    try:
        (path / "bench" / ".data").symlink_to(DATA, target_is_directory=True)
        yield path
    finally:
        _git("worktree", "remove", "--force", str(path))


def run_once(tree: Path, name: str, args: list[str]) -> dict[str, float]:
    """One run of `bench.NAME` in `tree`: the numbers of its RESULT line."""
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *args],
        cwd=tree,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tree)},
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        sys.stderr.write(done.stdout[-2000:] + done.stderr[-4000:])
        raise SystemExit(f"bench.{name} failed in {tree} (exit {done.returncode})")
    return dict(_numbers(json.loads(lines[-1].removeprefix("RESULT "))))


def _numbers(value: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _numbers(inner, f"{prefix}{key}.")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield prefix.removesuffix("."), float(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="Revision A (e.g. main~1)")
    parser.add_argument("--head", default="HEAD", help="Revision B")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("benchmark", nargs=argparse.REMAINDER, help="-- NAME [ARGS…]")
    args = parser.parse_args()
    command = [part for part in args.benchmark if part != "--"]
    if not command or not (ROOT / "bench" / f"{command[0]}.py").exists():
        parser.error("name a benchmark of bench/ after --, e.g. -- store_append --runs 1")
    name, bench_args = command[0], command[1:]
    print_header(f"A/B of bench.{name}: {args.base} against {args.head}")
    runs: dict[str, list[dict[str, float]]] = {"A": [], "B": []}
    with checkout(args.base) as tree_a, checkout(args.head) as tree_b:
        trees = {"A": tree_a, "B": tree_b}
        for pair in range(args.pairs):
            order = ("A", "B") if pair % 2 == 0 else ("B", "A")
            for side in order:
                figures = run_once(trees[side], name, bench_args)
                runs[side].append(figures)
                print(f"  pair {pair + 1} {side}: load {load_average()}", file=sys.stderr)
    keys = sorted(set().union(*runs["A"], *runs["B"]) - {"load_average"})
    rows = []
    medians: dict[str, dict[str, float]] = {"A": {}, "B": {}}
    for key in keys:
        values = {side: [r[key] for r in runs[side] if key in r] for side in runs}
        if not values["A"] or not values["B"]:
            continue
        a, b = (statistics.median(values[side]) for side in ("A", "B"))
        medians["A"][key], medians["B"][key] = a, b
        change = f"{(b - a) / abs(a):+.0%}" if a else ""
        each = " / ".join(f"{x:g}" for x in values["A"]) + " | "
        each += " / ".join(f"{x:g}" for x in values["B"])
        rows.append([key, f"{a:g}", f"{b:g}", change, each])
    print(f"A = {args.base}, B = {args.head}; {args.pairs} pairs, medians\n")
    print(table(["figure", "A", "B", "B against A", "each run (A | B)"], rows))
    print(f"\nload average at end: {load_average()}")
    result(base=args.base, head=args.head, pairs=args.pairs, a=medians["A"], b=medians["B"])


if __name__ == "__main__":
    main()
