"""Institution directory: seed data, routing order, lookups and validation of imported files."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.directory.model import (
    DEFAULT_DIRECTORY_PATH,
    PROVINCES,
    Directory,
    DirectoryError,
    UnknownAgency,
    check_region_code,
    default_directory,
    load_categories,
    normalize_keyword,
)
from shared.reports.events import Location


@pytest.fixture(scope="module")
def seed() -> Directory:
    return Directory.load()


def seed_dict() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(DEFAULT_DIRECTORY_PATH.read_text(encoding="utf-8"))
    return raw


def inst(
    code: str,
    level: str,
    region: str | None = None,
    parent: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "code": code,
        "name": code.title(),
        "level": level,
        "region_code": region,
        "parent": parent,
        **extra,
    }


def small(rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A tiny directory: national desk, Ombudsman, NTT, Kota Kupang and its health office."""
    return {
        "national_desk": "DESK",
        "ombudsman": "OMB",
        "institutions": [
            inst("DESK", "national"),
            inst("OMB", "national"),
            inst("MINKES", "national"),
            inst("PROV", "province", "53"),
            inst("DINKES-PROV", "opd", "53", "PROV"),
            inst("KOTA", "city", "5371", "PROV"),
            inst("DINKES", "opd", "5371", "KOTA"),
            inst("DPU", "opd", "5371", "KOTA"),
        ],
        "routing_rules": rules or [],
    }


def problems_of(raw: Any) -> tuple[str, ...]:
    with pytest.raises(DirectoryError) as info:
        Directory.from_dict(raw)
    return info.value.problems


# --- seed ------------------------------------------------------------------------------------


def test_seed_loads_and_is_the_default(seed: Directory) -> None:
    assert len(seed) >= 25
    assert seed.national_desk.code == "KEMENPANRB"
    assert seed.ombudsman.code == "OMBUDSMAN"
    assert default_directory() is default_directory()


@pytest.mark.parametrize(
    ("code", "level", "region", "parent"),
    [
        ("KEMENPANRB", "national", None, None),
        ("KEMENKES", "national", None, None),
        ("OMBUDSMAN-53", "unit", "53", "OMBUDSMAN"),
        ("PEMPROV-NTT", "province", "53", None),
        ("PEMKOT-KUPANG", "city", "5371", "PEMPROV-NTT"),
        ("DINKES-KOTA-KUPANG", "opd", "5371", "PEMKOT-KUPANG"),
        ("PUSKESMAS-OEPOI", "unit", "5371", "DINKES-KOTA-KUPANG"),
        # Kemendagri codes: 53.01 Kupang, 53.03 Timor Tengah Utara (the pilot had BPS-style ones)
        ("PEMKAB-KUPANG", "regency", "5301", "PEMPROV-NTT"),
        ("PEMKAB-TTU", "regency", "5303", "PEMPROV-NTT"),
        ("DINKES-KAB-TTU", "opd", "5303", "PEMKAB-TTU"),
        ("PEMKAB-ALOR", "regency", "5305", "PEMPROV-NTT"),
        ("PEMKOT-SURABAYA", "city", "3578", "PEMPROV-JATIM"),
        ("PEMPROV-DKI", "province", "31", None),
        ("PEMKOT-ADM-JAKARTA-SELATAN", "opd", "3174", "PEMPROV-DKI"),
        ("BAGORG-KAB-MALANG", "opd", "3507", "PEMKAB-MALANG"),
        ("KAI", "national", None, None),
        ("PEMPROV-JATIM", "province", "35", None),
        ("PEMKOT-BLITAR", "city", "3572", "PEMPROV-JATIM"),
        ("PEMPROV-BENGKULU", "province", "17", None),
        ("PEMKAB-BENGKULU-UTARA", "regency", "1703", "PEMPROV-BENGKULU"),
    ],
)
def test_seed_institutions(
    seed: Directory, code: str, level: str, region: str | None, parent: str | None
) -> None:
    found = seed.get(code)
    assert (found.level, found.region_code, found.parent) == (level, region, parent)


