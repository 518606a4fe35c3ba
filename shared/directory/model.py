"""Institution directory, routing rules and report categories: pure domain, no I/O but file loading.

The directory is the hierarchy of institutions that receive reports (national ministries and
agencies, provinces, regencies and cities, their OPDs, units such as a Puskesmas), the SMS 1708
keywords that name a region, and the routing rules that pick the institution for a verified report.
The file format is documented in `docs/directory-format.md`.

Routing (`Directory.route`):
1. Among the rules that match (rule prefix null or a prefix of the report's region code; rule
   category null or equal to the report's category), the most specific wins: the longest region
   prefix first, then a rule naming a category over one that does not. Two rules with the same
   prefix and category are rejected when the file is loaded, so the winner is always unique.
2. No rule: the region's own government, the regency/city for the first four digits, else the
   province for the first two (`routed_by="region"`).
3. Otherwise the national desk (`routed_by="national"`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.regions import regions

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_DIRECTORY_PATH = DATA_DIR / "directory.json"
DEFAULT_CATEGORIES_PATH = DATA_DIR / "categories.json"

Level = Literal["national", "province", "regency", "city", "opd", "unit"]
RoutedBy = Literal["rule", "region", "national"]

LEVELS: tuple[Level, ...] = ("national", "province", "regency", "city", "opd", "unit")
GOVERNMENT_LEVELS: frozenset[str] = frozenset({"province", "regency", "city"})

# Agency codes travel in NATS subjects: upper-case letters and digits, single hyphens inside.
AGENCY_CODE_RE = re.compile(r"^[A-Z0-9]+(?:-[A-Z0-9]+)*$")
AGENCY_CODE_MAX = 64
# Kemendagri codes without dots: province 2, regency/city 4, district 6, village 10 digits.
REGION_CODE_RE = re.compile(r"^[0-9]+$")
REGION_CODE_LENGTHS: tuple[int, ...] = (2, 4, 6, 10)
KEYWORD_RE = re.compile(r"^[A-Z0-9]+(?: [A-Z0-9]+)*$")
KEYWORD_MAX = 60
CATEGORY_CODE_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# First words of the SMS 1708 commands (shared.sms.grammar): a keyword may not start with one.
RESERVED_KEYWORDS: frozenset[str] = frozenset({"CEK", "BALAS", "POLL", "ESKALASI"})
# The two digits after the province in a regency/city code: regencies 01-70, cities 71-99.
FIRST_CITY_NUMBER = 71

# Kemendagri province codes (38 provinces); every region code must also be in `shared.regions`.
PROVINCES: Mapping[str, str] = {
    "11": "Aceh",
    "12": "Sumatera Utara",
    "13": "Sumatera Barat",
    "14": "Riau",
    "15": "Jambi",
    "16": "Sumatera Selatan",
    "17": "Bengkulu",
    "18": "Lampung",
    "19": "Kepulauan Bangka Belitung",
    "21": "Kepulauan Riau",
    "31": "DKI Jakarta",
    "32": "Jawa Barat",
    "33": "Jawa Tengah",
    "34": "DI Yogyakarta",
    "35": "Jawa Timur",
    "36": "Banten",
    "51": "Bali",
    "52": "Nusa Tenggara Barat",
    "53": "Nusa Tenggara Timur",
    "61": "Kalimantan Barat",
    "62": "Kalimantan Tengah",
    "63": "Kalimantan Selatan",
    "64": "Kalimantan Timur",
    "65": "Kalimantan Utara",
    "71": "Sulawesi Utara",
    "72": "Sulawesi Tengah",
    "73": "Sulawesi Selatan",
    "74": "Sulawesi Tenggara",
    "75": "Gorontalo",
    "76": "Sulawesi Barat",
    "81": "Maluku",
    "82": "Maluku Utara",
    "91": "Papua",
    "92": "Papua Barat",
    "93": "Papua Selatan",
    "94": "Papua Tengah",
    "95": "Papua Pegunungan",
    "96": "Papua Barat Daya",
}


class DirectoryError(ValueError):
    """A directory or categories file that cannot be used; `problems` lists every finding."""

    def __init__(self, problems: Sequence[str], source: str | None = None) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s){where}:\n{lines}")


class UnknownAgency(LookupError):
    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"unknown agency code {code!r}")


def normalize_keyword(text: str) -> str:
    """Upper-case and collapse whitespace: ` timor  tengah utara ` -> `TIMOR TENGAH UTARA`."""
    return " ".join(text.split()).upper()


def is_agency_code(code: str) -> bool:
    return len(code) <= AGENCY_CODE_MAX and AGENCY_CODE_RE.fullmatch(code) is not None


def check_region_code(region_code: str) -> str:
    """Return the code if it is a Kemendagri code without dots (2, 4, 6 or 10 digits)."""
    if REGION_CODE_RE.fullmatch(region_code) is None or len(region_code) not in REGION_CODE_LENGTHS:
        raise ValueError(
            f"region code {region_code!r} must be 2, 4, 6 or 10 digits without dots (e.g. 5371)"
        )
    return region_code


def province_code(region_code: str | None) -> str | None:
    """The two-digit province part of a region code (None for None)."""
    if region_code is None:
        return None
    return _route_region(region_code)[:2]


def _route_region(region_code: str) -> str:
    # Routing accepts any digit string of two or more digits (a prefix of a Kemendagri code).
    if REGION_CODE_RE.fullmatch(region_code) is None or len(region_code) < 2:
        raise ValueError(f"region code {region_code!r} must be digits without dots (e.g. 5371)")
    return region_code


# --- file models -----------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LiaisonOfficer(_Model):
    """Pejabat penghubung: the account holder who handles an institution's reports."""

    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 \-]{5,24}$")


