"""The committed region list is the official one: counts, spot codes, both code forms."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from shared.regions import InvalidRegionCode, Regions, normalize_code, regions


def test_every_level_is_complete() -> None:
    every = regions()
    assert len(every.provinces()) == 38
    assert len(every.regencies()) == 514
    districts = [d for p in every.regencies() for d in every.children(p.code)]
    assert len(districts) == 7285
    assert sum(len(every.children(d.code)) for d in districts) == 83762


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("53", "Nusa Tenggara Timur"),
        ("5303", "Kabupaten Timor Tengah Utara"),  # BPS calls TTU 5305; Kemendagri 53.03
        ("5305", "Kabupaten Alor"),
        ("5371", "Kota Kupang"),
        ("3578", "Kota Surabaya"),
        ("3507", "Kabupaten Malang"),
        ("3573", "Kota Malang"),
        ("31", "Daerah Khusus Ibukota Jakarta"),
        ("1101011001", None),  # shape of a village code that does not exist
        ("1101012001", "Keude Bakongan"),
    ],
)
def test_spot_codes(code: str, name: str | None) -> None:
    found = regions().get(code)
    assert (found.name if found else None) == name


def test_kota_surabaya_has_its_31_districts() -> None:
    assert len(regions().children("3578")) == 31


def test_dotted_and_plain_codes_are_one_code() -> None:
    assert normalize_code("35.78.01") == "357801"
    assert normalize_code(" 3578 ") == "3578"
    assert regions().find("11.01.01.2001") == regions().get("1101012001")
    for bad in ("3", "357", "35.7", "35-78", "abcd", "35.78.01.20011"):
        with pytest.raises(InvalidRegionCode):
            normalize_code(bad)


def test_an_unknown_code_suggests_its_nearest_real_parent() -> None:
    nearest = regions().nearest_known("357899")
    assert nearest is not None and nearest.code == "3578"
    assert regions().label("5371") == "Kota Kupang, Nusa Tenggara Timur"


def test_lookups_are_fast_and_the_list_is_small_in_memory() -> None:
    tracemalloc.start()
    loaded = Regions.from_file()
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert size < 20_000_000, f"{size / 1e6:.1f} MB"
    started = time.perf_counter()
    for district in [d.code for d in loaded.children("3578")] * 20:
        loaded.children(district)
        loaded.get(district + "1001")
    per_lookup = (time.perf_counter() - started) / (31 * 20 * 2)
    assert per_lookup < 0.020