def test_every_pilot_institution_has_a_liaison_officer(seed: Directory) -> None:
    # The pilot's institutions came with (placeholder) officers; the generated governments get
    # theirs when each institution registers its pejabat penghubung.
    for code in ("KEMENPANRB", "PEMKOT-KUPANG", "DINKES-KOTA-KUPANG", "PEMKAB-TTU"):
        assert seed.get(code).liaison_officers, code
    for institution in seed:
        for officer in institution.liaison_officers:
            assert officer.email is not None and officer.email.endswith(".example")


def test_seed_region_codes_fit_the_event_location_model(seed: Directory) -> None:
    for institution in seed:
        if institution.region_code is not None:
            Location(region_code=institution.region_code)


# --- routing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "category", "agency", "routed_by"),
    [
        # a region + category rule
        ("5371", "kesehatan", "DINKES-KOTA-KUPANG", "rule"),
        ("5371", "infrastruktur", "DPUPR-KOTA-KUPANG", "rule"),
        ("5371011001", "kesehatan", "DINKES-KOTA-KUPANG", "rule"),  # a village in the city
        ("5303", "kesehatan", "DINKES-KAB-TTU", "rule"),
        ("3572", "pendidikan", "DINDIK-KOTA-BLITAR", "rule"),
        # a province-wide category rule reaches regencies without their own rule
        ("1703", "infrastruktur", "DPUPR-PROV-BENGKULU", "rule"),
        ("17", "infrastruktur", "DPUPR-PROV-BENGKULU", "rule"),
        # a national category rule for every region
        ("5371", "pertanahan", "KEMENATR-BPN", "rule"),
        (None, "pertanahan", "KEMENATR-BPN", "rule"),
        # no rule: the regency/city government
        ("5371", "pendidikan", "PEMKOT-KUPANG", "region"),
        ("5371", None, "PEMKOT-KUPANG", "region"),
        ("537103", "sosial", "PEMKOT-KUPANG", "region"),
        ("5303", "pendidikan", "PEMKAB-TTU", "region"),
        ("5305", "pendidikan", "PEMKAB-ALOR", "region"),
        ("3578", "infrastruktur", "PEMKOT-SURABAYA", "region"),  # a Surabaya road
        ("357801", "infrastruktur", "PEMKOT-SURABAYA", "region"),
        ("1703", "kesehatan", "PEMKAB-BENGKULU-UTARA", "region"),
        ("3572", "kesehatan", "PEMKOT-BLITAR", "region"),
        ("1771", None, "PEMKOT-BENGKULU", "region"),
        ("3505", "pendidikan", "PEMKAB-BLITAR", "region"),
        # a province's own reports: the province
        ("53", None, "PEMPROV-NTT", "region"),
        # DKI Jakarta's administrative cities: the provincial government
        ("3171", "kesehatan", "PEMPROV-DKI", "region"),
        ("3174010001", "infrastruktur", "PEMPROV-DKI", "region"),
        ("31", None, "PEMPROV-DKI", "region"),
        # national categories: the ministry or agency, wherever it is
        ("3171", "kereta-api", "KAI", "rule"),  # a Jakarta commuter-train complaint
        ("3578", "listrik", "PLN", "rule"),
        ("5305", "jaminan-kesehatan", "BPJS-KESEHATAN", "rule"),
        ("3174", "kepolisian", "POLRI", "rule"),
        # no region at all: the national desk
        (None, "kesehatan", "KEMENPANRB", "national"),
        (None, None, "KEMENPANRB", "national"),
    ],
)
def test_seed_routing(
    seed: Directory, region: str | None, category: str | None, agency: str, routed_by: str
) -> None:
    decision = seed.route(region, category)
    assert (decision.agency_code, decision.routed_by) == (agency, routed_by)
    assert decision.agency_name == seed.get(agency).name
    assert (decision.rule is not None) == (routed_by == "rule")


