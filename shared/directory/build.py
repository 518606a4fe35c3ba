"""Build the directory file (`data/directory.json`) every service starts from.

    .venv/bin/python -m shared.directory.build

From three sources, so the output is the same every time and is committed:
- `data/sources/national.json`: the ministries and national agencies connected to LAPOR!, the
  categories each handles, and the national routing rules (a category that is the central
  government's business, e.g. `kereta-api` -> KAI);
- the official region list (`shared.regions`): one government per province (`PEMPROV-…`) and per
  regency or city (`PEMKAB-…`, `PEMKOT-…`) with its SMS keywords, and the Biro/Bagian Organisasi
  of each (`BAGORG-…`, the desk that receives reports no OPD rule catches), and an Ombudsman RI
  office per province that has one. DKI Jakarta's five administrative cities and one
  administrative regency are not autonomous: they are listed (level `opd`, under the province,
  with their keywords) and their reports go to the provincial government;
- `data/sources/local.json`: what institutions added of their own (Kota Kupang's OPDs and
  Puskesmas, …) and regional rules. A government listed there keeps its code, name and liaison
  officers; its keywords are the generated ones plus any it lists.

SMS keywords of a regency or city (see docs/directory-format.md): its name with and without
`KABUPATEN`/`KAB` or `KOTA`/`KOT` (`KAB MALANG`, `KOTA MALANG`, `KOT MALANG`; matching ignores
spaces, so `KOTMALANG` too), and short forms people use (`TTU`, `JAKSEL`). A bare name shared by
a city and a regency (`MALANG`, `KUPANG`) or a province (`BENGKULU`) means the **city**; the
regency is `KAB …`, the province `PROV …`, and the SMS reply says so.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from shared.directory.model import Directory
from shared.regions import Region, regions

DATA = Path(__file__).resolve().parent / "data"
SOURCES = DATA / "sources"
OUT = DATA / "directory.json"

# Short names of the provinces: agency codes (PEMPROV-JATIM) and SMS keywords (JATIM).
PROVINCE_SHORT = {
    "11": "ACEH", "12": "SUMUT", "13": "SUMBAR", "14": "RIAU", "15": "JAMBI", "16": "SUMSEL",
    "17": "BENGKULU", "18": "LAMPUNG", "19": "BABEL", "21": "KEPRI", "31": "DKI", "32": "JABAR",
    "33": "JATENG", "34": "DIY", "35": "JATIM", "36": "BANTEN", "51": "BALI", "52": "NTB",
    "53": "NTT", "61": "KALBAR", "62": "KALTENG", "63": "KALSEL", "64": "KALTIM",
    "65": "KALTARA", "71": "SULUT", "72": "SULTENG", "73": "SULSEL", "74": "SULTRA",
    "75": "GORONTALO", "76": "SULBAR", "81": "MALUKU", "82": "MALUT", "91": "PAPUA",
    "92": "PAPUA BARAT", "93": "PAPUA SELATAN", "94": "PAPUA TENGAH", "95": "PAPUA PEGUNUNGAN",
    "96": "PAPUA BARAT DAYA",
}  # fmt: skip
# Other names people use for a province or a regency/city in an SMS.
EXTRA_KEYWORDS = {
    "31": ("DKI JAKARTA", "JAKARTA"),
    "34": ("JOGJA", "DI YOGYAKARTA", "PROV YOGYAKARTA"),
    # The province's name without "Kepulauan" (BANGKA alone is Kabupaten Bangka) and Sumatra's
    # provinces as they are often spelt; `PROV YOGYAKARTA` makes the reply to a bare YOGYAKARTA
    # (the city's) name the province's keyword.
    "19": ("BANGKA BELITUNG",),
    "12": ("SUMATRA UTARA",), "13": ("SUMATRA BARAT",), "16": ("SUMATRA SELATAN",),
    "3171": ("JAKPUS",), "3172": ("JAKUT",), "3173": ("JAKBAR",), "3174": ("JAKSEL",),
    "3175": ("JAKTIM",), "3101": ("PULAU SERIBU",),
    "5302": ("TTS",), "5303": ("TTU",), "3471": ("KOTA JOGJA", "KOTA YOGYA"),
}  # fmt: skip
# Provinces whose Ombudsman RI office (perwakilan) exists; the newer Papua provinces are served
# by the Papua and Papua Barat offices (their escalations go to the national office here).
OMBUDSMAN_PROVINCES = tuple(code for code in PROVINCE_SHORT if int(code) <= 92)
ADMINISTRATIVE = "31"  # DKI Jakarta: its cities and regency are administrative, not autonomous


def keyword(text: str) -> str:
    return " ".join(re.sub(r"[^A-Za-z0-9]+", " ", text).upper().split())


def slug(text: str) -> str:
    return keyword(text).replace(" ", "-")


def bare_name(region: Region) -> str:
    for prefix in ("Kabupaten Administrasi ", "Kota Administrasi ", "Kabupaten ", "Kota "):
        if region.name.startswith(prefix):
            return region.name.removeprefix(prefix)
    return region.name


def is_city(region: Region) -> bool:
    return region.name.startswith("Kota ")


def government_keywords(region: Region, taken_bare: dict[str, str]) -> list[str]:
    """The keywords of a province's or regency's/city's government (see the module docstring)."""
    name = keyword(bare_name(region))
    words: list[str] = []
    if region.level == "province":
        words += [f"PROVINSI {name}", f"PROV {name}", PROVINCE_SHORT[region.code]]
        if len(name.split()) > 1 or name == PROVINCE_SHORT[region.code]:
            words.append(name)
    elif is_city(region):
        words += [f"KOTA {name}", f"KOT {name}"]
    else:
        words += [f"KABUPATEN {name}", f"KAB {name}"]
    if taken_bare.get(name) == region.code:
        words.append(name)
    words += EXTRA_KEYWORDS.get(region.code, ())
    # A bare name belongs to one region only (`JAMBI` is the city; the province is PROV JAMBI).
    kept = (w for w in words if taken_bare.get(w, region.code) == region.code and len(w) <= 60)
    return list(dict.fromkeys(kept))


