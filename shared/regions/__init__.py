"""Every region of Indonesia with its Kemendagri code: 38 provinces, 514 regencies and cities,
7,285 districts, 83,762 villages (`idn-area-data` 4.0.1, ODbL; see data/LICENSE.md and build.py).

Codes are digits without dots (`35`, `3578`, `357801`, `3578011001`); dotted input (`35.78.01`)
is accepted everywhere and normalised. Pure: the data file ships with the code.

Memory: provinces, regencies and districts are kept as objects (about 7,800); each district's
villages stay one slice of the file's text until someone asks for them (then parsed, and a few
hundred districts' worth are kept), so a service holds the whole country in a few megabytes.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

DATA_FILE = Path(__file__).resolve().parent / "data" / "regions.tsv.gz"
Level = Literal["province", "regency", "district", "village"]
LEVELS: dict[int, Level] = {2: "province", 4: "regency", 6: "district", 10: "village"}
PARENT_LENGTH = {4: 2, 6: 4, 10: 6}
_DOTTED = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")
_PLAIN = re.compile(r"^\d{2}(\d{2}(\d{2}(\d{4})?)?)?$")
# A line of the data file for a province, regency/city or district (not a village).
_ABOVE_VILLAGES = re.compile(r"^(\d{2}(?:\d{2}(?:\d{2})?)?)\t([^\n]*)$", re.MULTILINE)


class InvalidRegionCode(ValueError):
    """Not a region code at all (the wrong shape)."""


def normalize_code(raw: str) -> str:
    """`35.78.01` or `357801` → `357801`; InvalidRegionCode for anything else."""
    text = raw.strip()
    if _DOTTED.fullmatch(text):
        return text.replace(".", "")
    if _PLAIN.fullmatch(text):
        return text
    raise InvalidRegionCode(f"{raw!r} is not a region code (2, 4, 6 or 10 digits, dots allowed)")


def level_of(code: str) -> Level:
    return LEVELS[len(code)]


def parent_of(code: str) -> str | None:
    length = PARENT_LENGTH.get(len(code))
    return code[:length] if length else None


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str

    @property
    def level(self) -> Level:
        return level_of(self.code)

    @property
    def parent(self) -> str | None:
        return parent_of(self.code)

    @property
    def province(self) -> str:
        return self.code[:2]

    @property
    def is_city(self) -> bool:
        return self.level == "regency" and self.name.startswith("Kota ")


class Regions:
    """The region list, read once from the data file (`Regions.load()`)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._above: dict[str, Region] = {}  # provinces, regencies, districts by code
        self._children: dict[str, list[str]] = {}  # parent code -> child codes (above villages)
        self._villages: dict[str, str] = {}  # district code -> "code\tname\n…" of its villages
        self._load("".join(lines))

    def _load(self, text: str) -> None:
        # The file is sorted by code, so a district's villages are the lines right after it:
        # only the 7,837 lines above villages are looked at here, each district's villages are
        # kept as the one slice of text they are (parsed when someone asks for them). Loading
        # the whole country is then a few tens of milliseconds, not a pass over 91,000 lines.
        found = list(_ABOVE_VILLAGES.finditer(text))
        for index, match in enumerate(found):
            code, name = match.group(1), match.group(2)
            self._above[code] = Region(code, name)
            self._children.setdefault(parent_of(code) or "", []).append(code)
            if len(code) == 6:
                end = found[index + 1].start() if index + 1 < len(found) else len(text)
                block = text[match.end() + 1 : end].rstrip("\n")
                if block:
                    self._villages[code] = block

    @classmethod
    def from_file(cls, path: Path = DATA_FILE) -> Regions:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            loaded = cls(iter(()))
            loaded._load(handle.read())
            return loaded

    # --- lookups ----------------------------------------------------------------------------
    def get(self, code: str) -> Region | None:
        """The region of a (normalised) code, or None."""
        if len(code) == 10:
            return self._villages_of(code[:6]).get(code)
        return self._above.get(code)

    def find(self, raw: str) -> Region | None:
        """`get` for raw input (dotted or not); None for unknown or malformed codes."""
        try:
            return self.get(normalize_code(raw))
        except InvalidRegionCode:
            return None

    def children(self, parent: str | None) -> list[Region]:
        """Provinces (parent None), or the regions one level below `parent`."""
        if parent is not None and len(parent) == 6:
            return list(self._villages_of(parent).values())
        return [self._above[c] for c in self._children.get(parent or "", [])]

    def provinces(self) -> list[Region]:
        return self.children(None)

    def regencies(self) -> list[Region]:
        return [r for r in self._above.values() if r.level == "regency"]

    def nearest_known(self, code: str) -> Region | None:
        """The closest existing ancestor of a (possibly unknown) code: for "did you mean"."""
        candidate: str | None = code
        while candidate:
            if len(candidate) in LEVELS and (region := self.get(candidate)) is not None:
                return region
            candidate = parent_of(candidate) if len(candidate) in PARENT_LENGTH else None
        return None

    def lineage(self, code: str) -> list[Region]:
        """The region and its ancestors, province first."""
        chain: list[Region] = []
        candidate: str | None = code
        while candidate:
            region = self.get(candidate)
            if region is not None:
                chain.append(region)
            candidate = parent_of(candidate)
        return list(reversed(chain))

    def label(self, code: str | None) -> str:
        """`Kota Kupang, Nusa Tenggara Timur` for display; the bare code if unknown."""
        if not code:
            return ""
        chain = self.lineage(code)
        if not chain:
            return code
        return ", ".join(r.name for r in reversed(chain))

    def _villages_of(self, district: str) -> dict[str, Region]:
        return _parse_villages(district, self._villages.get(district, ""))


@lru_cache(maxsize=512)
def _parse_villages(district: str, packed: str) -> dict[str, Region]:
    regions: dict[str, Region] = {}
    for row in packed.split("\n") if packed else ():
        code, _, name = row.partition("\t")
        regions[code] = Region(code, name)
    return regions


@lru_cache(maxsize=1)
def regions() -> Regions:
    """The region list of this release (read once per process)."""
    return Regions.from_file()