@pytest.mark.parametrize(
    ("rules", "region", "category", "expected"),
    [
        # longer prefix beats shorter, whatever the category
        (
            [
                {"region_prefix": "53", "category": "kesehatan", "agency_code": "DINKES-PROV"},
                {"region_prefix": "5371", "category": None, "agency_code": "DPU"},
            ],
            "5371",
            "kesehatan",
            "DPU",
        ),
        # same prefix: the category-specific rule beats the region-only one
        (
            [
                {"region_prefix": "5371", "category": None, "agency_code": "DPU"},
                {"region_prefix": "5371", "category": "kesehatan", "agency_code": "DINKES"},
            ],
            "5371",
            "kesehatan",
            "DINKES",
        ),
        # ... and the region-only rule takes the other categories
        (
            [
                {"region_prefix": "5371", "category": None, "agency_code": "DPU"},
                {"region_prefix": "5371", "category": "kesehatan", "agency_code": "DINKES"},
            ],
            "5371",
            "pendidikan",
            "DPU",
        ),
        # a region rule beats a national category rule
        (
            [
                {"region_prefix": None, "category": "kesehatan", "agency_code": "MINKES"},
                {"region_prefix": "53", "category": None, "agency_code": "PROV"},
            ],
            "5371",
            "kesehatan",
            "PROV",
        ),
        # a national category rule beats the region fallback
        (
            [{"region_prefix": None, "category": "kesehatan", "agency_code": "MINKES"}],
            "5371",
            "kesehatan",
            "MINKES",
        ),
        # file order does not matter
        (
            [
                {"region_prefix": "5371", "category": "kesehatan", "agency_code": "DINKES"},
                {"region_prefix": "53", "category": "kesehatan", "agency_code": "DINKES-PROV"},
            ],
            "5371",
            "kesehatan",
            "DINKES",
        ),
        # a rule for another region does not match
        (
            [{"region_prefix": "5371", "category": "kesehatan", "agency_code": "DINKES"}],
            "5305",
            "kesehatan",
            "PROV",
        ),
        # a rule needing a category does not match a report without one
        (
            [{"region_prefix": "5371", "category": "kesehatan", "agency_code": "DINKES"}],
            "5371",
            None,
            "KOTA",
        ),
        # an empty category is no category
        (
            [{"region_prefix": "5371", "category": "kesehatan", "agency_code": "DINKES"}],
            "5371",
            "",
            "KOTA",
        ),
    ],
)
def test_most_specific_rule_wins(
    rules: list[dict[str, Any]], region: str, category: str | None, expected: str
) -> None:
    assert Directory.from_dict(small(rules)).route(region, category).agency_code == expected


rule_strategy = st.fixed_dictionaries(
    {
        "region_prefix": st.sampled_from([None, "53", "5371", "537101"]),
        "category": st.sampled_from([None, "kesehatan", "pendidikan"]),
    }
)


@given(
    rules=st.lists(
        rule_strategy, max_size=8, unique_by=lambda r: (r["region_prefix"], r["category"])
    ),
    region=st.sampled_from([None, "53", "5371", "5371011001", "5305", "35"]),
    category=st.sampled_from([None, "kesehatan", "pendidikan", "sosial"]),
)
def test_route_picks_the_maximum_of_the_documented_order(
    rules: list[dict[str, Any]], region: str | None, category: str | None
) -> None:
    targets = {None: "MINKES", "53": "PROV", "5371": "KOTA", "537101": "DINKES"}
    full = [r | {"agency_code": targets[r["region_prefix"]]} for r in rules]
    full = [r for r in full if r["region_prefix"] is not None or r["category"] is not None]
    directory = Directory.from_dict(small(full))
    decision = directory.route(region, category)
    matching = [
        r
        for r in full
        if (r["region_prefix"] is None or (region or "").startswith(r["region_prefix"]))
        and (r["category"] is None or r["category"] == category)
    ]
    if matching:
        best = max(
            matching, key=lambda r: (len(r["region_prefix"] or ""), r["category"] is not None)
        )
        assert decision.routed_by == "rule"
        assert decision.rule is not None
        assert (decision.rule.region_prefix, decision.rule.category) == (
            best["region_prefix"],
            best["category"],
        )
    else:
        assert decision.routed_by in ("region", "national")


