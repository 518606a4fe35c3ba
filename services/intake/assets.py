"""Intake's static files: its own CSS and scripts, the vendored map library (Leaflet 1.9.4,
BSD-2-Clause, and Leaflet.markercluster 1.5.3, MIT, copied unchanged from their npm packages into
`static/vendor/`, each with its licence) and Indonesia's outline for the offline map
(`static/map/indonesia.geojson`, Natural Earth, public domain; `python -m shared.regions.outline`).

Served by intake itself (no CDN): a fixed list of files, each with a version in its URL
(`?v=<hash>`) so it may be cached for a week; text files are sent gzip-compressed to browsers that
accept it (Leaflet's 148 kB are 43 kB on the wire), which keeps the map pages light on 3G.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

STATIC_DIR = Path(__file__).parent / "static"
MEDIA_TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".png": "image/png",
    ".geojson": "application/geo+json",
}
COMPRESSIBLE = (".css", ".js", ".geojson")


@dataclass(frozen=True)
class Asset:
    path: Path
    media_type: str

    @cached_property
    def data(self) -> bytes:
        return self.path.read_bytes()

    @cached_property
    def gzipped(self) -> bytes | None:
        if self.path.suffix not in COMPRESSIBLE:
            return None
        return gzip.compress(self.data, compresslevel=9, mtime=0)

    @cached_property
    def version(self) -> str:
        return hashlib.sha256(self.data).hexdigest()[:10]


class Assets:
    """Every file under `static/` with a known type, by its path there (`vendor/leaflet/…`)."""

    def __init__(self, root: Path = STATIC_DIR) -> None:
        self.files: dict[str, Asset] = {
            path.relative_to(root).as_posix(): Asset(path, MEDIA_TYPES[path.suffix])
            for path in sorted(root.rglob("*"))
            if path.is_file() and path.suffix in MEDIA_TYPES
        }

    def get(self, name: str) -> Asset | None:
        return self.files.get(name)

    def url(self, name: str) -> str:
        """`/static/<name>?v=<version>`: a new URL whenever the file changes."""
        return f"/static/{name}?v={self.files[name].version}"


def tiles_origin(template: str) -> str:
    """Where the map's tiles come from, for the Content-Security-Policy's img-src:
    `https://{s}.tile.example.org/{z}/{x}/{y}.png` -> `https://*.tile.example.org`."""
    parts = urlsplit(template.replace("{s}", "s-placeholder"))
    host = parts.netloc
    if host.startswith("s-placeholder."):
        host = "*." + host.removeprefix("s-placeholder.")
    return f"{parts.scheme}://{host}"


def map_page_policy(policy: str, template: str) -> str:
    """A page's Content-Security-Policy that also lets its map load tiles from their server."""
    return policy.replace("img-src 'self' data:", f"img-src 'self' data: {tiles_origin(template)}")