class Institution(_Model):
    code: str = Field(description="Agency code, [A-Z0-9-]+, used in NATS subjects")
    name: str = Field(min_length=1, max_length=300)
    level: Level
    region_code: str | None = Field(default=None, description="Kemendagri code without dots")
    parent: str | None = None
    sms_keywords: tuple[str, ...] = ()
    liaison_officers: tuple[LiaisonOfficer, ...] = ()
    categories: tuple[str, ...] = Field(default=(), description="Category codes it handles")

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not is_agency_code(value):
            raise ValueError(
                "agency code must be upper-case letters and digits joined by single hyphens,"
                f" at most {AGENCY_CODE_MAX} characters (e.g. DINKES-KOTA-KUPANG)"
            )
        return value

    @field_validator("region_code")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        return None if value is None else check_region_code(value)

    @field_validator("sms_keywords")
    @classmethod
    def _keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(normalize_keyword(k) for k in value)

    @property
    def is_government(self) -> bool:
        return self.level in GOVERNMENT_LEVELS


class RoutingRule(_Model):
    region_prefix: str | None = Field(
        default=None, description="Kemendagri code (2, 4, 6 or 10 digits); null matches any region"
    )
    category: str | None = Field(default=None, description="Category code; null matches any")
    agency_code: str
    note: str | None = Field(default=None, max_length=500)

    @field_validator("region_prefix")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        return None if value is None else check_region_code(value)

    @property
    def specificity(self) -> tuple[int, int]:
        """Bigger is more specific: (length of the region prefix, 1 if a category is named)."""
        return (len(self.region_prefix or ""), 0 if self.category is None else 1)

    def matches(self, region_code: str | None, category: str | None) -> bool:
        if self.region_prefix is not None and (
            region_code is None or not region_code.startswith(self.region_prefix)
        ):
            return False
        return self.category is None or self.category == category


class DirectoryFile(_Model):
    version: Literal[1] = 1
    national_desk: str = Field(description="Agency code of the national desk, the last fallback")
    ombudsman: str = Field(description="Agency code of the national Ombudsman office")
    institutions: tuple[Institution, ...]
    routing_rules: tuple[RoutingRule, ...] = ()


@dataclass(frozen=True, slots=True)
class RouteDecision:
    agency_code: str
    agency_name: str
    routed_by: RoutedBy
    rule: RoutingRule | None = None


# --- categories ------------------------------------------------------------------------------


class Category(_Model):
    code: str = Field(pattern=CATEGORY_CODE_RE.pattern, max_length=64)
    name: str = Field(min_length=1, max_length=200, description="Indonesian name")
    name_en: str = Field(min_length=1, max_length=200, description="English name")


class CategoriesFile(_Model):
    version: Literal[1] = 1
    categories: tuple[Category, ...] = Field(min_length=1)


