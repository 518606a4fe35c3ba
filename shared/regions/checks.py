"""Where a report is, checked: a real region code, coordinates in Indonesia, both or neither.

Pure rules the domain (`shared.reports.lifecycle`) and the edges share. Each refusal is an
`InvalidInput` ("field: what is wrong"), which the HTTP edge answers with 422 naming the field;
an unknown region code also carries its nearest real parent as `suggestion`.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from shared.errors import InvalidInput
from shared.regions import InvalidRegionCode, Region, normalize_code, regions
from shared.regions.geo import in_indonesia


class UnknownRegion(InvalidInput):
    """A region code that is not in the official list (or no longer is)."""

    def __init__(self, field: str, code: str, suggestion: Region | None) -> None:
        near = (suggestion.code, suggestion.name) if suggestion is not None else None
        hint_id = f"; wilayah terdekat: {near[0]} ({near[1]})" if near else ""
        hint_en = f"; the nearest real region is {near[0]} ({near[1]})" if near else ""
        super().__init__(
            f"{field}: kode wilayah {code} tidak dikenal{hint_id}"
            f" / unknown region code {code}{hint_en}"
        )
        self.field = field
        self.code = code
        self.suggestion = suggestion

    def extra(self) -> dict[str, Any]:
        """More of the answer: the suggested code and name (for the 422's detail)."""
        if self.suggestion is None:
            return {}
        return {"suggestion": {"code": self.suggestion.code, "name": self.suggestion.name}}


class OutsideIndonesia(InvalidInput):
    pass


def region_code(raw: str | None, field: str = "region_code") -> str | None:
    """The official code (digits) for `raw` (dots allowed), None for none; refused otherwise."""
    if raw is None or not raw.strip():
        return None
    try:
        code = normalize_code(raw)
    except InvalidRegionCode as error:
        raise InvalidInput(
            f"{field}: {raw.strip()!r} bukan kode wilayah (2, 4, 6 atau 10 angka, boleh bertitik)"
            " / is not a region code (2, 4, 6 or 10 digits, dots allowed)"
        ) from error
    if regions().get(code) is None:
        raise UnknownRegion(field, code, regions().nearest_known(code))
    return code


def coordinates(lat: float | None, lon: float | None, prefix: str = "") -> None:
    """Both or neither, and in Indonesia (its land and seas; see `shared.regions.geo`)."""
    if (lat is None) != (lon is None):
        missing = "lon" if lon is None else "lat"
        raise InvalidInput(
            f"{prefix}{missing}: lintang dan bujur diisi bersama / latitude and longitude go"
            " together"
        )
    if lat is not None and lon is not None and not in_indonesia(lat, lon):
        raise OutsideIndonesia(
            f"{prefix}lat: {lat:.5f}, {lon:.5f} di luar Indonesia (lintang dulu, selatan negatif:"
            " Jakarta -6.2, 106.8) / is outside Indonesia (latitude first, south is negative:"
            " Jakarta is -6.2, 106.8)"
        )


def district_matches(village: str | None, district: str | None) -> None:
    """A village chosen under another district than the one chosen (the web form's levels)."""
    if village and district and not village.startswith(district):
        raise InvalidInput(
            f"village: desa {village} tidak berada di kecamatan {district} / village {village}"
            f" is not in district {district}"
        )


def _digits(value: object) -> object:
    """Dotted input (`35.78.01`) to the one form (`357801`); anything else as it came, for the
    field's own pattern or the domain to refuse by name."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return normalize_code(value)
    except InvalidRegionCode:
        return value.strip()


# A region code field of a request: digits or dotted in, digits out.
RegionCodeIn = Annotated[
    str,
    BeforeValidator(_digits),
    Field(
        pattern=r"^[0-9]{2,10}$",
        description="Kemendagri code: digits (3578) or dotted (35.78); stored as digits",
    ),
]
