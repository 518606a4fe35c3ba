"""The region codes of LAPOR's pilot release, and the official code each one meant.

The pilot's region file (`services/intake/data/regions.json`, removed) was labelled Kemendagri
but numbered Nusa Tenggara Timur's regencies and two cities' districts in another order (BPS
statistical codes in places: its 5305 was Timor Tengah Utara, which Kemendagri numbers 53.03;
Kemendagri's 53.05 is Alor). Events stored before the switch keep those codes forever; their
upcasters (`shared.reports.events`, `shared.polls.events`, `shared.directory.events`) read them
through `official_code`, which maps each pilot code to the official region of the same name
(`PILOT_NAMES` keeps the pilot's names, and a test checks every mapping by name). Every other pilot
code already was the official one.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# pilot code -> (the pilot's name for it, the official Kemendagri code of that name)
PILOT_NAMES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "5301": ("Kabupaten Sumba Barat", "5312"),
        "5302": ("Kabupaten Sumba Timur", "5311"),
        "5303": ("Kabupaten Kupang", "5301"),
        "5304": ("Kabupaten Timor Tengah Selatan", "5302"),
        "5305": ("Kabupaten Timor Tengah Utara", "5303"),
        "5306": ("Kabupaten Belu", "5304"),
        "5307": ("Kabupaten Alor", "5305"),
        "5308": ("Kabupaten Lembata", "5313"),
        "5309": ("Kabupaten Flores Timur", "5306"),
        "5310": ("Kabupaten Sikka", "5307"),
        "5311": ("Kabupaten Ende", "5308"),
        "5312": ("Kabupaten Ngada", "5309"),
        "5313": ("Kabupaten Manggarai", "5310"),
        "5316": ("Kabupaten Sumba Tengah", "5317"),
        "5317": ("Kabupaten Sumba Barat Daya", "5318"),
        "5318": ("Kabupaten Nagekeo", "5316"),
        "537103": ("Oebobo", "537104"),
        "537104": ("Kota Raja", "537105"),
        "537105": ("Kelapa Lima", "537103"),
        "357201": ("Sukorejo", "357202"),
        "357202": ("Kepanjenkidul", "357201"),
    }
)
PILOT_TO_OFFICIAL: Mapping[str, str] = MappingProxyType(
    {pilot: official for pilot, (_, official) in PILOT_NAMES.items()}
)


def official_code(code: str | None) -> str | None:
    """The official code a pilot-era code meant (unchanged when it was official already).

    A longer code under a renumbered regency or district (a district or village the pilot file
    never listed, so its numbering is unknown) becomes that regency's or district's official
    code: the place is kept as precisely as it is known."""
    if code is None:
        return None
    plain = code.replace(".", "")
    if plain in PILOT_TO_OFFICIAL:
        return PILOT_TO_OFFICIAL[plain]
    for length in (6, 4):
        if len(plain) > length and plain[:length] in PILOT_TO_OFFICIAL:
            return PILOT_TO_OFFICIAL[plain[:length]]
    return code