@given(region=st.from_regex(r"[0-9]{2,10}", fullmatch=True), category=st.text(max_size=20))
def test_route_always_answers_a_known_agency(region: str, category: str) -> None:
    directory = default_directory()
    assert directory.route(region, category).agency_code in directory


@pytest.mark.parametrize("region", ["", "5", "53.71", "abc", " 5371", "５３７１"])
def test_route_rejects_malformed_region_codes(seed: Directory, region: str) -> None:
    with pytest.raises(ValueError, match="region code"):
        seed.route(region, None)


# --- lookups ---------------------------------------------------------------------------------


def test_get_and_find(seed: Directory) -> None:
    assert seed.get("PEMKOT-KUPANG").name == "Pemerintah Kota Kupang"
    assert seed.find("NOPE") is None
    assert "PEMKOT-KUPANG" in seed
    with pytest.raises(UnknownAgency, match="NOPE"):
        seed.get("NOPE")


def test_children_ancestors_and_siblings(seed: Directory) -> None:
    kids = {i.code for i in seed.children("DINKES-KOTA-KUPANG")}
    assert {"PUSKESMAS-OEPOI", "PUSKESMAS-SIKUMANA", "PUSKESMAS-BAKUNASE"} <= kids
    assert seed.children("PUSKESMAS-OEPOI") == ()
    assert [i.code for i in seed.ancestors("PUSKESMAS-OEPOI")] == [
        "DINKES-KOTA-KUPANG",
        "PEMKOT-KUPANG",
        "PEMPROV-NTT",
    ]
    assert seed.parent_of("PEMPROV-NTT") is None
    with pytest.raises(UnknownAgency):
        seed.children("NOPE")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("DINKES-KOTA-KUPANG", "DPUPR-KOTA-KUPANG", True),
        ("PUSKESMAS-OEPOI", "PUSKESMAS-SIKUMANA", True),
        ("PEMKOT-KUPANG", "PEMKAB-TTU", True),
        ("DINKES-KOTA-KUPANG", "DINKES-KAB-TTU", False),
        ("DINKES-KOTA-KUPANG", "PEMKOT-KUPANG", False),
        ("KEMENKES", "KEMENPANRB", False),  # no parent: not siblings
    ],
)
def test_same_parent(seed: Directory, a: str, b: str, same: bool) -> None:
    assert seed.same_parent(a, b) is same
    assert seed.same_parent(b, a) is same


def test_same_parent_of_unknown_agency(seed: Directory) -> None:
    with pytest.raises(UnknownAgency):
        seed.same_parent("PEMKOT-KUPANG", "NOPE")


@pytest.mark.parametrize(
    ("region", "province", "government", "ombudsman"),
    [
        ("5371", "53", "PEMKOT-KUPANG", "OMBUDSMAN-53"),
        ("5303011001", "53", "PEMKAB-TTU", "OMBUDSMAN-53"),
        ("5305", "53", "PEMKAB-ALOR", "OMBUDSMAN-53"),
        ("53", "53", "PEMPROV-NTT", "OMBUDSMAN-53"),
        ("3572", "35", "PEMKOT-BLITAR", "OMBUDSMAN-35"),
        ("1703", "17", "PEMKAB-BENGKULU-UTARA", "OMBUDSMAN-17"),
        ("3171", "31", "PEMPROV-DKI", "OMBUDSMAN-31"),  # an administrative city: the province
        ("9501", "95", "PEMKAB-JAYAWIJAYA", "OMBUDSMAN"),  # no office in Papua Pegunungan yet
        (None, None, None, "OMBUDSMAN"),
    ],
)
def test_regions(
    seed: Directory,
    region: str | None,
    province: str | None,
    government: str | None,
    ombudsman: str,
) -> None:
    assert seed.province_of(region) == province
    gov = seed.government_for(region)
    assert (gov.code if gov else None) == government
    assert seed.ombudsman_office_for(region).code == ombudsman


