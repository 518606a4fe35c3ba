"""Regions for intake's pages and picker: `shared.regions` (every region of Indonesia, official
Kemendagri codes) plus where each province's capital is, to centre the map on a chosen province
(`data/province_centres.json`; the official list has no coordinates)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from shared.regions import InvalidRegionCode, normalize_code, regions

CENTRES = Path(__file__).parent / "data" / "province_centres.json"


@dataclass(frozen=True, slots=True)
class Place:
    code: str
    name: str
    level: str
    lat: float | None = None
    lon: float | None = None


@lru_cache(maxsize=1)
def _centres() -> dict[str, tuple[float, float]]:
    raw = json.loads(CENTRES.read_text(encoding="utf-8"))
    return {code: (float(lat), float(lon)) for code, (lat, lon) in raw.items()}


def _place(code: str, name: str, level: str) -> Place:
    centre = _centres().get(code)
    return Place(code, name, level, *(centre or (None, None)))


def provinces() -> list[Place]:
    """The 38 provinces, by name."""
    return sorted(
        (_place(r.code, r.name, r.level) for r in regions().provinces()), key=lambda p: p.name
    )


def children(code: str | None) -> list[Place]:
    """Provinces (no code), or the regions one level below `code` (dots allowed), by code."""
    if not code:
        return provinces()
    try:
        parent = normalize_code(code)
    except InvalidRegionCode:
        return []
    return [_place(r.code, r.name, r.level) for r in regions().children(parent)]


def name_of(code: str | None) -> str | None:
    region = regions().get(code) if code else None
    return region.name if region else None


def label(code: str | None) -> str | None:
    """ "Oebobo, Kota Kupang, Nusa Tenggara Timur" for 537104; None for an unknown code."""
    if not code or regions().get(code) is None:
        return None
    return regions().label(code)