def load_categories(path: str | Path | None = None) -> tuple[Category, ...]:
    """The report categories, from `path` or the seed file (cached)."""
    if path is None:
        return _default_categories()
    return _read_categories(Path(path))


@lru_cache(maxsize=1)
def _default_categories() -> tuple[Category, ...]:
    return _read_categories(DEFAULT_CATEGORIES_PATH)


def _read_categories(path: Path) -> tuple[Category, ...]:
    raw = _read_json(path)
    try:
        parsed = CategoriesFile.model_validate(raw)
    except ValidationError as exc:
        raise DirectoryError(pydantic_problems(exc, raw), str(path)) from None
    seen: set[str] = set()
    problems = []
    for i, cat in enumerate(parsed.categories):
        if cat.code in seen:
            problems.append(f"categories[{i}].code: duplicate category {cat.code!r}")
        seen.add(cat.code)
    if problems:
        raise DirectoryError(problems, str(path))
    return parsed.categories


# --- the directory ---------------------------------------------------------------------------


class Directory:
    """A validated, immutable institution directory with routing rules."""

    def __init__(self, data: DirectoryFile, *, categories: Iterable[str] | None = None) -> None:
        known = (
            frozenset(c.code for c in load_categories())
            if categories is None
            else frozenset(categories)
        )
        problems = _validate(data, known)
        if problems:
            raise DirectoryError(problems)
        self.data = data
        self._by_code: dict[str, Institution] = {i.code: i for i in data.institutions}
        self._children: dict[str, list[Institution]] = {}
        for inst in data.institutions:
            if inst.parent is not None:
                self._children.setdefault(inst.parent, []).append(inst)
        self._governments: dict[str, Institution] = {
            i.region_code: i for i in data.institutions if i.is_government and i.region_code
        }
        self._keywords: dict[str, Institution] = {
            k: i for i in data.institutions for k in i.sms_keywords
        }
        # SMS matching ignores spacing (`KOTKUPANG` is `KOT KUPANG`): lookups do too.
        self._compact: dict[str, Institution] = {
            k.replace(" ", ""): i for k, i in self._keywords.items()
        }
        self._sorted_keywords: tuple[str, ...] = tuple(
            sorted(self._keywords, key=lambda k: (-len(k), k))
        )
        self._ombudsman_offices: dict[str, Institution] = {
            i.region_code[:2]: i
            for i in self._children.get(data.ombudsman, [])
            if i.region_code is not None
        }

    # construction

    @classmethod
    def load(
        cls, path: str | Path | None = None, *, categories: Iterable[str] | None = None
    ) -> Directory:
        """Read and validate a directory file (the seed when `path` is None)."""
        source = Path(path) if path is not None else DEFAULT_DIRECTORY_PATH
        raw = _read_json(source)
        try:
            return cls.from_dict(raw, categories=categories)
        except DirectoryError as exc:
            raise DirectoryError(exc.problems, str(source)) from None

    @classmethod
    def from_dict(cls, raw: Any, *, categories: Iterable[str] | None = None) -> Directory:
        try:
            data = DirectoryFile.model_validate(raw)
        except ValidationError as exc:
            raise DirectoryError(pydantic_problems(exc, raw)) from None
        return cls(data, categories=categories)

    @classmethod
    def from_json(cls, text: str | bytes, *, categories: Iterable[str] | None = None) -> Directory:
        return cls.from_dict(_parse_json(text), categories=categories)

    def to_dict(self) -> dict[str, Any]:
        """The file form (JSON-ready), e.g. for export."""
        return self.data.model_dump(mode="json")

    # lookups

    @property
    def institutions(self) -> tuple[Institution, ...]:
        return self.data.institutions

    @property
    def rules(self) -> tuple[RoutingRule, ...]:
        return self.data.routing_rules

    @property
    def national_desk(self) -> Institution:
        return self._by_code[self.data.national_desk]

    @property
    def ombudsman(self) -> Institution:
        return self._by_code[self.data.ombudsman]

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __iter__(self) -> Iterator[Institution]:
        return iter(self.data.institutions)

    def __len__(self) -> int:
        return len(self._by_code)

    def find(self, code: str) -> Institution | None:
        return self._by_code.get(code)

    def get(self, code: str) -> Institution:
        """The institution with this agency code; `UnknownAgency` if there is none."""
        try:
            return self._by_code[code]
        except KeyError:
            raise UnknownAgency(code) from None

    def children(self, code: str) -> tuple[Institution, ...]:
        """Direct children in file order; `UnknownAgency` for an unknown code."""
        self.get(code)
        return tuple(self._children.get(code, ()))

    def parent_of(self, code: str) -> Institution | None:
        parent = self.get(code).parent
        return None if parent is None else self._by_code[parent]

    def ancestors(self, code: str) -> tuple[Institution, ...]:
        """Parent, grandparent, ... up to the root."""
        out: list[Institution] = []
        current = self.parent_of(code)
        while current is not None:
            out.append(current)
            current = self.parent_of(current.code)
        return tuple(out)

    def same_parent(self, a: str, b: str) -> bool:
        """True when both institutions have a parent and it is the same one (siblings)."""
        pa, pb = self.get(a).parent, self.get(b).parent
        return pa is not None and pa == pb

    # regions

    def province_of(self, region_code: str | None) -> str | None:
        """The two-digit province code of a region code (None for None)."""
        return province_code(region_code)

    def government_for(self, region_code: str | None) -> Institution | None:
        """The region's own government: regency/city for the first 4 digits, else the province."""
        if region_code is None:
            return None
        region = _route_region(region_code)
        for prefix in (region[:4], region[:2]) if len(region) >= 4 else (region[:2],):
            gov = self._governments.get(prefix)
            if gov is not None:
                return gov
        return None

    def ombudsman_office_for(self, region_code: str | None) -> Institution:
        """The Ombudsman RI office for the region's province, else the national office."""
        province = province_code(region_code)
        if province is not None and province in self._ombudsman_offices:
            return self._ombudsman_offices[province]
        return self.ombudsman

    # routing

    def route(self, region_code: str | None, category: str | None = None) -> RouteDecision:
        """Pick the institution for a report; see the module docstring for the order.

        `region_code` must be None or digits (ValueError otherwise); an empty category is none.
        """
        region = None if region_code is None else _route_region(region_code)
        cat = category or None
        best: RoutingRule | None = None
        for rule in self.data.routing_rules:
            if rule.matches(region, cat) and (best is None or rule.specificity > best.specificity):
                best = rule
        if best is not None:
            agency = self._by_code[best.agency_code]
            return RouteDecision(agency.code, agency.name, "rule", best)
        gov = self.government_for(region)
        if gov is not None:
            return RouteDecision(gov.code, gov.name, "region")
        desk = self.national_desk
        return RouteDecision(desk.code, desk.name, "national")

    # SMS keywords

    def keywords(self) -> tuple[str, ...]:
        """All SMS keywords, longest first (ties alphabetical): the order to try them in."""
        return self._sorted_keywords

    def institution_for_keyword(self, keyword: str) -> Institution | None:
        word = normalize_keyword(keyword)
        return self._keywords.get(word) or self._compact.get(word.replace(" ", ""))

    def alternatives(self, keyword: str) -> tuple[tuple[str, str], ...]:
        """For a bare name several regions share (`MALANG`: the city; `KAB MALANG`, the
        regency; `BENGKULU`: the city; `PROV BENGKULU`), the others' keywords and names."""
        owner = self.institution_for_keyword(keyword)
        if owner is None:
            return ()
        word = normalize_keyword(keyword)
        found: list[tuple[str, str]] = []
        for prefix in ("KAB", "KOTA", "PROV"):
            other = self._keywords.get(f"{prefix} {word}")
            if other is not None and other.code != owner.code:
                found.append((f"{prefix} {word}", other.name))
        return tuple(found)

    def region_for_keyword(self, keyword: str) -> str | None:
        """The region code the keyword names (None if unknown or a national institution's)."""
        inst = self.institution_for_keyword(keyword)
        return None if inst is None else inst.region_code