def test_keywords_longest_first(seed: Directory) -> None:
    words = seed.keywords()
    assert [len(w) for w in words] == sorted((len(w) for w in words), reverse=True)
    assert {"KUPANG", "KOT KUPANG", "TIMOR TENGAH UTARA", "TTU", "BLITAR", "BENGKULU"} <= set(words)
    assert words.index("BENGKULU UTARA") < words.index("BENGKULU")


@pytest.mark.parametrize(
    ("keyword", "region", "agency"),
    [
        ("KUPANG", "5371", "PEMKOT-KUPANG"),
        ("kotkupang", "5371", "PEMKOT-KUPANG"),
        ("  timor   tengah utara ", "5303", "PEMKAB-TTU"),
        ("TTU", "5303", "PEMKAB-TTU"),
        ("Kab Kupang", "5301", "PEMKAB-KUPANG"),
        ("KABKUPANG", "5301", "PEMKAB-KUPANG"),
        ("BLITAR", "3572", "PEMKOT-BLITAR"),
        ("BENGKULU", "1771", "PEMKOT-BENGKULU"),  # a bare name is the city's
        ("PROV BENGKULU", "17", "PEMPROV-BENGKULU"),
        ("ALOR", "5305", "PEMKAB-ALOR"),
        ("BENGKULU UTARA", "1703", "PEMKAB-BENGKULU-UTARA"),
        ("NTT", "53", "PEMPROV-NTT"),
    ],
)
def test_keyword_lookup(seed: Directory, keyword: str, region: str, agency: str) -> None:
    assert seed.region_for_keyword(keyword) == region
    found = seed.institution_for_keyword(keyword)
    assert found is not None and found.code == agency


def test_unknown_keyword(seed: Directory) -> None:
    assert seed.region_for_keyword("ATLANTIS") is None
    assert seed.institution_for_keyword("KUPANGAN") is None


def test_normalize_keyword() -> None:
    assert normalize_keyword("  timor\t tengah\nutara ") == "TIMOR TENGAH UTARA"


def test_to_dict_round_trips(seed: Directory) -> None:
    again = Directory.from_dict(seed.to_dict())
    assert again.to_dict() == seed.to_dict()
    assert again.route("5371", "kesehatan") == seed.route("5371", "kesehatan")


def test_load_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "dir.json"
    path.write_text(json.dumps(small()), encoding="utf-8")
    assert Directory.load(path).route("5371", None).agency_code == "KOTA"
    assert Directory.load(str(path)).national_desk.code == "DESK"


def test_provinces_table() -> None:
    assert len(PROVINCES) == 38
    assert PROVINCES["53"] == "Nusa Tenggara Timur"
    assert PROVINCES["35"] == "Jawa Timur"
    assert PROVINCES["17"] == "Bengkulu"


@pytest.mark.parametrize("code", ["53", "5371", "537101", "5371011001"])
def test_check_region_code_accepts(code: str) -> None:
    assert check_region_code(code) == code


@pytest.mark.parametrize("code", ["5", "537", "53710", "53.71", "53 71", "", "5371a"])
def test_check_region_code_rejects(code: str) -> None:
    with pytest.raises(ValueError, match="2, 4, 6 or 10 digits"):
        check_region_code(code)


# --- validation ------------------------------------------------------------------------------


def mutate(change: Any) -> dict[str, Any]:
    raw = copy.deepcopy(small())
    change(raw)
    return raw


