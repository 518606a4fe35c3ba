"""Likely duplicates: similar words and nearby places. Pure functions, no I/O.

Text similarity is the Jaccard index of the reports' word sets (title, body and amendments),
after lower-casing, dropping very common Indonesian and English words, and the `-nya` suffix.
Places are compared by great-circle (haversine) distance.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

NEARBY_METRES = 500.0
TEXT_THRESHOLD = 0.3
WINDOW_DAYS = 30
EARTH_RADIUS_METRES = 6_371_008.8
MIN_TOKEN_LENGTH = 3
MAX_QUERY_TOKENS = 40

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOPWORDS = """
    yang dan di ke dari ini itu untuk dengan ada tidak sudah saya kami kita mereka dia
    pada dalam akan atau juga karena bisa oleh agar belum masih sangat telah para bagi
    tersebut sejak hingga sampai setiap namun tetapi tapi jadi maka kalau jika bila mohon
    tolong pak bapak ibu kepada sebagai adalah nya lah pun saja lagi banyak sekali hari
    the and for with this that from are was were have has not but you your our their
"""
STOPWORDS = frozenset(_STOPWORDS.split())


def tokens(*texts: str | None) -> frozenset[str]:
    """The distinct content words of the texts, normalised for comparison."""
    found: set[str] = set()
    for text in texts:
        if not text:
            continue
        folded = unicodedata.normalize("NFKC", text).casefold()
        for word in _WORD.findall(folded):
            if word.endswith("nya") and len(word) - 3 >= MIN_TOKEN_LENGTH:
                word = word[:-3]
            if len(word) >= MIN_TOKEN_LENGTH and word not in STOPWORDS:
                found.add(word)
    return frozenset(found)


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    left, right = set(a), set(b)
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def haversine_metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_METRES * math.asin(min(1.0, math.sqrt(h)))


def bounding_box(lat: float, lon: float, metres: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) of a box that contains the circle around a point."""
    dlat = math.degrees(metres / EARTH_RADIUS_METRES)
    cos_lat = max(math.cos(math.radians(lat)), 1e-6)
    dlon = min(180.0, dlat / cos_lat)
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def fts_query(words: Iterable[str]) -> str | None:
    """An FTS5 query matching any of the words (each quoted, so nothing is an operator)."""
    chosen = sorted(words, key=lambda w: (-len(w), w))[:MAX_QUERY_TOKENS]
    if not chosen:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in chosen)


@dataclass(frozen=True)
class Similarity:
    text: float
    distance_m: float | None
    same_category: bool

    @property
    def nearby(self) -> bool:
        return self.distance_m is not None and self.distance_m <= NEARBY_METRES

    @property
    def similar_text(self) -> bool:
        return self.text >= TEXT_THRESHOLD

    @property
    def likely(self) -> bool:
        return self.similar_text or self.nearby

    @property
    def reasons(self) -> list[str]:
        found = []
        if self.similar_text:
            found.append("similar_text")
        if self.nearby:
            found.append("nearby")
        if self.same_category:
            found.append("same_category")
        return found

    @property
    def score(self) -> float:
        """0..~1.6: text similarity, plus up to 0.5 for closeness, plus 0.1 for the category."""
        near = 0.0
        if self.nearby and self.distance_m is not None:
            near = 0.5 * (1 - self.distance_m / NEARBY_METRES)
        return round(self.text + near + (0.1 if self.same_category else 0.0), 4)
