"""Regions for the location picker: province → regency/city → district (Kemendagri codes).

The list lives in `services/intake/data/regions.json` (a sample: every province, the pilot
provinces' regencies and the pilot cities' districts). A code's parent is its prefix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).parent / "data" / "regions.json"


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    lat: float | None = None
    lon: float | None = None

    @property
    def level(self) -> str:
        return {2: "province", 4: "regency", 6: "district"}.get(len(self.code), "village")

    @property
    def parent(self) -> str | None:
        return {4: self.code[:2], 6: self.code[:4], 10: self.code[:6]}.get(len(self.code))


@lru_cache(maxsize=1)
def all_regions() -> dict[str, Region]:
    raw = json.loads(DATA.read_text(encoding="utf-8"))
    return {
        r["code"]: Region(r["code"], r["name"], r.get("lat"), r.get("lon")) for r in raw["regions"]
    }


def provinces() -> list[Region]:
    return sorted((r for r in all_regions().values() if len(r.code) == 2), key=lambda r: r.name)


def children(code: str | None) -> list[Region]:
    if not code:
        return provinces()
    return sorted((r for r in all_regions().values() if r.parent == code), key=lambda r: r.code)


def name_of(code: str | None) -> str | None:
    if not code:
        return None
    region = all_regions().get(code)
    return region.name if region else None


def path_of(code: str | None) -> list[Region]:
    """The known regions from the province down to `code`."""
    if not code:
        return []
    found = [all_regions().get(code[:n]) for n in (2, 4, 6, 10) if len(code) >= n]
    return [r for r in found if r is not None]


def label(code: str | None) -> str | None:
    """ "Oebobo, Kota Kupang, Nusa Tenggara Timur" for 537103; None for an unknown code."""
    names = [r.name for r in reversed(path_of(code))]
    return ", ".join(names) if names else None