def by_code(raw: dict[str, Any], code: str) -> dict[str, Any]:
    return next(i for i in raw["institutions"] if i["code"] == code)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda r: by_code(r, "DINKES").update(parent="KOTAA"),
            "institutions[6] DINKES: unknown parent 'KOTAA'",
        ),
        (
            lambda r: by_code(r, "DINKES").update(code="dinkes"),
            "institutions[6].code (code dinkes)",
        ),
        (lambda r: by_code(r, "DINKES").update(code="DINKES--X"), "agency code must be"),
        (lambda r: by_code(r, "DINKES").update(code="DINKES.X"), "agency code must be"),
        (lambda r: by_code(r, "DINKES").update(code="A" * 65), "at most 64"),
        (lambda r: by_code(r, "DPU").update(code="DINKES"), "DINKES: duplicate agency code"),
        (lambda r: by_code(r, "KOTA").update(region_code="53.71"), "2, 4, 6 or 10 digits"),
        (lambda r: by_code(r, "KOTA").update(region_code=5371), "valid string"),
        (lambda r: by_code(r, "KOTA").update(region_code="5305"), "a city's code ends in 71-99"),
        (
            lambda r: by_code(r, "KOTA").update(level="regency"),
            "a regency's code ends in 01-70",
        ),
        (lambda r: by_code(r, "KOTA").update(region_code="3571"), "is not in parent PROV (53)"),
        (lambda r: by_code(r, "KOTA").update(parent=None), "a city needs its province as parent"),
        (lambda r: by_code(r, "PROV").update(region_code="5371"), "a province needs a 2-digit"),
        (lambda r: by_code(r, "PROV").update(region_code="99"), "Kemendagri province code"),
        (lambda r: by_code(r, "DESK").update(region_code="53"), "national institution has no"),
        (lambda r: by_code(r, "DINKES").update(region_code="5305"), "must be inside parent KOTA"),
        (lambda r: by_code(r, "DINKES").update(region_code=None), "an opd needs a region_code"),
        (lambda r: by_code(r, "DINKES").update(parent="DESK"), "an opd's parent must be"),
        (lambda r: by_code(r, "DINKES").update(level="ministry"), "institutions[6].level"),
        (lambda r: by_code(r, "DINKES").update(colour="red"), "Extra inputs are not permitted"),
        (lambda r: by_code(r, "PROV").update(level="city", region_code="5372"), "a city needs"),
        (
            lambda r: r["institutions"].append(inst("KOTA2", "city", "5371", "PROV")),
            "region 5371 already has a government (KOTA)",
        ),
        (lambda r: r.update(national_desk="NOPE"), "national_desk: unknown agency code 'NOPE'"),
        (lambda r: r.update(national_desk="KOTA"), "must be a national institution, not city"),
        (lambda r: r.update(ombudsman="DINKES"), "ombudsman: DINKES must be a national"),
        (lambda r: r.pop("national_desk"), "national_desk: Field required"),
        (lambda r: r.update(version=2), "version"),
        (
            lambda r: (
                by_code(r, "DINKES").update(parent="DPU", level="unit"),
                by_code(r, "DPU").update(parent="DINKES", level="unit"),
            ),
            "parent cycle: ",
        ),
        (lambda r: by_code(r, "DPU").update(parent="DPU"), "parent cycle: DPU -> DPU"),
        # keywords
        (
            lambda r: (
                by_code(r, "KOTA").update(sms_keywords=["KUPANG"]),
                by_code(r, "PROV").update(sms_keywords=["kupang"]),
            ),
            "KOTA: SMS keyword 'KUPANG' is already used by PROV",
        ),
        (lambda r: by_code(r, "KOTA").update(sms_keywords=["KOTA-KUPANG"]), "ASCII letters"),
        (lambda r: by_code(r, "KOTA").update(sms_keywords=["KUPANG É"]), "ASCII letters"),
        (lambda r: by_code(r, "KOTA").update(sms_keywords=["   "]), "ASCII letters"),
        # 60: the longest official name with its prefix (KABUPATEN KEPULAUAN SIAU TAGULANDANG BIARO)
        (lambda r: by_code(r, "KOTA").update(sms_keywords=["K" * 61]), "longer than 60"),
        (
            lambda r: (
                by_code(r, "KOTA").update(sms_keywords=["KOTAKUPANG"]),
                by_code(r, "PROV").update(sms_keywords=["KOTA KUPANG"]),
            ),
            "already used by PROV",  # spacing does not tell SMS keywords apart
        ),
        (lambda r: by_code(r, "KOTA").update(sms_keywords=["cek kupang"]), "reserved command"),
        (lambda r: by_code(r, "KOTA").update(sms_keywords=["BALAS"]), "reserved command"),
        (lambda r: by_code(r, "KOTA").update(sms_keywords=["POLL"]), "reserved command"),
        (lambda r: by_code(r, "KOTA").update(sms_keywords=["A", "a"]), "listed twice"),
        # categories and officers
        (lambda r: by_code(r, "DINKES").update(categories=["health"]), "unknown category 'health'"),
        (
            lambda r: by_code(r, "DINKES").update(liaison_officers=[{"name": "X", "email": "x"}]),
            "liaison_officers[0].email",
        ),
        (
            lambda r: by_code(r, "DINKES").update(liaison_officers=[{"name": ""}]),
            "liaison_officers[0].name",
        ),
        # rules
        (
            lambda r: r["routing_rules"].append(
                {"region_prefix": "5371", "category": None, "agency_code": "NOPE"}
            ),
            "routing_rules[0]: unknown agency code 'NOPE'",
        ),
        (
            lambda r: r["routing_rules"].append(
                {"region_prefix": "5371", "category": "health", "agency_code": "DINKES"}
            ),
            "routing_rules[0]: unknown category 'health'",
        ),
        (
            lambda r: r["routing_rules"].extend(
                [
                    {"region_prefix": "5371", "category": "kesehatan", "agency_code": "DINKES"},
                    {"region_prefix": "5371", "category": "kesehatan", "agency_code": "DPU"},
                ]
            ),
            "routing_rules[1]: same region_prefix and category as routing_rules[0]",
        ),
        (
            lambda r: r["routing_rules"].append(
                {"region_prefix": None, "category": None, "agency_code": "DESK"}
            ),
            "needs a region_prefix or a category",
        ),
        (
            lambda r: r["routing_rules"].append(
                {"region_prefix": "537", "category": None, "agency_code": "KOTA"}
            ),
            "routing_rules[0].region_prefix",
        ),
        (
            lambda r: r["routing_rules"].append(
                {"region_prefix": "99", "category": None, "agency_code": "DESK"}
            ),
            "region_prefix 99 is not in a province",
        ),
        (
            lambda r: r["routing_rules"].append(
                {"region_prefix": None, "category": "kesehatan", "agency_code": "DINKES"}
            ),
            "a rule for every region must go to a national institution",
        ),
        (
            lambda r: r["routing_rules"].append(
                {"region_prefix": "5305", "category": "kesehatan", "agency_code": "DINKES"}
            ),
            "DINKES (5371) is outside region 5305",
        ),
        (
            lambda r: r["routing_rules"].append(
                {"region_prefix": "5371", "agency_code": "DINKES", "priority": 1}
            ),
            "routing_rules[0].priority",
        ),
        # Ombudsman offices
        (
            lambda r: r["institutions"].extend(
                [inst("OMB-53", "unit", "53", "OMB"), inst("OMB-53B", "unit", "5371", "OMB")]
            ),
            "province 53 already has an Ombudsman office (OMB-53)",
        ),
    ],
)
def test_validation_errors(change: Any, expected: str) -> None:
    problems = problems_of(mutate(change))
    assert any(expected in p for p in problems), problems