@lru_cache(maxsize=1)
def default_directory() -> Directory:
    """The seed directory, loaded once."""
    return Directory.load()


# --- validation ------------------------------------------------------------------------------


def _validate(data: DirectoryFile, categories: frozenset[str]) -> list[str]:
    problems: list[str] = []
    by_code: dict[str, Institution] = {}
    for i, inst in enumerate(data.institutions):
        if inst.code in by_code:
            problems.append(f"institutions[{i}] {inst.code}: duplicate agency code")
        else:
            by_code[inst.code] = inst

    for role, code in (("national_desk", data.national_desk), ("ombudsman", data.ombudsman)):
        found = by_code.get(code)
        if found is None:
            problems.append(f"{role}: unknown agency code {code!r}")
        elif found.level != "national":
            problems.append(f"{role}: {code} must be a national institution, not {found.level}")

    governments: dict[str, str] = {}
    keywords: dict[str, str] = {}
    for i, inst in enumerate(data.institutions):
        where = f"institutions[{i}] {inst.code}"
        parent = by_code.get(inst.parent) if inst.parent is not None else None
        if inst.parent is not None and parent is None:
            problems.append(f"{where}: unknown parent {inst.parent!r}")
        problems.extend(f"{where}: {p}" for p in _check_level(inst, parent))
        if inst.is_government and inst.region_code is not None:
            other = governments.setdefault(inst.region_code, inst.code)
            if other != inst.code:
                problems.append(
                    f"{where}: region {inst.region_code} already has a government ({other})"
                )
        for kw in inst.sms_keywords:
            problem = _check_keyword(kw)
            if problem:
                problems.append(f"{where}: {problem}")
            # Spacing does not tell keywords apart in an SMS (`BATU BARA` is `BATUBARA`).
            owner = keywords.setdefault(kw.replace(" ", ""), inst.code)
            if owner != inst.code:
                problems.append(f"{where}: SMS keyword {kw!r} is already used by {owner}")
        if len(set(inst.sms_keywords)) != len(inst.sms_keywords):
            problems.append(f"{where}: an SMS keyword is listed twice")
        for cat in inst.categories:
            if cat not in categories:
                problems.append(f"{where}: unknown category {cat!r}")

    problems.extend(_check_cycles(data.institutions, by_code))
    problems.extend(_check_rules(data.routing_rules, by_code, categories))

    offices: dict[str, str] = {}
    for inst in data.institutions:
        if inst.parent == data.ombudsman and inst.region_code is not None:
            other = offices.setdefault(inst.region_code[:2], inst.code)
            if other != inst.code:
                problems.append(
                    f"{inst.code}: province {inst.region_code[:2]} already has an Ombudsman"
                    f" office ({other})"
                )
    return problems


