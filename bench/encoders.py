"""Compiled JSON encoders against the store's canonical JSON: same bytes? how much faster?

    .venv/bin/python -m bench.encoders [--events 100000] [--runs 3]

Every append writes its event's data as canonical JSON (`shared.store.chain.canonical_json`:
`json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`) and hashes those bytes
into the stream's chain, so an audit in ten years recomputes the same hash from the same data.
A faster encoder can only replace it if it writes the same bytes for every value the store
accepts. This measures, on the data of the generated store's events (`bench/.data`, realistic
lifecycles) and on edge cases the store accepts:
- how many events each encoder writes byte for byte as the store does;
- the CPU µs per event of each (best of `--runs`);
- what each writes for the edge cases: exponents, NaN and infinities, integers beyond 64 bits,
  separators and control characters.
Encoders: `orjson` (`OPT_SORT_KEYS`) and `msgspec` (`order="sorted"`), both in the bench group.
Ends with `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import msgspec
import orjson

from bench.common import generated_store, load_average, print_header, result, table
from shared.store.chain import canonical_json

_msgspec_encode = msgspec.json.Encoder(order="sorted").encode


def _orjson(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _msgspec(value: Any) -> str:
    return _msgspec_encode(value).decode()


ENCODERS: dict[str, Callable[[Any], str]] = {
    "stdlib json (the store's canonical_json)": canonical_json,
    f"orjson {orjson.__version__}": _orjson,
    f"msgspec {msgspec.__version__}": _msgspec,
}

EDGE_CASES: list[tuple[str, Any]] = [
    ("0.1", 0.1),
    ("1e-05", 1e-05),
    ("1e16", 1e16),
    ("-0.0", -0.0),
    ("NaN", float("nan")),
    ("Infinity", float("inf")),
    ("2**64", 2**64),
    ("U+2028 in a string", "\u2028"),
    ("U+007F in a string", "\x7f"),
    ("a lone surrogate", "\ud800"),
    ("keys é, e, Z", {"é": 1, "e": 2, "Z": 3}),
]


def stored_data(limit: int, event_type: str | None = None) -> list[Any]:
    """The data of the generated store's first `limit` events (of one type only if given)."""
    path = generated_store(events=100_000 if limit <= 100_000 else 1_000_000)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT data FROM events WHERE ? IS NULL OR event_type = ? ORDER BY position LIMIT ?",
            (event_type, event_type, limit),
        )
        return [json.loads(data) for (data,) in rows]
    finally:
        conn.close()


def cpu_us_per_value(encode: Callable[[Any], str], values: list[Any], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        began = time.process_time()
        for value in values:
            encode(value)
        best = min(best, time.process_time() - began)
    return best / len(values) * 1e6


def written(encode: Callable[[Any], str], value: Any) -> str:
    try:
        return encode(value)
    except Exception as error:  # an encoder refusing a value is an answer here
        return f"refused ({type(error).__name__})"


def shown(text: str) -> str:
    """Printable whatever the encoder wrote (a lone surrogate cannot be printed as UTF-8)."""
    return text.encode("ascii", "backslashreplace").decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print_header("Compiled JSON encoders against the store's canonical JSON")
    rows = []
    figures: dict[str, object] = {}
    for events, event_type in (("every event", None), ("ReportSubmitted", "ReportSubmitted")):
        values = stored_data(args.events, event_type)
        reference = [canonical_json(value) for value in values]
        size = sum(len(text.encode()) for text in reference) / len(reference)
        stdlib_us = 0.0
        for name, encode in ENCODERS.items():
            same = sum(1 for v, ref in zip(values, reference, strict=True) if encode(v) == ref)
            us = cpu_us_per_value(encode, values, args.runs)
            if encode is canonical_json:
                stdlib_us = us
            rows.append(
                [
                    f"{events} ({len(values):,}, {size:.0f} bytes on average)",
                    name,
                    f"{same:,} / {len(values):,}",
                    f"{us:.1f}",
                    f"{stdlib_us - us:.1f}" if encode is not canonical_json else "",
                ]
            )
            key = name.split()[0] + ("_submitted" if event_type else "")
            figures[f"{key}_us_per_event"] = round(us, 2)
            figures[f"{key}_identical_share"] = round(same / len(values), 5)
    print(
        table(
            ["data of", "encoder", "same bytes as the store", "CPU µs/event", "saves µs/event"],
            rows,
        )
    )
    print()
    edge_rows = []
    differing: dict[str, int] = {}
    for label, value in EDGE_CASES:
        ref = written(canonical_json, value)
        row: list[object] = [label, f"`{shown(ref)}`"]
        for name, encode in list(ENCODERS.items())[1:]:
            out = written(encode, value)
            row.append("same" if out == ref else f"`{shown(out)}`")
            differing[name.split()[0]] = differing.get(name.split()[0], 0) + (out != ref)
        edge_rows.append(row)
    print(table(["value", "the store writes", *list(ENCODERS)[1:]], edge_rows))
    for key, count in differing.items():
        figures[f"{key}_edge_cases_differing"] = count
    print(
        "\nA value an encoder writes differently would give its event another hash than the"
        " audit recomputes: such an encoder could replace the store's only with a check of every"
        " value (or a fallback) in front of it."
    )
    print(f"\nload average at end: {load_average()}")
    result(**figures)


if __name__ == "__main__":
    main()
