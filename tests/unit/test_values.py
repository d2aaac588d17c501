"""Value objects: USCC (GB 32100-2015), regions (GB/T 2260), levels, actors, dates.  The USCC
at the edge of a ledger (the override for old codes) is in tests/integration/test_values_on_a_ledger.py."""

from __future__ import annotations

from datetime import date

import pytest

from domain.values import (
    Actor,
    Level,
    Region,
    add_months,
    add_years,
    make_uscc,
    region_covers,
    region_prefix,
    uscc_check_char,
    uscc_region,
    validate_uscc,
)
from tests.support.ledgers import uscc

# Real, published codes (Huawei Technologies Co., Ltd.; Shenzhen Tencent Computer Systems Co., Ltd.).
REAL_CODES = ["914403001922038216", "91440300708461136T", "91350100M000100Y43"]


# --------------------------------------------------------------------------- USCC
@pytest.mark.parametrize("code", REAL_CODES)
def test_check_character_of_real_codes(code: str) -> None:
    assert uscc_check_char(code[:17]) == code[17]
    assert validate_uscc(code) == code


@pytest.mark.parametrize("code", REAL_CODES)
def test_every_other_check_character_is_refused(code: str) -> None:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    for wrong in alphabet.replace(code[17], ""):
        with pytest.raises(ValueError, match="check character"):
            validate_uscc(code[:17] + wrong)


def test_a_single_changed_character_breaks_the_check() -> None:
    code = "914403001922038216"
    changed = code[:5] + ("4" if code[5] != "4" else "5") + code[6:]
    with pytest.raises(ValueError, match="check character"):
        validate_uscc(changed)


def test_bad_check_is_allowed_only_on_request() -> None:
    bad = "91350100M000100Y44"
    with pytest.raises(ValueError):
        validate_uscc(bad)
    assert validate_uscc(bad, allow_bad_check=True) == bad


@pytest.mark.parametrize("code, message", [
    ("91350100M000100Y4", "18 characters"),
    ("91350100M000100Y433", "18 characters"),
    ("91350100I000100Y43", "alphabet"),  # I is not used
    ("91350100O000100Y43", "alphabet"),  # nor O, S, V, Z
    ("91350100S000100Y43", "alphabet"),
    ("91350100V000100Y43", "alphabet"),
    ("91350100Z000100Y43", "alphabet"),
    ("91350100m000100Y43", "alphabet"),  # lower case
])
def test_malformed_codes_are_refused(code: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_uscc(code)
    with pytest.raises(ValueError, match=message):
        validate_uscc(code, allow_bad_check=True)  # the override never excuses a malformed code


def test_division_code_must_be_digits() -> None:
    code = make_uscc("91ABCDEFMA0000001")  # a correct check character around a non-numeric division
    with pytest.raises(ValueError, match="GB/T 2260"):
        validate_uscc(code)


def test_make_uscc_and_region() -> None:
    code = make_uscc("91211400MA0000001")
    assert len(code) == 18 and validate_uscc(code) == code
    assert uscc_region(code) == "211400"
    assert uscc_region(uscc(7, "370212")) == "370212"


def test_check_char_rejects_wrong_length_and_alphabet() -> None:
    with pytest.raises(ValueError, match="17 characters"):
        uscc_check_char("9135")
    with pytest.raises(ValueError, match="alphabet"):
        uscc_check_char("91350100M000100I4")


# --------------------------------------------------------------------------- regions
@pytest.mark.parametrize("code, level, city, province", [
    ("000000", "national", "000000", "000000"),
    ("210000", "provincial", "210000", "210000"),
    ("211400", "municipal", "211400", "210000"),
    ("211402", "county", "211400", "210000"),
    ("370212", "county", "370200", "370000"),
])
def test_region_hierarchy(code: str, level: str, city: str, province: str) -> None:
    r = Region(code)
    assert r.level == level
    assert r.city.code == city
    assert r.province.code == province


@pytest.mark.parametrize("outer, inner, covers", [
    ("000000", "211402", True),
    ("000000", "000000", True),
    ("210000", "211402", True),
    ("210000", "210000", True),
    ("211400", "211402", True),
    ("211400", "211400", True),
    ("211402", "211402", True),
    ("211402", "211403", False),  # a county does not cover its neighbour
    ("211402", "211400", False),  # nor its city
    ("211400", "210000", False),  # a city does not cover its province
    ("211400", "210200", False),  # Huludao does not cover Dalian
    ("210000", "370200", False),  # Liaoning does not cover Qingdao
    ("210000", "000000", False),  # a province does not cover the country
])
def test_region_covering(outer: str, inner: str, covers: bool) -> None:
    assert Region(outer).covers(Region(inner)) is covers
    assert region_covers(outer, inner) is covers


@pytest.mark.parametrize("code", ["21000", "2100000", "21000A", "001234", "", "  0000"])
def test_invalid_regions(code: str) -> None:
    with pytest.raises(ValueError):
        Region(code)


def test_region_prefix_selects_what_a_region_covers() -> None:
    assert region_prefix("000000") == ""
    assert region_prefix("210000") == "21"
    assert region_prefix("211400") == "2114"
    assert region_prefix("211402") == "211402"
    for inner in ("211402", "211400", "210200", "370212"):
        for outer in ("000000", "210000", "211400", "211402"):
            assert inner.startswith(region_prefix(outer)) == region_covers(outer, inner)


def test_region_equality_and_hash() -> None:
    assert Region("211402") == Region("211402")
    assert Region("211402") != Region("211400")
    assert len({Region("211402"), Region("211402"), Region("211400")}) == 2


def test_levels_rank_in_hierarchy_order() -> None:
    ordered = sorted(Level, key=lambda lv: lv.rank)
    assert ordered == [Level.county, Level.municipal, Level.provincial, Level.national]
    assert Level.national.label == "国家级"


def test_actor_level_follows_its_code() -> None:
    assert Actor(authority="000000", person="MIIT").level == "national"
    assert Actor(authority="210000", person="p").level == "provincial"
    assert Actor(authority="211400", person="p").level == "municipal"
    assert Actor(authority="211402", person="p").level == "county"
    with pytest.raises(ValueError, match="role"):
        Actor(authority="210000", person="p", role="minister")
    with pytest.raises(ValueError, match="province"):
        Actor(authority="001234", person="p")


def test_dates_add_whole_years_and_months() -> None:
    assert add_years(date(2023, 6, 8), 3) == date(2026, 6, 8)
    assert add_years(date(2024, 2, 29), 3) == date(2027, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert add_months(date(2023, 11, 30), 3) == date(2024, 2, 29)
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(date(2023, 10, 15), 3) == date(2024, 1, 15)