def _check_level(inst: Institution, parent: Institution | None) -> list[str]:
    region, level = inst.region_code, inst.level
    out: list[str] = []
    if region is not None and region[:2] not in PROVINCES:
        out.append(f"region code {region} does not start with a Kemendagri province code")
    elif region is not None and regions().get(region) is None:
        nearest = regions().nearest_known(region)
        hint = f" (the nearest is {nearest.code} {nearest.name})" if nearest else ""
        out.append(f"region code {region} is not in the official region list{hint}")
    if level == "national":
        if region is not None:
            out.append("a national institution has no region_code")
        if parent is not None and parent.level != "national":
            out.append(f"a national institution's parent must be national, not {parent.level}")
    elif level == "province":
        if region is None or len(region) != 2:
            out.append("a province needs a 2-digit region_code (e.g. 53)")
        if parent is not None and parent.level != "national":
            out.append("a province's parent must be null or a national institution")
    elif level in ("regency", "city"):
        if region is None or len(region) != 4:
            out.append(f"a {level} needs a 4-digit region_code (e.g. 5371)")
        else:
            number = int(region[2:])
            if level == "city" and number < FIRST_CITY_NUMBER:
                out.append(f"a city's code ends in {FIRST_CITY_NUMBER}-99 (got {region})")
            if level == "regency" and number >= FIRST_CITY_NUMBER:
                out.append(f"a regency's code ends in 01-{FIRST_CITY_NUMBER - 1} (got {region})")
        if inst.parent is None:
            out.append(f"a {level} needs its province as parent")
        elif parent is not None and parent.level != "province":
            out.append(f"a {level}'s parent must be a province, not {parent.level}")
        elif parent is not None and region is not None and parent.region_code != region[:2]:
            out.append(f"region {region} is not in parent {parent.code} ({parent.region_code})")
    else:  # opd, unit
        if inst.parent is None:
            out.append(f"an {level} needs a parent")
        if level == "opd":
            if region is None:
                out.append("an opd needs a region_code")
            if parent is not None and parent.level in ("national", "unit"):
                out.append(
                    f"an opd's parent must be a regional government or opd, not {parent.level}"
                )
        if (
            parent is not None
            and parent.region_code is not None
            and (region is None or not region.startswith(parent.region_code))
        ):
            out.append(
                f"region {region} must be inside parent {parent.code}'s region {parent.region_code}"
            )
    return out