def test_validation_reports_every_problem() -> None:
    def change(r: dict[str, Any]) -> None:
        by_code(r, "DINKES").update(parent="NOPE1")
        by_code(r, "DPU").update(parent="NOPE2")
        r["routing_rules"].append({"region_prefix": "5371", "category": None, "agency_code": "X"})

    problems = problems_of(mutate(change))
    assert len(problems) >= 3
    text = str(DirectoryError(problems, "f.json"))
    assert "in f.json" in text and "NOPE1" in text and "NOPE2" in text


def test_rules_may_target_national_institutions_or_their_own_region() -> None:
    rules: list[dict[str, Any]] = [
        {"region_prefix": "5371", "category": "kesehatan", "agency_code": "MINKES"},
        {"region_prefix": "537101", "category": None, "agency_code": "KOTA"},
        {"region_prefix": "53", "category": "kesehatan", "agency_code": "DINKES-PROV"},
    ]
    directory = Directory.from_dict(small(rules))
    assert directory.route("5371011001", "kesehatan").agency_code == "KOTA"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "(file)"),
        (b'{"national_desk": "X"}', "institutions: Field required"),
    ],
)
def test_load_reports_bad_files(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "dir.json"
    path.write_bytes(content)
    with pytest.raises(DirectoryError) as info:
        Directory.load(path)
    assert info.value.source == str(path)
    assert any(expected in p for p in info.value.problems), info.value.problems


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DirectoryError, match="cannot read file"):
        Directory.load(tmp_path / "missing.json")


