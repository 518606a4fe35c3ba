"""Is a point in Indonesia? Its land, and its seas: up to about 370 km (200 nautical miles,
roughly the exclusive economic zone) from Indonesian land, except over another country's land.

Answered from a grid of 0.05° cells (about 5.5 km) built from Natural Earth's 1:50m outline
(`python -m shared.regions.outline`): a point in Kuala Lumpur, Singapore, Dili, Darwin or the
far Indian Ocean is outside; one on a beach, a ferry in the Java Sea or a small island is inside.
Along a land border (Sarawak, Timor-Leste, Papua New Guinea) the answer is generous by up to
22 km: the verification desk sees the pin on the map. Pure; the 43 kB grid ships with the code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

MASK_FILE = Path(__file__).resolve().parent / "data" / "indonesia-mask.bin"
WEST, SOUTH, EAST, NORTH, CELL = 94.0, -11.5, 141.5, 6.5, 0.05
COLUMNS = round((EAST - WEST) / CELL)
ROW_BYTES = (COLUMNS + 7) // 8


@lru_cache(maxsize=1)
def _mask() -> bytes:
    return MASK_FILE.read_bytes()


def in_indonesia(lat: float, lon: float) -> bool:
    """Whether (lat, lon) in degrees is on Indonesian land or its territorial sea."""
    if not (SOUTH <= lat < NORTH and WEST <= lon < EAST):
        return False
    row, column = int((lat - SOUTH) / CELL), int((lon - WEST) / CELL)
    return bool(_mask()[row * ROW_BYTES + column // 8] >> (column % 8) & 1)