def _check_keyword(keyword: str) -> str | None:
    if not keyword or KEYWORD_RE.fullmatch(keyword) is None:
        return f"SMS keyword {keyword!r} must be ASCII letters and digits separated by spaces"
    if len(keyword) > KEYWORD_MAX:
        return f"SMS keyword {keyword!r} is longer than {KEYWORD_MAX} characters"
    if keyword.split(" ", 1)[0] in RESERVED_KEYWORDS:
        return f"SMS keyword {keyword!r} starts with a reserved command word"
    return None


def _check_cycles(
    institutions: Sequence[Institution], by_code: Mapping[str, Institution]
) -> list[str]:
    problems: list[str] = []
    reported: set[str] = set()
    for inst in institutions:
        seen: list[str] = []
        current: Institution | None = inst
        while current is not None and current.parent is not None:
            if current.code in seen:
                cycle = seen[seen.index(current.code) :]
                if not reported.intersection(cycle):
                    problems.append(f"parent cycle: {' -> '.join([*cycle, current.code])}")
                    reported.update(cycle)
                break
            seen.append(current.code)
            current = by_code.get(current.parent)
    return problems


def _check_rules(
    rules: Sequence[RoutingRule], by_code: Mapping[str, Institution], categories: frozenset[str]
) -> list[str]:
    problems: list[str] = []
    seen: dict[tuple[str | None, str | None], int] = {}
    for i, rule in enumerate(rules):
        where = f"routing_rules[{i}]"
        key = (rule.region_prefix, rule.category)
        if key in seen:
            problems.append(
                f"{where}: same region_prefix and category as routing_rules[{seen[key]}]"
            )
        else:
            seen[key] = i
        if rule.region_prefix is None and rule.category is None:
            problems.append(
                f"{where}: needs a region_prefix or a category (the national desk is the fallback)"
            )
        if rule.region_prefix is not None and rule.region_prefix[:2] not in PROVINCES:
            problems.append(f"{where}: region_prefix {rule.region_prefix} is not in a province")
        elif rule.region_prefix is not None and regions().get(rule.region_prefix) is None:
            problems.append(
                f"{where}: region_prefix {rule.region_prefix} is not in the official region list"
            )
        if rule.category is not None and rule.category not in categories:
            problems.append(f"{where}: unknown category {rule.category!r}")
        agency = by_code.get(rule.agency_code)
        if agency is None:
            problems.append(f"{where}: unknown agency code {rule.agency_code!r}")
        elif agency.region_code is not None:
            if rule.region_prefix is None:
                problems.append(
                    f"{where}: a rule for every region must go to a national institution,"
                    f" not {agency.code} ({agency.region_code})"
                )
            elif not (
                rule.region_prefix.startswith(agency.region_code)
                or agency.region_code.startswith(rule.region_prefix)
            ):
                problems.append(
                    f"{where}: {agency.code} ({agency.region_code}) is outside region"
                    f" {rule.region_prefix}"
                )
    return problems


# --- helpers ---------------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise DirectoryError([f"cannot read file: {exc.strerror or exc}"], str(path)) from None
    try:
        return _parse_json(text)
    except DirectoryError as exc:
        raise DirectoryError(exc.problems, str(path)) from None


def _parse_json(text: str | bytes) -> Any:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DirectoryError(["not UTF-8 text"]) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DirectoryError(
            [f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
        ) from None


def pydantic_problems(exc: ValidationError, raw: Any) -> list[str]:
    out = []
    for err in exc.errors():
        loc = err["loc"]
        path = ""
        for part in loc:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        label = _label(raw, loc)
        out.append(f"{path or '(file)'}{label}: {err['msg']}")
    return out


def _label(raw: Any, loc: tuple[int | str, ...]) -> str:
    """` (code X)` for an error inside an institution that has a readable code."""
    if len(loc) >= 2 and loc[0] == "institutions" and isinstance(loc[1], int):
        try:
            code = raw["institutions"][loc[1]]["code"]
        except (KeyError, IndexError, TypeError):
            return ""
        if isinstance(code, str):
            return f" (code {code})"
    return ""