def bare_owners(every: list[Region]) -> dict[str, str]:
    """Bare name -> the region that owns it: a city before a regency before a province."""
    rank = {"city": 0, "regency": 1, "province": 2}
    owners: dict[str, Region] = {}
    for region in every:
        name = keyword(bare_name(region))
        level = "city" if is_city(region) else region.level
        current = owners.get(name)
        if current is None or rank[level] < rank["city" if is_city(current) else current.level]:
            owners[name] = region
    return {name: region.code for name, region in owners.items()}


def generated(local: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    every = [*regions().provinces(), *regions().regencies()]
    owners = bare_owners(every)
    by_region = {
        i["region_code"]: i for i in local.values() if i["level"] in ("province", "regency", "city")
    }
    out: list[dict[str, Any]] = []
    province_code: dict[str, str] = {}
    for region in every:
        words = government_keywords(region, owners)
        pilot = by_region.get(region.code)
        if region.level == "province":
            code = pilot["code"] if pilot else f"PEMPROV-{slug(PROVINCE_SHORT[region.code])}"
            province_code[region.code] = code
            name, level, parent = f"Pemerintah Provinsi {region.name}", "province", None
            desk = f"BAGORG-PROV-{slug(PROVINCE_SHORT[region.code])}"
            desk_name = f"Biro Organisasi Sekretariat Daerah Provinsi {region.name}"
        elif region.province == ADMINISTRATIVE:
            kind = "KOT" if is_city(region) else "KAB"
            out.append(
                {
                    "code": f"PEM{kind}-ADM-{slug(bare_name(region))}",
                    "name": f"Pemerintah {region.name}",
                    "level": "opd",
                    "region_code": region.code,
                    "parent": province_code[region.province],
                    "sms_keywords": words,
                    "categories": [],
                }
            )
            continue
        else:
            city = is_city(region)
            kind = "KOT" if city else "KAB"
            code = pilot["code"] if pilot else f"PEM{kind}-{slug(bare_name(region))}"
            name, level = f"Pemerintah {region.name}", "city" if city else "regency"
            parent = province_code[region.province]
            desk = f"BAGORG-{'KOTA' if city else 'KAB'}-{slug(bare_name(region))}"
            desk_name = f"Bagian Organisasi Sekretariat Daerah {region.name}"
        government = {
            "code": code,
            "name": name,
            "level": level,
            "region_code": region.code,
            "parent": parent,
            "sms_keywords": words,
            "liaison_officers": [],
            "categories": [],
        }
        if pilot:
            extra = [k for k in pilot.get("sms_keywords", []) if k not in words]
            government |= {k: v for k, v in pilot.items() if k != "sms_keywords"}
            government["sms_keywords"] = words + extra
        out.append(government)
        if desk not in local:
            out.append(
                {
                    "code": desk,
                    "name": desk_name,
                    "level": "opd",
                    "region_code": region.code,
                    "parent": code,
                    "categories": ["kepegawaian", "pelayanan-publik-lainnya"],
                }
            )
        if region.level == "province" and region.code in OMBUDSMAN_PROVINCES:
            office = f"OMBUDSMAN-{region.code}"
            if office not in local:
                out.append(
                    {
                        "code": office,
                        "name": f"Ombudsman RI Perwakilan {region.name}",
                        "level": "unit",
                        "region_code": region.code,
                        "parent": "OMBUDSMAN",
                    }
                )
    return out


def build() -> dict[str, Any]:
    national = json.loads((SOURCES / "national.json").read_text(encoding="utf-8"))
    local = json.loads((SOURCES / "local.json").read_text(encoding="utf-8"))
    local_by_code = {i["code"]: i for i in local["institutions"]}
    governments = generated(local_by_code)
    placed = {i["code"] for i in governments}
    institutions = [
        *national["institutions"],
        *governments,
        *(i for i in local["institutions"] if i["code"] not in placed),
    ]
    directory = {
        "version": 1,
        "national_desk": national["national_desk"],
        "ombudsman": national["ombudsman"],
        "institutions": institutions,
        "routing_rules": [*national["routing_rules"], *local["routing_rules"]],
    }
    Directory.from_dict(directory)  # every rule of docs/directory-format.md holds
    return directory


def write(directory: dict[str, Any], out: Path = OUT) -> Path:
    # One institution per line: small diffs when one changes, and a quick read for people.
    lines = ",\n".join(
        "  " + json.dumps(i, ensure_ascii=False, separators=(",", ":"))
        for i in directory["institutions"]
    )
    rules = ",\n".join(
        "  " + json.dumps(r, ensure_ascii=False, separators=(",", ":"))
        for r in directory["routing_rules"]
    )
    head = {k: directory[k] for k in ("version", "national_desk", "ombudsman")}
    text = json.dumps(head, ensure_ascii=False)[:-1]
    out.write_text(
        f'{text},\n "institutions": [\n{lines}\n ],\n "routing_rules": [\n{rules}\n ]\n}}\n',
        encoding="utf-8",
    )
    return out


if __name__ == "__main__":
    written = write(build(), Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    data = json.loads(written.read_text(encoding="utf-8"))
    print(
        f"wrote {written}: {len(data['institutions'])} institutions,"
        f" {len(data['routing_rules'])} routing rules"
    )
