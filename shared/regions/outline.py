"""Build Indonesia's outline for the offline map and the "is this in Indonesia?" mask.

Source: the npm package `world-atlas` 2.0.2 (ISC), a TopoJSON redistribution of Natural Earth's
1:50m admin-0 countries (Natural Earth is in the public domain). Run:

    cd /tmp && npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    .venv/bin/python -m shared.regions.outline /tmp/package/countries-50m.json

It writes two committed files, so a fresh clone needs no npm:
- `services/intake/static/map/indonesia.geojson`: Indonesia and its neighbours' land around it,
  simplified (about 1 km) with coordinates rounded to 0.001°: what the map draws when its tiles
  cannot load (offline, or a tile server that is down).
- `shared/regions/data/indonesia-mask.bin`: a grid of 0.05° cells over Indonesia's bounding box,
  one bit each, set where a report may be: Indonesian land and the sea within about 22 km of it
  (12 nautical miles), and the sea up to about 370 km from it (200 nautical miles, roughly the
  exclusive economic zone), except over another country's land (Singapore, Malaysia, …).
  `shared.regions.geo.in_indonesia` answers from it in constant time.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUTLINE = ROOT / "services" / "intake" / "static" / "map" / "indonesia.geojson"
MASK = Path(__file__).resolve().parent / "data" / "indonesia-mask.bin"

# The grid of the mask (degrees): west, south, east, north and the cell size.
WEST, SOUTH, EAST, NORTH, CELL = 94.0, -11.5, 141.5, 6.5, 0.05
BUFFER_CELLS = 4  # 0.2° ≈ 22 km: the territorial sea, and the slack along a land border
SEA_CELLS = 66  # 3.3° ≈ 370 km, 200 nautical miles: about the exclusive economic zone
NEIGHBOURS = (
    "Malaysia", "Singapore", "Brunei", "Timor-Leste", "Papua New Guinea", "Philippines",
    "Australia", "Thailand", "Vietnam",
)  # fmt: skip
Ring = list[tuple[float, float]]


def decode(topology: dict[str, Any]) -> dict[str, list[list[Ring]]]:
    """Country name -> polygons (each a list of rings of (lon, lat))."""
    sx, sy = topology["transform"]["scale"]
    tx, ty = topology["transform"]["translate"]
    arcs: list[Ring] = []
    for arc in topology["arcs"]:
        x = y = 0
        points: Ring = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)

    def ring(indexes: Sequence[int]) -> Ring:
        out: Ring = []
        for index in indexes:
            points = arcs[index] if index >= 0 else list(reversed(arcs[~index]))
            out.extend(points if not out else points[1:])
        return out

    countries: dict[str, list[list[Ring]]] = {}
    for geometry in topology["objects"]["countries"]["geometries"]:
        name = geometry.get("properties", {}).get("name")
        if geometry["type"] == "Polygon":
            polygons = [geometry["arcs"]]
        elif geometry["type"] == "MultiPolygon":
            polygons = geometry["arcs"]
        else:
            continue
        countries[name] = [[ring(r) for r in polygon] for polygon in polygons]
    return countries


def simplify(points: Ring, tolerance: float) -> Ring:
    """Ramer–Douglas–Peucker on a closed ring (keeps the first and last point)."""
    if len(points) < 5:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (ax, ay), (bx, by) = points[first], points[last]
        length = math.hypot(bx - ax, by - ay)
        worst, index = 0.0, -1
        for i in range(first + 1, last):
            px, py = points[i]
            distance = (
                abs((bx - ax) * (ay - py) - (ax - px) * (by - ay)) / length
                if length
                else math.hypot(px - ax, py - ay)  # a closed ring: its ends are one point
            )
            if distance > worst:
                worst, index = distance, i
        if worst > tolerance and index > 0:
            keep[index] = True
            stack.extend(((first, index), (index, last)))
    return [p for p, k in zip(points, keep, strict=True) if k]


def near(polygon: list[Ring]) -> bool:
    return any(WEST - 2 <= x <= EAST + 2 and SOUTH - 2 <= y <= NORTH + 2 for x, y in polygon[0])


def outline(countries: dict[str, list[list[Ring]]]) -> dict[str, Any]:
    features = []
    for name in ("Indonesia", *NEIGHBOURS):
        polygons = []
        for polygon in countries.get(name, []):
            if name != "Indonesia" and not near(polygon):
                continue
            rings = [simplify(r, 0.01) for r in polygon]
            if len(rings[0]) < 4:
                continue
            polygons.append([[[round(x, 3), round(y, 3)] for x, y in r] for r in rings])
        if polygons:
            features.append(
                {
                    "type": "Feature",
                    "properties": {"name": name, "indonesia": name == "Indonesia"},
                    "geometry": {"type": "MultiPolygon", "coordinates": polygons},
                }
            )
    return {
        "type": "FeatureCollection",
        "attribution": "Natural Earth (public domain), via world-atlas 2.0.2 (ISC)",
        "features": features,
    }


def rasterize(polygons: Iterable[list[Ring]]) -> list[bytearray]:
    polygons = list(polygons)
    """Cells whose centre is inside a polygon (even-odd over every ring), row 0 = south."""
    columns = round((EAST - WEST) / CELL)
    rows = round((NORTH - SOUTH) / CELL)
    grid = [bytearray(columns) for _ in range(rows)]
    edges: list[tuple[tuple[float, float], tuple[float, float]]] = []
    for polygon in polygons:
        for r in polygon:
            edges.extend(zip(r, r[1:] + r[:1], strict=True))
    for row in range(rows):
        y = SOUTH + (row + 0.5) * CELL
        crossings = sorted(
            x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            for (x1, y1), (x2, y2) in edges
            if (y1 <= y < y2) or (y2 <= y < y1)
        )
        for start, end in zip(crossings[::2], crossings[1::2], strict=False):
            first = max(0, math.ceil((start - WEST) / CELL - 0.5))
            last = min(columns - 1, math.floor((end - WEST) / CELL - 0.5))
            for column in range(first, last + 1):
                grid[row][column] = 1
        # Small islands narrower than a cell still count: mark the cells of their vertices.
    for polygon in polygons:
        for x, y in polygon[0]:
            column, row = int((x - WEST) / CELL), int((y - SOUTH) / CELL)
            if 0 <= row < rows and 0 <= column < columns:
                grid[row][column] = 1
    return grid


def distances(grid: list[bytearray]) -> list[list[float]]:
    """Distance in cells from each cell to the nearest set cell (two-pass chamfer, 1 and √2)."""
    rows, columns = len(grid), len(grid[0])
    far = float(rows + columns)
    dist = [[0.0 if grid[r][c] else far for c in range(columns)] for r in range(rows)]
    diagonal = math.sqrt(2)
    for r in range(rows):
        for c in range(columns):
            best = dist[r][c]
            if r:
                best = min(best, dist[r - 1][c] + 1)
                if c:
                    best = min(best, dist[r - 1][c - 1] + diagonal)
                if c + 1 < columns:
                    best = min(best, dist[r - 1][c + 1] + diagonal)
            if c:
                best = min(best, dist[r][c - 1] + 1)
            dist[r][c] = best
    for r in range(rows - 1, -1, -1):
        for c in range(columns - 1, -1, -1):
            best = dist[r][c]
            if r + 1 < rows:
                best = min(best, dist[r + 1][c] + 1)
                if c + 1 < columns:
                    best = min(best, dist[r + 1][c + 1] + diagonal)
                if c:
                    best = min(best, dist[r + 1][c - 1] + diagonal)
            if c + 1 < columns:
                best = min(best, dist[r][c + 1] + 1)
            dist[r][c] = best
    return dist


def mask(countries: dict[str, list[list[Ring]]]) -> list[bytearray]:
    home = distances(rasterize(countries["Indonesia"]))
    # Another country's land and its shore (2 cells, ≈ 11 km: a coastal city is not "at sea").
    foreign = distances(rasterize(p for name in NEIGHBOURS for p in countries.get(name, [])))
    return [
        bytearray(
            1 if d <= BUFFER_CELLS or (d <= SEA_CELLS and abroad > 2) else 0
            for d, abroad in zip(home_row, foreign_row, strict=True)
        )
        for home_row, foreign_row in zip(home, foreign, strict=True)
    ]


def pack(grid: list[bytearray]) -> bytes:
    bits = bytearray()
    for row in grid:
        for start in range(0, len(row), 8):
            byte = 0
            for i, value in enumerate(row[start : start + 8]):
                byte |= value << i
            bits.append(byte)
    return bytes(bits)


def build(source: Path) -> tuple[Path, Path]:
    countries = decode(json.loads(source.read_text(encoding="utf-8")))
    OUTLINE.parent.mkdir(parents=True, exist_ok=True)
    OUTLINE.write_text(
        json.dumps(outline(countries), separators=(",", ":")) + "\n", encoding="utf-8"
    )
    MASK.write_bytes(pack(mask(countries)))
    return OUTLINE, MASK


if __name__ == "__main__":
    for written in build(Path(sys.argv[1])):
        print(f"wrote {written} ({written.stat().st_size:,} bytes)")