def test_categories_can_be_supplied() -> None:
    raw = small([{"region_prefix": "5371", "category": "banjir", "agency_code": "DPU"}])
    with pytest.raises(DirectoryError, match="unknown category 'banjir'"):
        Directory.from_dict(raw)
    directory = Directory.from_dict(raw, categories=["banjir"])
    assert directory.route("5371", "banjir").agency_code == "DPU"


def test_from_json() -> None:
    assert Directory.from_json(json.dumps(small())).national_desk.code == "DESK"
    with pytest.raises(DirectoryError, match="not valid JSON"):
        Directory.from_json("{")


def test_seed_file_is_valid_after_a_round_trip_through_json(seed: Directory) -> None:
    assert seed_dict()["national_desk"] == "KEMENPANRB"
    Directory.from_json(json.dumps(seed.to_dict()))


# --- categories ------------------------------------------------------------------------------


def test_seed_categories() -> None:
    categories = load_categories()
    codes = [c.code for c in categories]
    assert 12 <= len(codes) == len(set(codes))
    for code in (
        "kesehatan",
        "pendidikan",
        "infrastruktur",
        "administrasi-kependudukan",
        "lingkungan-hidup",
        "ketertiban-umum",
        "pelayanan-publik-lainnya",
    ):
        assert code in codes
    health = next(c for c in categories if c.code == "kesehatan")
    assert (health.name, health.name_en) == ("Kesehatan", "Health")
    assert load_categories() is load_categories()


def test_seed_uses_only_known_categories(seed: Directory) -> None:
    codes = {c.code for c in load_categories()}
    for institution in seed:
        assert set(institution.categories) <= codes
    for rule in seed.rules:
        assert rule.category is None or rule.category in codes


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"categories": [{"code": "A B", "name": "x", "name_en": "x"}]}, "categories[0].code"),
        (
            {
                "categories": [
                    {"code": "a", "name": "x", "name_en": "x"},
                    {"code": "a", "name": "y", "name_en": "y"},
                ]
            },
            "duplicate category 'a'",
        ),
        ({"categories": []}, "categories"),
        ({"categories": [{"code": "a", "name": "x"}]}, "name_en"),
    ],
)
def test_bad_categories_file(tmp_path: Path, content: Any, expected: str) -> None:
    path = tmp_path / "categories.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(DirectoryError) as info:
        load_categories(path)
    assert any(expected in p for p in info.value.problems), info.value.problems
